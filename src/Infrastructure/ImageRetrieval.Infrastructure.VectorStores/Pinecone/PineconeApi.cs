using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Pinecone;

/// <summary>
/// Sends one Pinecone call (control or data plane, absolute URLs) through the resilient named client
/// and maps failures: 408/429/5xx and transport faults after retries become
/// <see cref="StoreUnavailableException"/>, other 4xx <see cref="StoreRequestException"/>.
/// </summary>
internal sealed class PineconeApi(IHttpClientFactory httpClientFactory)
{
    public const string HttpClientName = "ImageRetrieval.Pinecone";
    public const string StoreName = "Pinecone";

    public static ByteArrayContent Json<T>(T body, JsonTypeInfo<T> typeInfo) => Json(JsonSerializer.SerializeToUtf8Bytes(body, typeInfo));

    public static ByteArrayContent Json(byte[] utf8)
    {
        var content = new ByteArrayContent(utf8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <returns>The parsed body (default for an empty one), or default when <paramref name="notFoundIsDefault"/> and Pinecone answered 404.</returns>
    public async Task<T?> SendAsync<T>(HttpMethod method, Uri url, HttpContent? content, JsonTypeInfo<T>? resultType, bool notFoundIsDefault, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, url) { Content = content };
        var response = await StoreResilience.SendAsync(httpClientFactory.CreateClient(HttpClientName), StoreName, $"{method} {url.AbsolutePath}", request,
            HttpCompletionOption.ResponseContentRead, cancellationToken);
        using (response)
        {
            if (response.IsSuccessStatusCode)
            {
                if (resultType is null || response.Content.Headers.ContentLength == 0)
                {
                    return default;
                }

                return await StoreResilience.ReadJsonAsync(StoreName, $"{method} {url.AbsolutePath}", response, resultType, cancellationToken);
            }

            if (response.StatusCode == HttpStatusCode.NotFound && notFoundIsDefault)
            {
                return default;
            }

            throw await StoreResilience.FailureFromAsync(StoreName, $"{method} {url.AbsolutePath}", response, ErrorMessage, cancellationToken);
        }
    }

    /// <summary>
    /// The control plane answers <c>{"error": {"code", "message"}, "status"}</c>, the data plane
    /// <c>{"code", "message", "details"}</c>.
    /// </summary>
    private static string? ErrorMessage(JsonElement root)
    {
        if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message))
        {
            return error.TryGetProperty("code", out var code) ? $"{code}: {message}" : message.ToString();
        }

        return root.TryGetProperty("message", out var plain) ? plain.ToString() : null;
    }
}
