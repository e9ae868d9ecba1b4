using System.Text.Json;
using ImageRetrieval.Infrastructure.Onnx;

namespace ImageRetrieval.Embedding.Text;

/// <summary>
/// A text tower's tokenizer.json, run by Hugging Face's tokenizers itself (the Rust library through
/// Tokenizers.DotNet), so normalizer, pre-tokenizer, BPE and post-processor are exactly the model's.
/// Truncation to the context keeps the special tokens the post-processor adds, as the library's own
/// truncation does: for CLIP, &lt;|startoftext|&gt;, the first context-2 tokens, &lt;|endoftext|&gt;.
/// </summary>
internal sealed class TextTokenizer : IDisposable
{
    private readonly Tokenizers.DotNet.Tokenizer tokenizer;
    private readonly int suffixCount;
    private readonly int[] suffix;

    private TextTokenizer(Tokenizers.DotNet.Tokenizer tokenizer, int contextLength, int? padId)
    {
        this.tokenizer = tokenizer;
        ContextLength = contextLength;

        // What the post-processor adds around any text, read off the empty string: [prefix..., suffix...].
        var empty = Ids(string.Empty);
        var single = Ids("a");
        suffixCount = empty.Length switch
        {
            0 => 0,
            1 => single[0] == empty[0] ? 0 : 1,
            _ => empty.Length - 1,
        };
        suffix = empty[(empty.Length - suffixCount)..];

        // Without a configured pad token, pad as CLIP does: with <|endoftext|>, the last special token.
        PadId = padId ?? (empty.Length > 0 ? empty[^1] : 0);
        if (contextLength <= empty.Length)
        {
            throw new ModelLoadException($"A context of {contextLength} tokens leaves no room for text beside the {empty.Length} special tokens.");
        }
    }

    public int ContextLength { get; }

    /// <summary>The id that fills fixed-length inputs after the text (masked out where the graph takes a mask).</summary>
    public int PadId { get; }

    public static TextTokenizer Load(string tokenizerPath, int contextLength)
    {
        Tokenizers.DotNet.Tokenizer native;
        try
        {
            native = new Tokenizers.DotNet.Tokenizer(tokenizerPath);
        }
#pragma warning disable CA1031 // The native library reports a bad file with a generic exception; any of them means "cannot load".
        catch (Exception ex) when (ex is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            throw new ModelLoadException($"Hugging Face tokenizers could not load '{tokenizerPath}': {ex.Message}", ex);
        }

        try
        {
            return new TextTokenizer(native, contextLength, FindPadId(tokenizerPath));
        }
        catch
        {
            native.Dispose();
            throw;
        }
    }

    /// <summary>The text's ids with the model's special tokens, at most <see cref="ContextLength"/> of them.</summary>
    public int[] Encode(string text)
    {
        var ids = Ids(text);
        if (ids.Length <= ContextLength)
        {
            return ids;
        }

        var truncated = new int[ContextLength];
        ids.AsSpan(0, ContextLength - suffixCount).CopyTo(truncated);
        suffix.CopyTo(truncated.AsSpan(ContextLength - suffixCount));
        return truncated;
    }

    private int[] Ids(string text)
    {
        var ids = tokenizer.Encode(text);
        var result = new int[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            result[i] = checked((int)ids[i]);
        }

        return result;
    }

    /// <summary>The pad token named by tokenizer_config.json (beside tokenizer.json) or tokenizer.json's padding, as an id.</summary>
    private static int? FindPadId(string tokenizerPath)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(tokenizerPath));
        var root = document.RootElement;
        if (root.TryGetProperty("padding", out var padding) && padding.ValueKind == JsonValueKind.Object
            && padding.TryGetProperty("pad_id", out var padIdElement) && padIdElement.TryGetInt32(out var configured))
        {
            return configured;
        }

        var configPath = Path.Combine(Path.GetDirectoryName(tokenizerPath)!, "tokenizer_config.json");
        if (!File.Exists(configPath))
        {
            return null;
        }

        using var config = JsonDocument.Parse(File.ReadAllBytes(configPath));
        var padToken = config.RootElement.TryGetProperty("pad_token", out var pad) ? pad.ValueKind switch
        {
            JsonValueKind.String => pad.GetString(),
            JsonValueKind.Object when pad.TryGetProperty("content", out var content) => content.GetString(),
            _ => null,
        } : null;
        if (padToken is null)
        {
            return null;
        }

        if (root.TryGetProperty("added_tokens", out var added))
        {
            foreach (var token in added.EnumerateArray())
            {
                if (token.GetProperty("content").GetString() == padToken)
                {
                    return token.GetProperty("id").GetInt32();
                }
            }
        }

        return root.TryGetProperty("model", out var model) && model.TryGetProperty("vocab", out var vocab)
            && vocab.ValueKind == JsonValueKind.Object && vocab.TryGetProperty(padToken, out var id) ? id.GetInt32() : null;
    }

    public void Dispose() => tokenizer.Dispose();
}
