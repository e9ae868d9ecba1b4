using System.Text.Json.Serialization;

namespace ImageRetrieval.Host.Legacy;

/// <summary>One entry of FastAPI's validation error list.</summary>
internal sealed record LegacyValidationErrorItem(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("loc")] IReadOnlyList<string> Loc,
    [property: JsonPropertyName("msg")] string Msg,
    // FastAPI sets "input" to null for a missing field and still writes it.
    [property: JsonPropertyName("input"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] object? Input);
