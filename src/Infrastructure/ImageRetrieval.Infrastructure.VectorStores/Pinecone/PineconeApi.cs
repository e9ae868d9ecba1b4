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
        var http = httpClientFactory.CreateClient(HttpClientName);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (Exception ex) when (StoreResilience.IsTransportFailure(ex, cancellationToken))
        {
            throw new StoreUnavailableException(StoreName, $"{method} {url.AbsolutePath} failed: {ex.Message}", ex);
        }

        using (response)
        {
            if (response.IsSuccessStatusCode)
            {
                if (resultType is null || response.Content.Headers.ContentLength == 0)
                {
                    return default;
                }

                return await response.Content.ReadFromJsonAsync(resultType, cancellationToken);
            }

            if (response.StatusCode == HttpStatusCode.NotFound && notFoundIsDefault)
            {
                return default;
            }

            var detail = await ReadErrorAsync(response, cancellationToken);
            throw StoreResilience.FailureFor(StoreName, $"{method} {url.AbsolutePath}", response.StatusCode, detail);
        }
    }

    /// <summary>
    /// The control plane answers <c>{"error": {"code", "message"}, "status"}</c>, the data plane
    /// <c>{"code", "message", "details"}</c>; fall back to the raw body.
    /// </summary>
    private static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m1))
                {
                    return error.TryGetProperty("code", out var code) ? $"{code}: {m1}" : m1.ToString();
                }

                if (root.TryGetProperty("message", out var m2))
                {
                    return m2.ToString();
                }
            }
        }
        catch (JsonException)
        {
            // Plain text ("Unauthorized") or a proxy's page: the raw text is the detail.
        }

        return body.Length > 500 ? body[..500] : body;
    }
}
