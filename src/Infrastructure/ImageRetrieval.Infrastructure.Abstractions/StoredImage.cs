using System.Globalization;
using System.Text.Json;

namespace ImageRetrieval.Infrastructure.Abstractions;

/// <summary>
/// The catalogue entry of one image as kept in the vector store's metadata. System fields use
/// keys starting with '_' (user metadata may not), so user filters and system fields never collide.
/// </summary>
public sealed record StoredImage(
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
            DateTimeOffset.Parse(String(m, CreatedKey), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
            String(m, BlobKeyKey),
            user);
    }

    private static string String(IReadOnlyDictionary<string, JsonElement> m, string key) =>
        m.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    // Pinecone returns every number as a double, so read integers through double.
    private static double Number(IReadOnlyDictionary<string, JsonElement> m, string key) =>
        m.TryGetValue(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;
}
