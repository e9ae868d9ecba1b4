namespace ImageRetrieval.Infrastructure.Abstractions;

public sealed class BlobContent(Stream content, string contentType, long? length) : IAsyncDisposable, IDisposable
{
    public Stream Content { get; } = content;

    public string ContentType { get; } = contentType;

    public long? Length { get; } = length;

    public ValueTask DisposeAsync() => Content.DisposeAsync();

    public void Dispose() => Content.Dispose();
}

/// <summary>
/// Object storage for the original image bytes. Keys are content-addressed, so a put of an
/// existing key may be skipped; writes are all-or-nothing.
/// </summary>
public interface IBlobStore
{
    string ProviderName { get; }

    Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken);

    /// <summary>A streaming read, or null when the key does not exist.</summary>
    Task<BlobContent?> OpenReadAsync(string key, CancellationToken cancellationToken);

    Task<bool> ExistsAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// The keys of <paramref name="keys"/> that do not exist: what a search checks for its hits in one call.
    /// A store that can answer for many keys at once (a local directory, a listing) overrides this; the
    /// default asks <see cref="ExistsAsync"/> for each key, concurrently.
    /// </summary>
    async Task<IReadOnlySet<string>> FindMissingAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var distinct = keys.Distinct(StringComparer.Ordinal).ToList();
        var present = await Task.WhenAll(distinct.Select(key => ExistsAsync(key, cancellationToken)));
        return distinct.Where((_, i) => !present[i]).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Deletes the key; deleting a missing key is not an error.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken);

    IAsyncEnumerable<string> ListKeysAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>A time-limited link straight to the object, or null when this store cannot sign.</summary>
    Task<Uri?> TryGetSignedUrlAsync(string key, CancellationToken cancellationToken);

    /// <summary>Where the object lives, for people: a bucket path or a path under the data directory.</summary>
    string DescribeLocation(string key);

    Task CheckReachableAsync(CancellationToken cancellationToken);
}
