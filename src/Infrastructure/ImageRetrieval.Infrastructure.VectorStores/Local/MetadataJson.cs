using System.Buffers;
using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// Metadata as stored in the <c>records.metadata</c> column and held in memory: one flat JSON object
/// as UTF-8 bytes (a few hundred bytes a row instead of a dictionary of <see cref="JsonElement"/>s,
/// which costs kilobytes). The Local store accepts exactly what Pinecone accepts (string, number,
/// bool, array of strings) so a catalogue built locally can be moved to a remote store without surprises.
/// </summary>
internal static class MetadataJson
{
    /// <summary>The stored form of "no metadata"; shared so empty rows cost one reference.</summary>
    public static readonly byte[] Empty = "{}"u8.ToArray();

    private static readonly ReadOnlyDictionary<string, JsonElement> EmptyDictionary = new(new Dictionary<string, JsonElement>());

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    [ThreadStatic]
    private static KeyValuePair<string, JsonElement>[]? t_pairs;

    public static void Validate(string id, IReadOnlyDictionary<string, JsonElement> metadata)
    {
        // The concrete dictionary (what callers pass) is walked with its struct enumerator: the interface's is an allocation a row.
        string? error = null;
        if (metadata is Dictionary<string, JsonElement> dictionary)
        {
            foreach (var (key, value) in dictionary)
            {
                if ((error = Check(id, key, value)) is not null)
                {
                    break;
                }
            }
        }
        else
        {
            foreach (var (key, value) in metadata)
            {
                if ((error = Check(id, key, value)) is not null)
                {
                    break;
                }
            }
        }

        if (error is not null)
        {
            throw new ArgumentException(error, nameof(metadata));
        }
    }

    /// <summary>Why a pair cannot be stored, or null when it can.</summary>
    private static string? Check(string id, string key, JsonElement value)
    {
        if (string.IsNullOrEmpty(key))
        {
            return $"Record '{id}' has a metadata key that is empty.";
        }

        var valid = value.ValueKind switch
        {
            JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => true,
            JsonValueKind.Array => AllStrings(value),
            _ => false,
        };
        return valid ? null : $"Record '{id}' metadata '{key}' is {value.ValueKind}; values must be a string, number, bool or an array of strings.";
    }

    private static bool AllStrings(JsonElement array)
    {
        foreach (var element in array.EnumerateArray())
        {
            if (element.ValueKind != JsonValueKind.String)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Keys are written in ordinal order so the stored bytes do not depend on dictionary order. The
    /// buffer, writer and key array are the thread's own and reused (a bulk fill serialises a million
    /// rows on all cores; per-row writers and LINQ sorting were most of its garbage).
    /// </summary>
    public static byte[] SerializeToUtf8(IReadOnlyDictionary<string, JsonElement> metadata) => Encode(metadata, out _);

    /// <summary>
    /// <see cref="SerializeToUtf8"/> and <see cref="Signature(IReadOnlyDictionary{string, JsonElement})"/>
    /// in one walk of the pairs: a bulk fill does both for every row, and the signature's strings are
    /// hashed from the document's UTF-8 bytes instead of being copied out as .NET strings first.
    /// </summary>
    public static byte[] Encode(IReadOnlyDictionary<string, JsonElement> metadata, out FilterSignature signature)
    {
        signature = default;
        if (metadata.Count == 0)
        {
            return Empty;
        }

        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        var pairs = t_pairs is { } kept && kept.Length >= metadata.Count ? kept : t_pairs = new KeyValuePair<string, JsonElement>[Math.Max(16, metadata.Count)];
        var count = 0;
        if (metadata is Dictionary<string, JsonElement> dictionary)
        {
            foreach (var pair in dictionary)
            {
                pairs[count++] = pair;
            }
        }
        else
        {
            foreach (var pair in metadata)
            {
                pairs[count++] = pair;
            }
        }

        try
        {
            Array.Sort(pairs, 0, count, KeyOrder.Instance);
            writer.WriteStartObject();
            for (var i = 0; i < count; i++)
            {
                var (key, value) = pairs[i];
                writer.WritePropertyName(key);
                value.WriteTo(writer);
                signature = signature.With(SignatureOf(key, value));
            }

            writer.WriteEndObject();
            writer.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            // The caller's JsonElements must not stay reachable from a thread-static.
            pairs.AsSpan(0, count).Clear();
        }
    }

    /// <summary>Stored bytes from the SQLite text column; "{}" maps to the shared <see cref="Empty"/>.</summary>
    public static byte[] FromStoredText(string json) => json == "{}" ? Empty : Encoding.UTF8.GetBytes(json);

    /// <summary>
    /// Parses a stored object. The root is cloned once, so every value shares one small document that
    /// the garbage collector owns (no pooled buffers to return, nothing for callers to dispose).
    /// </summary>
    public static ReadOnlyDictionary<string, JsonElement> Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.SequenceEqual(Empty))
        {
            return EmptyDictionary;
        }

        JsonElement root;
        var reader = new Utf8JsonReader(utf8);
        using (var document = JsonDocument.ParseValue(ref reader))
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

        return metadata.AsReadOnly();
    }

