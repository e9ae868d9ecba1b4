using System.Buffers;
using System.Text;
using System.Text.Json;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// Metadata as stored in the <c>records.metadata</c> column: one flat JSON object. The Local store
/// accepts exactly what Pinecone accepts (string, number, bool, array of strings) so a catalogue
/// built locally can be moved to a remote store without surprises.
/// </summary>
internal static class MetadataJson
{
    public static void Validate(string id, IReadOnlyDictionary<string, JsonElement> metadata)
    {
        foreach (var (key, value) in metadata)
        {
            if (string.IsNullOrEmpty(key))
            {
                throw new ArgumentException($"Record '{id}' has a metadata key that is empty.", nameof(metadata));
            }

            var valid = value.ValueKind switch
            {
                JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => true,
                JsonValueKind.Array => value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String),
                _ => false,
            };
            if (!valid)
            {
                throw new ArgumentException(
                    $"Record '{id}' metadata '{key}' is {value.ValueKind}; values must be a string, number, bool or an array of strings.",
                    nameof(metadata));
            }
        }
    }

    /// <summary>Keys are written in ordinal order so the stored text does not depend on dictionary order.</summary>
    public static string Serialize(IReadOnlyDictionary<string, JsonElement> metadata)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                writer.WritePropertyName(key);
                value.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// Parses a stored object. The root is cloned once, so every value shares one small document that
    /// the garbage collector owns (no pooled buffers to return, nothing for callers to dispose).
    /// </summary>
    public static Dictionary<string, JsonElement> Parse(string json)
    {
        JsonElement root;
        using (var document = JsonDocument.Parse(json))
        {
            root = document.RootElement.Clone();
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("Stored metadata is not a JSON object.");
        }

        var metadata = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            metadata[property.Name] = property.Value;
        }

        return metadata;
    }
}
