using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.BlobStores.Gcs;

/// <summary>
/// <see cref="IBlobStore"/> over the Cloud Storage JSON API: object name = <see cref="GcsOptions.Prefix"/> + key.
/// Uploads are single requests (<c>uploadType=media</c>, images are a few MB) with
/// <c>ifGenerationMatch=0</c>: a content-addressed object that exists is never rewritten, and the 412
/// that answers such a put (or a retry of one that landed) counts as success. Reads stream.
/// <see cref="DescribeLocation"/> returns the object name (what the Python service called
/// <c>gcs_path</c>, e.g. <c>images/&lt;id&gt;.jpg</c>), not a <c>gs://</c> URL.
/// </summary>
internal sealed partial class GcsBlobStore(
    IHttpClientFactory httpClientFactory,
    IGcsCredential credential,
    IOptions<GcsOptions> gcsOptions,
    TimeProvider timeProvider,
    ILogger<GcsBlobStore> logger) : IBlobStore, IDisposable
{
    public const string HttpClientName = "ImageRetrieval.Gcs";
    public const string StoreName = "Gcs";

    private readonly GcsOptions _options = gcsOptions.Value;
    private readonly Uri _endpoint = new(gcsOptions.Value.Endpoint.TrimEnd('/') + "/");

    // Listing a page of records signs a URL per record; with Workload Identity every signature is an IAM
    // signBlob call. A URL is reused for half its lifetime, and a refused signer is not asked again for a while.
    private readonly MemoryCache _signed = new(new MemoryCacheOptions { SizeLimit = 50_000 });
    private static readonly TimeSpan SigningRetryAfterFailure = TimeSpan.FromMinutes(5);
    private DateTimeOffset _signingRefusedUntil = DateTimeOffset.MinValue;

    public string ProviderName => nameof(BlobStoreProvider.Gcs);

    private string BucketPath => $"storage/v1/b/{Uri.EscapeDataString(_options.Bucket)}/o";

    public async Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken)
    {
        var name = ObjectName(key);
        var url = new Uri(_endpoint, $"upload/{BucketPath}?uploadType=media&name={Uri.EscapeDataString(name)}&ifGenerationMatch=0");
        using var body = new ReadOnlyMemoryContent(content);
        body.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await SendAsync(HttpMethod.Post, url, body, HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.PreconditionFailed)
        {
            return; // already there: same key, same bytes
        }

        await EnsureSuccessAsync(response, url, cancellationToken);
    }

    public async Task<BlobContent?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        var url = ObjectUrl(key, "alt=media");
        var response = await SendAsync(HttpMethod.Get, url, null, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        try
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                response.Dispose();
                return null;
            }

            await EnsureSuccessAsync(response, url, cancellationToken);
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var type = response.Content.Headers.ContentType?.ToString() ?? "application/octet-stream";
            return new BlobContent(new ResponseStream(stream, response), type, response.Content.Headers.ContentLength);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken)
    {
        var url = ObjectUrl(key, "fields=name");
        using var response = await SendAsync(HttpMethod.Get, url, null, HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(response, url, cancellationToken);
        return true;
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var url = ObjectUrl(key, null);
        using var response = await SendAsync(HttpMethod.Delete, url, null, HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            await EnsureSuccessAsync(response, url, cancellationToken);
        }
    }

    public async IAsyncEnumerable<string> ListKeysAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        string? pageToken = null;
        do
        {
            var query = $"prefix={Uri.EscapeDataString(_options.Prefix + prefix)}&fields={Uri.EscapeDataString("items(name),nextPageToken")}";
            if (pageToken is not null)
            {
                query += "&pageToken=" + Uri.EscapeDataString(pageToken);
            }

            var url = new Uri(_endpoint, $"{BucketPath}?{query}");
            using var response = await SendAsync(HttpMethod.Get, url, null, HttpCompletionOption.ResponseContentRead, cancellationToken);
            await EnsureSuccessAsync(response, url, cancellationToken);
            var page = await StoreResilience.ReadJsonAsync(StoreName, url.AbsolutePath, response, GcsJsonContext.Default.GcsObjectList, cancellationToken);
            foreach (var item in page?.Items ?? [])
            {
                yield return item.Name[_options.Prefix.Length..];
            }

            pageToken = page?.NextPageToken is { Length: > 0 } next ? next : null;
        }
        while (pageToken is not null);
    }

    public async Task<Uri?> TryGetSignedUrlAsync(string key, CancellationToken cancellationToken)
    {
        var name = ObjectName(key);
        var now = timeProvider.GetUtcNow();
        if (_signed.TryGetValue(name, out Uri? cached) || now < _signingRefusedUntil)
        {
            return cached;
        }

        var account = await credential.GetSigningAccountAsync(cancellationToken);
        if (account is null)
        {
            return null;
        }

        try
        {
            var signed = await GcsV4Signer.SignAsync(_endpoint, _options.Bucket, name, "GET", now, _options.SignedUrlLifetime,
                account, credential.SignAsync, cancellationToken);
            _signed.Set(name, signed.Url, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = _options.SignedUrlLifetime / 2 });
            return signed.Url;
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or System.Security.Cryptography.CryptographicException or FormatException)
        {
            // IAM signBlob refused (no Token Creator role) or the key cannot sign: serve through the service.
            _signingRefusedUntil = now + SigningRetryAfterFailure;
            LogSigningFailed(logger, account, ex.Message);
            return null;
        }
    }

    public void Dispose() => _signed.Dispose();

    public string DescribeLocation(string key) => ObjectName(key);

    public async Task CheckReachableAsync(CancellationToken cancellationToken)
    {
        // Listing one object needs only storage.objects.list, which the service's role has anyway.
        var url = new Uri(_endpoint, $"{BucketPath}?maxResults=1&prefix={Uri.EscapeDataString(_options.Prefix)}&fields={Uri.EscapeDataString("items(name)")}");
        using var response = await SendAsync(HttpMethod.Get, url, null, HttpCompletionOption.ResponseContentRead, cancellationToken);
        await EnsureSuccessAsync(response, url, cancellationToken);
    }

    internal string ObjectName(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key.StartsWith('/') || key.Contains('\r', StringComparison.Ordinal) || key.Contains('\n', StringComparison.Ordinal)
            || key.Split('/').Any(segment => segment is "." or ".."))
        {
            throw new ArgumentException($"'{key}' is not a valid blob key.", nameof(key));
        }

        return _options.Prefix + key;
    }

    private Uri ObjectUrl(string key, string? query) =>
        // The JSON API wants the whole object name as one path segment: '/' encoded as %2F.
        new(_endpoint, $"{BucketPath}/{Uri.EscapeDataString(ObjectName(key))}{(query is null ? "" : "?" + query)}");

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, HttpContent? content, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, url) { Content = content };
        return await StoreResilience.SendAsync(httpClientFactory.CreateClient(HttpClientName), StoreName, $"{method} {url.AbsolutePath}", request, completion, cancellationToken);
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, Uri url, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await StoreResilience.FailureFromAsync(StoreName, url.AbsolutePath, response, ErrorMessage, cancellationToken);
        }
    }

    /// <summary>GCS errors are <c>{"error": {"code", "message", "errors": [...]}}</c>.</summary>
    private static string? ErrorMessage(JsonElement root) =>
        root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message)
            ? message.ToString()
            : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not sign a GCS URL as {Account} ({Error}); the link goes through the service instead")]
    private static partial void LogSigningFailed(ILogger logger, string account, string error);

    /// <summary>The download stream; disposing it also releases the HTTP response (and its connection).</summary>
    private sealed class ResponseStream(Stream inner, HttpResponseMessage response) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            response.Dispose();
            await base.DisposeAsync();
        }
    }
}

internal sealed class GcsObjectList
{
    public List<GcsObject>? Items { get; set; }

    public string? NextPageToken { get; set; }
}

internal sealed class GcsObject
{
    public string Name { get; set; } = "";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(GcsObjectList))]
internal sealed partial class GcsJsonContext : JsonSerializerContext;
