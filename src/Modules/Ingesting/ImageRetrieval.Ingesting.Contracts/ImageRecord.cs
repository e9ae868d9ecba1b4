using System.Text.Json;

namespace ImageRetrieval.Ingesting.Contracts;

/// <summary>A stored image as the catalogue knows it.</summary>
/// <param name="BlobLocation">Where the bytes live, for people: a bucket object name or a path under the data directory.</param>
/// <param name="SignedUrl">A direct time-limited link when the blob store can sign; otherwise callers link to the content endpoint.</param>
public sealed record ImageRecord(
    string Id,
    string Sha256,
    string ContentType,
    int Width,
    int Height,
    long SizeBytes,
    DateTimeOffset CreatedAt,
    string BlobLocation,
    Uri? SignedUrl,
    IReadOnlyDictionary<string, JsonElement> Metadata);
