using System.Net;
using System.Runtime.CompilerServices;
using Google.Cloud.Storage.V1;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.BlobStores.Gcs;

/// <summary>
/// <see cref="IBlobStore"/> over the official <see cref="StorageClient"/> (Cloud Storage JSON API): object name =
/// <see cref="GcsOptions.Prefix"/> + key. Uploads carry <c>ifGenerationMatch=0</c>: a content-addressed object
/// that exists is never rewritten, and the 412 that answers such a put (or a retry of one that landed) counts
/// as success. Reads are buffered (the client downloads into a stream it is given; images are at most
/// <c>Limits:MaxFileBytes</c>). <see cref="DescribeLocation"/> returns the object name (what the Python service
/// called <c>gcs_path</c>, e.g. <c>images/&lt;id&gt;.jpg</c>), not a <c>gs://</c> URL.
/// </summary>
internal sealed partial class GcsBlobStore(
    GcsConnection connection,
    IOptions<GcsOptions> gcsOptions,
    TimeProvider timeProvider,
    ILogger<GcsBlobStore> logger) : IBlobStore, IDisposable
{
    public const string StoreName = GcsErrors.StoreName;

    private readonly GcsOptions _options = gcsOptions.Value;
    private readonly Uri _endpoint = new(gcsOptions.Value.Endpoint.TrimEnd('/') + "/");

    // Listing a page of records signs a URL per record; with Workload Identity every signature is an IAM
    // signBlob call. A URL is reused for half its lifetime, and a refused signer is not asked again for a while.
    private readonly MemoryCache _signed = new(new MemoryCacheOptions { SizeLimit = 50_000 });
    private static readonly TimeSpan SigningRetryAfterFailure = TimeSpan.FromMinutes(5);
    private DateTimeOffset _signingRefusedUntil = DateTimeOffset.MinValue;

    /// <summary>
    /// Longest glob one listing carries (at least 70 content-addressed keys, so a search's top-k takes one or two).
    /// Past 2048 URL characters the client already sends a list as a POST with <c>X-HTTP-Method-Override: GET</c>
    /// and its parameters in the body; the bound keeps each request a few KB however many keys are asked.
    /// </summary>
    internal const int MaxGlobLength = 6000;

    // What matchGlob gives a meaning to ('{', ',' and '}' for alternatives, '*', '?', '[...]', '\').
    private static readonly System.Buffers.SearchValues<char> GlobMetacharacters = System.Buffers.SearchValues.Create("*?[]{},\\");

    public string ProviderName => nameof(BlobStoreProvider.Gcs);

    public async Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken)
    {
        var name = ObjectName(key);
        var client = await connection.ClientAsync(cancellationToken);
        using var source = new MemoryStream(content.ToArray(), writable: false);
        try
        {
            await client.UploadObjectAsync(_options.Bucket, name, contentType, source, new UploadObjectOptions { IfGenerationMatch = 0 }, cancellationToken);
        }
        catch (Exception ex) when (GcsErrors.IsStatus(ex, HttpStatusCode.PreconditionFailed))
        {
            // already there: same key, same bytes
        }
        catch (Exception ex) when (GcsErrors.Map("upload " + name, ex, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    public async Task<BlobContent?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        var name = ObjectName(key);
        var client = await connection.ClientAsync(cancellationToken);
        var buffer = new MemoryStream();
        try
        {
            var stored = await client.DownloadObjectAsync(_options.Bucket, name, buffer, new DownloadObjectOptions(), cancellationToken);
            buffer.Position = 0;
            return new BlobContent(buffer, stored?.ContentType ?? "application/octet-stream", buffer.Length);
        }
        catch (Exception ex) when (GcsErrors.IsStatus(ex, HttpStatusCode.NotFound))
        {
            await buffer.DisposeAsync();
            return null;
        }
        catch (Exception ex) when (GcsErrors.Map("download " + name, ex, cancellationToken) is { } mapped)
        {
            await buffer.DisposeAsync();
            throw mapped;
        }
    }

    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken)
    {
        var name = ObjectName(key);
        var client = await connection.ClientAsync(cancellationToken);
        try
        {
            await client.GetObjectAsync(_options.Bucket, name, new GetObjectOptions { Projection = Projection.NoAcl, RetryOptions = RetryOptions.Never }, cancellationToken);
            return true;
        }
        catch (Exception ex) when (GcsErrors.IsStatus(ex, HttpStatusCode.NotFound))
        {
            return false;
        }
        catch (Exception ex) when (GcsErrors.Map("get " + name, ex, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>
    /// One listing per folder of keys instead of a GET per key: the object names under the keys' longest
    /// common prefix that match the glob <c>prefix{a,b,c}</c> (<c>matchGlob</c>), names only. A long list is
    /// split so no request URL grows past a few KB; a key with a glob metacharacter in it (or naming a
    /// folder) cannot be spelt as an alternative and is asked for alone.
    /// </summary>
    public async Task<IReadOnlySet<string>> FindMissingAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var keyOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            keyOf.TryAdd(ObjectName(key), key);
        }

        var missing = new HashSet<string>(StringComparer.Ordinal);
        if (keyOf.Count == 0)
        {
            return missing;
        }

        var client = await connection.ClientAsync(cancellationToken);
        var literal = keyOf.Keys.Where(n => n.AsSpan().IndexOfAny(GlobMetacharacters) >= 0 || n.EndsWith('/')).ToList();
        var lookups = new List<Task<IReadOnlyList<string>>>();
        lookups.AddRange(GlobGroups(keyOf.Keys.Except(literal, StringComparer.Ordinal)).Select(group => ListPresentAsync(client, group, cancellationToken)));
        lookups.AddRange(literal.Select(name => PresentAloneAsync(keyOf[name], name, cancellationToken)));
        var present = (await Task.WhenAll(lookups)).SelectMany(names => names).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, key) in keyOf)
        {
            if (!present.Contains(name))
            {
                missing.Add(key);
            }
        }

        return missing;
    }

    private async Task<IReadOnlyList<string>> PresentAloneAsync(string key, string name, CancellationToken cancellationToken) =>
        await ExistsAsync(key, cancellationToken) ? [name] : [];

    /// <summary>The names of <paramref name="group"/> that exist, from one listing (more pages only if the bucket pages small).</summary>
    private async Task<IReadOnlyList<string>> ListPresentAsync(StorageClient client, GlobGroup group, CancellationToken cancellationToken)
    {
        var options = new ListObjectsOptions { MatchGlob = group.Glob, Fields = "items(name),nextPageToken", RetryOptions = RetryOptions.Never };
        var found = new List<string>();
        try
        {
            await foreach (var page in client.ListObjectsAsync(_options.Bucket, group.Prefix, options).AsRawResponses().WithCancellation(cancellationToken))
            {
                found.AddRange((page.Items ?? []).Select(item => item.Name));
            }
        }
        catch (Exception ex) when (GcsErrors.Map($"list {group.Count} names under {group.Prefix}", ex, cancellationToken) is { } mapped)
        {
            throw mapped;
        }

        return found;
    }

    /// <summary>
    /// Names grouped by folder (a glob alternative never holds a '/'), each group's glob at most
    /// <see cref="MaxGlobLength"/> characters: <c>prefix{suffix1,suffix2}</c>, or the name itself when alone.
    /// </summary>
    internal static IEnumerable<GlobGroup> GlobGroups(IEnumerable<string> names)
    {
        foreach (var folder in names.GroupBy(n => n[..(n.LastIndexOf('/') + 1)], StringComparer.Ordinal))
        {
            var chunk = new List<string>();
            var length = 0;
            foreach (var name in folder.Order(StringComparer.Ordinal))
            {
                if (chunk.Count > 0 && length + name.Length + 1 > MaxGlobLength)
                {
                    yield return GlobGroup.Of(chunk);
                    chunk = [];
                    length = 0;
                }

                chunk.Add(name);
                length += name.Length + 1;
            }

            yield return GlobGroup.Of(chunk);
        }
    }

    /// <summary>One listing: the <c>prefix</c> parameter narrows what the server scans, the glob picks the exact names.</summary>
    internal sealed record GlobGroup(string Prefix, string Glob, int Count)
    {
        public static GlobGroup Of(List<string> sortedNames)
        {
            if (sortedNames.Count == 1)
            {
                return new GlobGroup(sortedNames[0], sortedNames[0], 1);
            }

            // The longest common prefix of sorted names is that of the first and the last; one character
            // shorter than the shortest name, so no alternative is empty.
            var first = sortedNames[0];
            var last = sortedNames[^1];
            var common = 0;
            var limit = Math.Min(sortedNames.Min(n => n.Length) - 1, Math.Min(first.Length, last.Length));
            while (common < limit && first[common] == last[common])
            {
                common++;
            }

            var prefix = first[..common];
            return new GlobGroup(prefix, prefix + "{" + string.Join(',', sortedNames.Select(n => n[common..])) + "}", sortedNames.Count);
        }
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var name = ObjectName(key);
        var client = await connection.ClientAsync(cancellationToken);
        try
        {
            await client.DeleteObjectAsync(_options.Bucket, name, new DeleteObjectOptions { RetryOptions = RetryOptions.Never }, cancellationToken);
        }
        catch (Exception ex) when (GcsErrors.IsStatus(ex, HttpStatusCode.NotFound))
        {
            // deleting a missing key is not an error
        }
        catch (Exception ex) when (GcsErrors.Map("delete " + name, ex, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    public async IAsyncEnumerable<string> ListKeysAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var client = await connection.ClientAsync(cancellationToken);
        var options = new ListObjectsOptions { Fields = "items(name),nextPageToken", RetryOptions = RetryOptions.Never };
        await using var pages = client.ListObjectsAsync(_options.Bucket, _options.Prefix + prefix, options).AsRawResponses().GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            Google.Apis.Storage.v1.Data.Objects page;
            try
            {
                if (!await pages.MoveNextAsync())
                {
                    yield break;
                }

                page = pages.Current;
            }
            catch (Exception ex) when (GcsErrors.Map("list " + _options.Prefix + prefix, ex, cancellationToken) is { } mapped)
            {
                throw mapped;
            }

            foreach (var item in page.Items ?? [])
            {
                yield return item.Name[_options.Prefix.Length..];
            }
        }
    }

    public async Task<Uri?> TryGetSignedUrlAsync(string key, CancellationToken cancellationToken)
    {
        var name = ObjectName(key);
        var now = timeProvider.GetUtcNow();
        if (_signed.TryGetValue(name, out Uri? cached) || now < _signingRefusedUntil)
        {
            return cached;
        }

        var signer = await connection.SignerAsync(cancellationToken);
        if (signer is null)
        {
            return null;
        }

        try
        {
            var template = UrlSigner.RequestTemplate.FromBucket(_options.Bucket).WithObjectName(name).WithHttpMethod(HttpMethod.Get);
            var options = UrlSigner.Options.FromDuration(_options.SignedUrlLifetime)
                .WithSigningVersion(SigningVersion.V4)
                .WithScheme(_endpoint.Scheme)
                .WithHost(_endpoint.Host)
                .WithPort(_endpoint.IsDefaultPort ? null : _endpoint.Port);
            var signed = new Uri(await signer.SignAsync(template, options, cancellationToken));
            _signed.Set(name, signed, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = _options.SignedUrlLifetime / 2 });
            return signed;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // IAM signBlob refused (no Token Creator role), the metadata server did not answer, or the key
            // cannot sign: serve through the service, and do not ask again for a while.
            _signingRefusedUntil = now + SigningRetryAfterFailure;
            LogSigningFailed(logger, ex.GetType().Name, ex.Message);
            return null;
        }
    }

    public void Dispose() => _signed.Dispose();

    public string DescribeLocation(string key) => ObjectName(key);

    public async Task CheckReachableAsync(CancellationToken cancellationToken)
    {
        // Listing one object needs only storage.objects.list, which the service's role has anyway.
        var client = await connection.ClientAsync(cancellationToken);
        try
        {
            await client.ListObjectsAsync(_options.Bucket, _options.Prefix, new ListObjectsOptions { PageSize = 1, Fields = "items(name)", RetryOptions = RetryOptions.Never })
                .ReadPageAsync(1, cancellationToken);
        }
        catch (Exception ex) when (GcsErrors.Map("list " + _options.Prefix, ex, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not sign a GCS URL ({ErrorType}: {Error}); the link goes through the service instead")]
    private static partial void LogSigningFailed(ILogger logger, string errorType, string error);
}
