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

/// <summary>What every old service answered on <c>GET /healthz</c>.</summary>
internal sealed record LegacyHealthResponse([property: JsonPropertyName("status")] string Status)
{
    public static LegacyHealthResponse Healthy { get; } = new("healthy");
}

/// <summary>FastAPI's <c>HTTPException</c> body: <c>{"detail": "..."}</c>.</summary>
internal sealed record LegacyHttpError([property: JsonPropertyName("detail")] string Detail);

/// <summary>FastAPI's request validation error body (pydantic v2): <c>{"detail": [{"type", "loc", "msg", "input"}]}</c>.</summary>
internal sealed record LegacyHttpValidationError([property: JsonPropertyName("detail")] IReadOnlyList<LegacyValidationErrorItem> Detail)
{
    /// <summary>Exactly what FastAPI answers when a required <c>UploadFile</c> form field is absent.</summary>
    public static LegacyHttpValidationError MissingField(string field) =>
        new([new LegacyValidationErrorItem("missing", ["body", field], "Field required", null)]);
}

internal sealed record LegacyValidationErrorItem(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("loc")] IReadOnlyList<string> Loc,
    [property: JsonPropertyName("msg")] string Msg,
    // FastAPI sets "input" to null for a missing field and still writes it.
    [property: JsonPropertyName("input"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] object? Input);
