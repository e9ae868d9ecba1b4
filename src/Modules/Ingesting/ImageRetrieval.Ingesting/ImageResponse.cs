using System.Text.Json;
using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Ingesting;

/// <summary>An image as the HTTP API shows it (ingest, list and get answer with it).</summary>
internal sealed record ImageResponse(
    string Id,
    string Sha256,
    string ContentType,
    int Width,
    int Height,
    long SizeBytes,
    string Url,
    IReadOnlyDictionary<string, JsonElement> Metadata,
    DateTimeOffset CreatedAt)
{
    public static ImageResponse From(ImageRecord record, HttpContext context, string? publicBaseUrl) =>
        new(record.Id, record.Sha256, record.ContentType, record.Width, record.Height, record.SizeBytes,
            ImageLinks.For(context, record.Id, record.SignedUrl, publicBaseUrl), record.Metadata, record.CreatedAt);
}
