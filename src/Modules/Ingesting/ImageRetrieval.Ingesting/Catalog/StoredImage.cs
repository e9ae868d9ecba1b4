using System.Globalization;
using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Ingesting.Catalog;

/// <summary>
/// The catalogue entry of one image as kept in the vector store's metadata. System fields use
/// keys starting with '_' (user metadata may not), so user filters and system fields never collide.
/// </summary>
internal sealed partial record StoredImage(
    string Id,
    string Sha256,
    string ContentType,
    int Width,
    int Height,
    long SizeBytes,
    DateTimeOffset CreatedAt,
    string BlobKey,
    IReadOnlyDictionary<string, JsonElement> Metadata)
{
    public const string ReservedPrefix = "_";
    private const string Sha256Key = "_sha256";
    private const string ContentTypeKey = "_contentType";
    private const string WidthKey = "_width";
    private const string HeightKey = "_height";
    private const string SizeKey = "_sizeBytes";
    private const string CreatedKey = "_createdAt";
    private const string BlobKeyKey = "_blobKey";

    public Dictionary<string, JsonElement> ToVectorMetadata()
    {
        var metadata = new Dictionary<string, JsonElement>(Metadata, StringComparer.Ordinal)
        {
            [Sha256Key] = JsonSerializer.SerializeToElement(Sha256),
            [ContentTypeKey] = JsonSerializer.SerializeToElement(ContentType),
            [WidthKey] = JsonSerializer.SerializeToElement(Width),
            [HeightKey] = JsonSerializer.SerializeToElement(Height),
            [SizeKey] = JsonSerializer.SerializeToElement(SizeBytes),
            [CreatedKey] = JsonSerializer.SerializeToElement(CreatedAt.ToString("O", CultureInfo.InvariantCulture)),
            [BlobKeyKey] = JsonSerializer.SerializeToElement(BlobKey),
        };
        return metadata;
    }

    public VectorRecord ToVectorRecord(ReadOnlyMemory<float> vector) => new(Id, vector, ToVectorMetadata());

    /// <summary>
    /// Whether this service wrote the record and so knows where its bytes are. A record written by
    /// something else (an index adopted from the old Python system: its own metadata, none of ours) is
    /// listed with what is known, but has no bytes to serve, search or re-embed.
    /// </summary>
    public bool HasBlob => BlobKey.Length > 0;

    public static StoredImage FromVectorRecord(VectorRecord record)
    {
        var m = record.Metadata;
        var user = m.Where(kv => !kv.Key.StartsWith(ReservedPrefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        return new StoredImage(
            record.Id,
            String(m, Sha256Key),
            String(m, ContentTypeKey),
            (int)Number(m, WidthKey),
            (int)Number(m, HeightKey),
            (long)Number(m, SizeKey),
            DateTimeOffset.TryParse(String(m, CreatedKey), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var created) ? created : DateTimeOffset.UnixEpoch,
            BlobKeyOf(m),
            user);
    }

    private static string String(IReadOnlyDictionary<string, JsonElement> m, string key) =>
        m.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    /// <summary>A blob key is only trusted in the shape this service writes (<c>images/&lt;32 hex&gt;.ext</c>); anything else is a foreign record's.</summary>
    private static string BlobKeyOf(IReadOnlyDictionary<string, JsonElement> m) =>
        String(m, BlobKeyKey) is var key && BlobKeyPattern().IsMatch(key) ? key : "";

    [System.Text.RegularExpressions.GeneratedRegex("^images/[0-9a-f]{32}\\.[a-z]{2,5}\\z", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex BlobKeyPattern();

    // Pinecone returns every number as a double, so read integers through double; a value that does not
    // fit (a foreign record's) reads as 0 rather than wrapping around.
    private static double Number(IReadOnlyDictionary<string, JsonElement> m, string key) =>
        m.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) && Math.Abs(d) <= int.MaxValue ? d : 0;
}
