using System.Globalization;
using System.Text;

namespace ImageRetrieval.Infrastructure.VectorStores.Pinecone;

/// <summary>
/// Keeps our model id in the index's tags. Pinecone tag values allow only letters, digits, ';', '@',
/// '_', '-', '.', '+' and ' ', at most 120 characters, so any other byte (a '/' in
/// <c>facebook/vit-msn-base</c>) is written as <c>;XX</c> (hex of its UTF-8 byte, ';' itself too),
/// and a long id continues in <c>model_1</c>, <c>model_2</c>...
/// </summary>
internal static class PineconeModelTag
{
    public const string Key = "model";
    private const int MaxValueLength = 120;
    private const int MaxParts = 15;

    public static Dictionary<string, string> ToTags(string modelId)
    {
        var units = new List<string>();
        foreach (var b in Encoding.UTF8.GetBytes(modelId))
        {
            var c = (char)b;
            units.Add(b < 0x80 && (char.IsAsciiLetterOrDigit(c) || c is '@' or '_' or '-' or '.' or '+')
                ? c.ToString()
                : ";" + b.ToString("X2", CultureInfo.InvariantCulture));
        }

        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        var part = new StringBuilder();
        foreach (var unit in units)
        {
            if (part.Length + unit.Length > MaxValueLength)
            {
                tags[PartKey(tags.Count)] = part.ToString();
                part.Clear();
            }

            part.Append(unit);
        }

        tags[PartKey(tags.Count)] = part.ToString();
        if (tags.Count > MaxParts)
        {
            throw new ArgumentException($"Model id is too long to keep in Pinecone tags ({modelId.Length} characters).", nameof(modelId));
        }

        return tags;
    }

    /// <returns>The model id, or null when the tags hold none.</returns>
    public static string? FromTags(IReadOnlyDictionary<string, string>? tags)
    {
        if (tags is null || !tags.TryGetValue(Key, out var first) || first.Length == 0)
        {
            return null;
        }

        var encoded = new StringBuilder(first);
        for (var i = 1; tags.TryGetValue(PartKey(i), out var next) && next.Length > 0; i++)
        {
            encoded.Append(next);
        }

        var bytes = new List<byte>();
        var text = encoded.ToString();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == ';' && i + 2 < text.Length && byte.TryParse(text.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.Add((byte)text[i]);
            }
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static string PartKey(int index) => index == 0 ? Key : $"{Key}_{index}";
}