    /// <summary>
    /// A 128-bit Bloom signature of a row's (field, value) pairs, array elements counted one by one, so
    /// a scan can reject most rows that a filter excludes with two AND instructions and parse the JSON
    /// only of the few that may match. Two bits per pair: with the ~10 pairs of a catalogue row about
    /// 2% of non-matching rows get through to the exact check.
    /// </summary>
    public static FilterSignature Signature(IReadOnlyDictionary<string, JsonElement> metadata)
    {
        var signature = default(FilterSignature);
        foreach (var (key, value) in metadata)
        {
            signature = signature.With(SignatureOf(key, value));
        }

        return signature;
    }

    /// <summary>The bits of one pair, array elements counted one by one.</summary>
    private static FilterSignature SignatureOf(string key, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            return FilterSignature.OfStored(key, value);
        }

        var signature = default(FilterSignature);
        foreach (var element in value.EnumerateArray())
        {
            signature = signature.With(FilterSignature.OfStored(key, element));
        }

        return signature;
    }

    public static FilterSignature Signature(ReadOnlySpan<byte> utf8) => utf8.SequenceEqual(Empty) ? default : Signature(Parse(utf8));

    private sealed class KeyOrder : IComparer<KeyValuePair<string, JsonElement>>
    {
        public static readonly KeyOrder Instance = new();

        public int Compare(KeyValuePair<string, JsonElement> x, KeyValuePair<string, JsonElement> y) => string.CompareOrdinal(x.Key, y.Key);
    }
}

