using System.Text.Json.Serialization;

namespace ImageRetrieval.Host.Legacy;

/// <summary>FastAPI's <c>HTTPException</c> body: <c>{"detail": "..."}</c>.</summary>
internal sealed record LegacyHttpError([property: JsonPropertyName("detail")] string Detail);
