using System.Text.Json.Serialization;

namespace ImageRetrieval.Host.Legacy;

/// <summary>What every old service answered on <c>GET /healthz</c>.</summary>
internal sealed record LegacyHealthResponse([property: JsonPropertyName("status")] string Status)
{
    public static LegacyHealthResponse Healthy { get; } = new("healthy");
}
