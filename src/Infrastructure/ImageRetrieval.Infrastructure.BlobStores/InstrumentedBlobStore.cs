using System.Runtime.CompilerServices;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.BlobStores;

/// <summary>
/// Wraps whichever blob store the configuration chose with a span per call and the store metrics.
/// It does not dispose the inner store: the container owns (and disposes) the provider's keyed singleton.
/// </summary>
internal sealed class InstrumentedBlobStore(IBlobStore inner, StoreTelemetry telemetry) : IBlobStore
{
    public IBlobStore Inner => inner;

    public string ProviderName => inner.ProviderName;

    public Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken) =>
        Measure("put", async () =>
        {
            await inner.PutAsync(key, content, contentType, cancellationToken);
            return true;
        }, content.Length);

    /// <summary>Measures opening the stream (time to first byte), not the caller's read of it.</summary>
    public Task<BlobContent?> OpenReadAsync(string key, CancellationToken cancellationToken) =>
        Measure("get", () => inner.OpenReadAsync(key, cancellationToken));

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken) =>
        Measure("exists", () => inner.ExistsAsync(key, cancellationToken));

    /// <summary>Forwarded, so a store's own batch answer is used (the default would ask per key through this decorator).</summary>
    public Task<IReadOnlySet<string>> FindMissingAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken) =>
        Measure("find_missing", () => inner.FindMissingAsync(keys, cancellationToken), keys.Count, "keys.count");

    public Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        Measure("delete", async () =>
        {
            await inner.DeleteAsync(key, cancellationToken);
            return true;
        });

    /// <summary>One measurement for the whole enumeration, from the first request to the last key.</summary>
    public async IAsyncEnumerable<string> ListKeysAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var measured = telemetry.Start("blob", inner.ProviderName, "list");
        var count = 0;
        var enumerator = inner.ListKeysAsync(prefix, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                string key;
                try
                {
                    if (!await enumerator.MoveNextAsync())
                    {
                        break;
                    }

                    key = enumerator.Current;
                }
                catch (Exception ex)
                {
                    measured.Failed(ex);
                    throw;
                }

                count++;
                yield return key;
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
            measured.Activity?.SetTag("keys.count", count);
        }
    }

    public Task<Uri?> TryGetSignedUrlAsync(string key, CancellationToken cancellationToken) =>
        Measure("sign", () => inner.TryGetSignedUrlAsync(key, cancellationToken));

    public string DescribeLocation(string key) => inner.DescribeLocation(key);

    public Task CheckReachableAsync(CancellationToken cancellationToken) =>
        Measure("check", async () =>
        {
            await inner.CheckReachableAsync(cancellationToken);
            return true;
        });

    private Task<T> Measure<T>(string operation, Func<Task<T>> call, int? size = null, string sizeTag = "blob.size") =>
        telemetry.MeasureAsync("blob", inner.ProviderName, operation, call, sizeTag, size);
}
