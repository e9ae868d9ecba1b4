using System.Text.Json.Serialization;

namespace ImageRetrieval.Host.Legacy;

/// <summary>The old ingesting service's answer to <c>POST /push_image</c>.</summary>
internal sealed record LegacyPushImageResponse(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("file_id")] string FileId,
    [property: JsonPropertyName("gcs_path")] string GcsPath,
    [property: JsonPropertyName("signed_url")] string SignedUrl)
{
    public const string Success = "Successfully!";
}