/// <summary>Bloom bits of metadata pairs (see <see cref="MetadataJson.Signature(IReadOnlyDictionary{string, JsonElement})"/>).</summary>
internal readonly record struct FilterSignature(ulong Low, ulong High)
{
    public FilterSignature With(FilterSignature other) => new(Low | other.Low, High | other.High);

    /// <summary>True when every bit of <paramref name="pair"/> is set: the pair may be present.</summary>
    public bool MayContain(FilterSignature pair) => (Low & pair.Low) == pair.Low && (High & pair.High) == pair.High;

    /// <summary>
    /// The bits of one scalar under <paramref name="field"/>. Numbers hash by their double value, since
    /// filters compare numbers by value (1 equals 1.0); strings by their text; bools by kind.
    /// </summary>
    public static FilterSignature Of(string field, JsonElement value)
    {
        Span<byte> scalar = stackalloc byte[sizeof(double)];
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return OfString(field, value.GetString()!);
            case JsonValueKind.Number:
                var number = value.GetDouble();
                BinaryPrimitives.WriteDoubleLittleEndian(scalar, number == 0 ? 0d : number);
                return Hash(field, (byte)'n', scalar);
            case JsonValueKind.True or JsonValueKind.False:
                scalar.Clear();
                scalar[0] = value.ValueKind == JsonValueKind.True ? (byte)1 : (byte)0;
                return Hash(field, (byte)'b', scalar);
            default:
                // Values a filter cannot match (objects, null) must never reject a row; all bits set means "may be".
                return new FilterSignature(ulong.MaxValue, ulong.MaxValue);
        }
    }

    /// <summary>
    /// <see cref="Of"/> for a value of stored metadata: the same bits, but a string without escapes is
    /// hashed from the document's own UTF-8 bytes (its text exactly) instead of being copied out as a
    /// .NET string and encoded back, which was the largest part of preparing a catalogue row.
    /// </summary>
    public static FilterSignature OfStored(string field, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            var raw = JsonMarshal.GetRawUtf8Value(value);
            if (raw.Length >= 2 && raw[0] == (byte)'"' && raw[^1] == (byte)'"' && raw.IndexOf((byte)'\\') < 0)
            {
                return Hash(field, (byte)'s', raw[1..^1]);
            }
        }

        return Of(field, value);
    }

    private static FilterSignature OfString(string field, string text)
    {
        Span<byte> scratch = stackalloc byte[256];
        var length = Encoding.UTF8.GetByteCount(text);
        var rented = length > scratch.Length ? ArrayPool<byte>.Shared.Rent(length) : null;
        try
        {
            var utf8 = rented is null ? scratch[..length] : rented.AsSpan(0, length);
            Encoding.UTF8.GetBytes(text, utf8);
            return Hash(field, (byte)'s', utf8);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The bits of the bytes field, 0, kind, value (the layout every stored signature was made with).</summary>
    private static FilterSignature Hash(string field, byte kind, ReadOnlySpan<byte> value)
    {
        Span<byte> scratch = stackalloc byte[256];
        var fieldBytes = Encoding.UTF8.GetByteCount(field);
        var length = fieldBytes + 2 + value.Length;
        var rented = length > scratch.Length ? ArrayPool<byte>.Shared.Rent(length) : null;
        var buffer = rented is null ? scratch[..length] : rented.AsSpan(0, length);
        try
        {
            Encoding.UTF8.GetBytes(field, buffer);
            buffer[fieldBytes] = 0;
            buffer[fieldBytes + 1] = kind;
            value.CopyTo(buffer[(fieldBytes + 2)..]);
            var hash = XxHash3.HashToUInt64(buffer);
            return FromBits((int)(hash & 127), (int)((hash >> 7) & 127));
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static FilterSignature FromBits(int a, int b)
    {
        ulong low = 0, high = 0;
        foreach (var bit in (ReadOnlySpan<int>)[a, b])
        {
            if (bit < 64)
            {
                low |= 1UL << bit;
            }
            else
            {
                high |= 1UL << (bit - 64);
            }
        }

        return new FilterSignature(low, high);
    }
}

/// <summary>
/// A <see cref="MetadataFilter"/> prepared for a scan: per condition the Bloom bits of each wanted
/// value, so most non-matching rows are rejected before their JSON is parsed for the exact check.
/// </summary>
internal sealed class CompiledFilter
{
    private readonly FilterSignature[][] _conditions;

    public CompiledFilter(MetadataFilter filter)
    {
        Filter = filter;
        _conditions = filter.Conditions.Select(c => c.Values.Select(v => FilterSignature.Of(c.Field, v)).ToArray()).ToArray();
    }

    public MetadataFilter Filter { get; }

    public bool MayMatch(FilterSignature row)
    {
        foreach (var condition in _conditions)
        {
            var any = false;
            foreach (var value in condition)
            {
                if (row.MayContain(value))
                {
                    any = true;
                    break;
                }
            }

            if (!any)
            {
                return false;
            }
        }

        return true;
    }

    public bool Matches(byte[] metadata) => Filter.Matches(MetadataJson.Parse(metadata));
}
