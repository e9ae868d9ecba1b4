using System.Text.Json.Serialization;

namespace ImageRetrieval.Host.Legacy;

/// <summary>FastAPI's request validation error body (pydantic v2): <c>{"detail": [{"type", "loc", "msg", "input"}]}</c>.</summary>
internal sealed record LegacyHttpValidationError([property: JsonPropertyName("detail")] IReadOnlyList<LegacyValidationErrorItem> Detail)
{
    /// <summary>Exactly what FastAPI answers when a required <c>UploadFile</c> form field is absent.</summary>
    public static LegacyHttpValidationError MissingField(string field) =>
        new([new LegacyValidationErrorItem("missing", ["body", field], "Field required", null)]);
}
