using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ImageRetrieval.Host.Cli;

/// <summary>
/// <c>ingest DIR --server URL</c>: each file goes to a running service as <c>POST /api/v1/images</c>, the
/// same call any client makes, so bulk loading works while the service owns the data directory. A 429 or
/// 503 (queue full, store briefly away) is retried after its <c>Retry-After</c>, a few times.
/// </summary>
internal sealed class ServerIngestClient(HttpClient http)
{
    private const int MaxAttempts = 6;
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    public async Task<IngestOutcome> SendAsync(ImageUpload upload, IReadOnlyDictionary<string, JsonElement>? metadata, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var form = new MultipartFormDataContent();
            var file = new ReadOnlyMemoryContent(upload.Content);
            file.Headers.ContentType = new MediaTypeHeaderValue(ImageFileTypes.ContentTypeOf(upload.FileName));
            form.Add(file, "files", Path.GetFileName(upload.FileName));
            if (metadata is not null)
            {
                form.Add(new StringContent(JsonSerializer.Serialize(metadata)), "metadata");
            }

            HttpResponseMessage response;
            try
            {
                response = await http.PostAsync(new Uri("api/v1/images", UriKind.Relative), form, cancellationToken);
            }
            catch (HttpRequestException ex)
            {
                if (attempt < MaxAttempts)
                {
                    await Task.Delay(Backoff(attempt), cancellationToken);
                    continue;
                }

                return IngestOutcome.Failed($"{http.BaseAddress} did not answer: {ex.Message}");
            }

            using (response)
            {
                if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable && attempt < MaxAttempts)
                {
                    await Task.Delay(RetryAfter(response) ?? Backoff(attempt), cancellationToken);
                    continue;
                }

                var body = await ReadJsonAsync(response, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    var detail = body?["detail"]?.GetValue<string>() ?? body?["title"]?.GetValue<string>() ?? response.ReasonPhrase;
                    return IngestOutcome.Failed($"{(int)response.StatusCode} {detail}");
                }

                var item = body?["items"]?[0];
                if (item?["error"] is JsonObject error)
                {
                    return IngestOutcome.Failed(error["detail"]?.GetValue<string>() ?? error.ToJsonString());
                }

                return item?["created"]?.GetValue<bool>() == true ? IngestOutcome.Created : IngestOutcome.Existing;
            }
        }
    }

    private static async Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } retry)
        {
            return null;
        }

        var delay = retry.Delta ?? (retry.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return delay is { } d ? TimeSpan.FromTicks(Math.Clamp(d.Ticks, TimeSpan.FromMilliseconds(100).Ticks, MaxRetryDelay.Ticks)) : null;
    }

    private static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(Math.Min(250 * Math.Pow(2, attempt - 1), MaxRetryDelay.TotalMilliseconds));
}
