using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>
/// Sends one Qdrant REST call through the resilient named client and turns the outcome into a
/// result or one of our store exceptions: 408/429/5xx and transport faults (after retries) become
/// <see cref="StoreUnavailableException"/>, other 4xx <see cref="StoreRequestException"/>.
/// </summary>
internal sealed class QdrantApi(IHttpClientFactory httpClientFactory)
{
    public const string HttpClientName = "ImageRetrieval.Qdrant";
    public const string StoreName = "Qdrant";

    public static ByteArrayContent Json<T>(T body, JsonTypeInfo<T> typeInfo)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, typeInfo));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <returns>The parsed answer, or null when <paramref name="notFoundIsNull"/> and Qdrant answered 404.</returns>
    public async Task<QdrantResponse<T>?> SendAsync<T>(
        HttpMethod method,
        string pathAndQuery,
        HttpContent? content,
        JsonTypeInfo<QdrantResponse<T>> resultType,
        bool notFoundIsNull,
        CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery) { Content = content };
        var response = await StoreResilience.SendAsync(httpClientFactory.CreateClient(HttpClientName), StoreName, $"{method} {pathAndQuery}", request,
            HttpCompletionOption.ResponseContentRead, cancellationToken);
        using (response)
        {
            if (response.IsSuccessStatusCode)
            {
                var parsed = await StoreResilience.ReadJsonAsync(StoreName, $"{method} {pathAndQuery}", response, resultType, cancellationToken);
                return parsed ?? throw new StoreUnavailableException(StoreName, $"{method} {pathAndQuery} answered an empty body.");
            }

            if (response.StatusCode == HttpStatusCode.NotFound && notFoundIsNull)
            {
                return null;
            }

            throw await StoreResilience.FailureFromAsync(StoreName, $"{method} {pathAndQuery}", response, ErrorMessage, cancellationToken);
        }
    }

    /// <summary>Qdrant reports errors as <c>{"status": {"error": "..."}}</c>.</summary>
    private static string? ErrorMessage(JsonElement root) =>
        root.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.Object && status.TryGetProperty("error", out var error)
            ? error.ToString()
            : null;
}
