using System.Security.Cryptography;
using System.Text.Json;
using ImageRetrieval.Infrastructure.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.Embedding.Text;

/// <summary>Loads a CLIP text tower: its graph, its tokenizer and the context length its config states.</summary>
internal static class TextModelLoader
{
    private const int ClipContext = 77;

    public static async Task<LoadedTextModel> LoadAsync(ModelFiles files, int intraOpThreads, CancellationToken cancellationToken)
    {
        var textPath = files.TextOnnxPath ?? throw new ArgumentException("The model has no text tower.", nameof(files));
        var tokenizerPath = files.TokenizerPath ?? throw new ModelLoadException($"The text tower '{textPath}' has no tokenizer.json.");
        var context = ContextLength(files);
        var fingerprint = await FingerprintAsync([textPath, tokenizerPath], cancellationToken);
        var tokenizer = TextTokenizer.Load(tokenizerPath, context);
        InferenceSession? session = null;
        try
        {
            session = InferenceSessionFactory.Create(textPath, intraOpThreads);
            return new LoadedTextModel(session, tokenizer, fingerprint);
        }
        catch
        {
            session?.Dispose();
            tokenizer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// transformers' config.json: text_config.max_position_embeddings; open_clip's (Immich):
    /// text_cfg.context_length; CLIP's 77 when neither says.
    /// </summary>
    private static int ContextLength(ModelFiles files)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(files.ConfigPath));
        var root = document.RootElement;
        if (root.TryGetProperty("text_config", out var text) && text.TryGetProperty("max_position_embeddings", out var positions) && positions.TryGetInt32(out var p))
        {
            return p;
        }

        if (root.TryGetProperty("text_cfg", out var cfg) && cfg.TryGetProperty("context_length", out var length) && length.TryGetInt32(out var l))
        {
            return l;
        }

        return ClipContext;
    }

    /// <summary>The text tower's identity: its weights and its tokenizer, since either changes the vectors.</summary>
    private static async Task<string> FingerprintAsync(string[] paths, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var path in paths)
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..12];
    }
}
