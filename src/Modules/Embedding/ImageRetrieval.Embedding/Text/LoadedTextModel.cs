using ImageRetrieval.Infrastructure.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ImageRetrieval.Embedding.Text;

/// <summary>
/// A CLIP text tower ready to run. Inputs and outputs are bound by name from the graph's metadata,
/// never by position: transformers.js exports take input_ids (+ attention_mask) and also output
/// last_hidden_state beside text_embeds; Immich's take one int32 "text" of a fixed [1, context] shape
/// and output "embedding".
/// </summary>
internal sealed class LoadedTextModel : IDisposable
{
    private static readonly string[] IdsInputs = ["input_ids", "text", "ids"];
    private static readonly string[] EmbeddingOutputs = ["text_embeds", "embedding", "embeddings", "text_features", "sentence_embedding"];

    private readonly InferenceSession session;
    private readonly string idsName;
    private readonly string? maskName;
    private readonly string outputName;
    private readonly bool idsAreInt32;
    private readonly int? fixedLength;

    public LoadedTextModel(InferenceSession session, TextTokenizer tokenizer, string fingerprint)
    {
        this.session = session;
        Tokenizer = tokenizer;
        var inputs = session.InputMetadata;
        idsName = IdsInputs.FirstOrDefault(inputs.ContainsKey)
            ?? (inputs.Count == 1 ? inputs.Keys.Single() : throw new ModelLoadException(
                $"The text graph has no token-id input (looked for {string.Join(", ", IdsInputs)}); its inputs are {string.Join(", ", inputs.Keys)}."));
        maskName = inputs.ContainsKey("attention_mask") ? "attention_mask" : null;
        var unknown = inputs.Keys.Where(k => k != idsName && k != maskName).ToList();
        if (unknown.Count > 0)
        {
            throw new ModelLoadException($"The text graph needs inputs this service does not provide: {string.Join(", ", unknown)}.");
        }

        var ids = inputs[idsName];
        idsAreInt32 = ids.ElementDataType switch
        {
            TensorElementType.Int64 => false,
            TensorElementType.Int32 => true,
            var other => throw new ModelLoadException($"The text graph's '{idsName}' input is {other}; token ids must be int64 or int32."),
        };
        if (ids.Dimensions.Length != 2)
        {
            throw new ModelLoadException($"The text graph's '{idsName}' input has rank {ids.Dimensions.Length}; expected [batch, sequence].");
        }

        MaxBatch = ids.Dimensions[0] > 0 ? ids.Dimensions[0] : int.MaxValue;
        fixedLength = ids.Dimensions[1] > 0 ? ids.Dimensions[1] : null;
        if (fixedLength is { } length && length != tokenizer.ContextLength)
        {
            throw new ModelLoadException($"The text graph takes exactly {length} tokens but the model config says a context of {tokenizer.ContextLength}.");
        }

        outputName = ChooseOutput(session);
        Dimension = Run([tokenizer.Encode(string.Empty)])[0].Length;
        Identity = $"text@{fingerprint}";
        Description = $"{idsName}{(idsAreInt32 ? " int32" : "")} [{(MaxBatch == int.MaxValue ? "batch" : MaxBatch)},{fixedLength?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "tokens"}]"
            + (maskName is null ? "" : " + attention_mask") + $" -> {outputName}, context {tokenizer.ContextLength}";
    }

    public TextTokenizer Tokenizer { get; }

    /// <summary>The text tower's part of the model id: its weights' and tokenizer's hash.</summary>
    public string Identity { get; }

    public int Dimension { get; }

    /// <summary>Most texts one run takes: the graph's fixed batch size (Immich: 1), else unbounded.</summary>
    public int MaxBatch { get; }

    public string Description { get; }

    /// <summary>Runs one batch of tokenized texts (each at most the context) and returns each text's embedding.</summary>
    public float[][] Run(IReadOnlyList<int[]> batch)
    {
        if (batch.Count > MaxBatch)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), $"The text graph takes at most {MaxBatch} texts per run.");
        }

        // Pad to the longest text (or the graph's fixed length); padding is masked where the graph takes a
        // mask, and for CLIP it sits after <|endoftext|>, which a causal encoder never lets it reach.
        var length = fixedLength ?? batch.Max(t => t.Length);
        var count = batch.Count * length;
        var mask = new long[count];
        using var ids = idsAreInt32 ? Fill<int>(batch, length, Tokenizer.PadId, mask, id => id) : Fill<long>(batch, length, Tokenizer.PadId, mask, id => id);
        var names = new List<string> { idsName };
        var values = new List<OrtValue> { ids };
        OrtValue? maskValue = null;
        try
        {
            if (maskName is not null)
            {
                maskValue = idsAreInt32
                    ? OrtValue.CreateTensorValueFromMemory(mask.Select(m => (int)m).ToArray(), [batch.Count, length])
                    : OrtValue.CreateTensorValueFromMemory(mask, [batch.Count, length]);
                names.Add(maskName);
                values.Add(maskValue);
            }

            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, names, values, [outputName]);
            var output = outputs[0];
            var shape = output.GetTensorTypeAndShape().Shape;
            var dimension = (int)shape[^1];
            var data = output.GetTensorDataAsSpan<float>();
            var vectors = new float[batch.Count][];
            for (var b = 0; b < batch.Count; b++)
            {
                vectors[b] = data.Slice(b * dimension, dimension).ToArray();
            }

            return vectors;
        }
        finally
        {
            maskValue?.Dispose();
        }
    }

    private static OrtValue Fill<T>(IReadOnlyList<int[]> batch, int length, int padId, long[] mask, Func<int, T> convert)
        where T : unmanaged
    {
        var data = new T[batch.Count * length];
        for (var b = 0; b < batch.Count; b++)
        {
            var tokens = batch[b];
            for (var t = 0; t < length; t++)
            {
                var real = t < tokens.Length;
                data[(b * length) + t] = convert(real ? tokens[t] : padId);
                mask[(b * length) + t] = real ? 1 : 0;
            }
        }

        return OrtValue.CreateTensorValueFromMemory(data, [batch.Count, length]);
    }

    private static string ChooseOutput(InferenceSession session)
    {
        var outputs = session.OutputMetadata;
        var named = EmbeddingOutputs.FirstOrDefault(outputs.ContainsKey);
        if (named is not null)
        {
            return named;
        }

        var pooled = outputs.Where(o => o.Value.Dimensions.Length == 2).Select(o => o.Key).ToList();
        return pooled.Count == 1
            ? pooled[0]
            : throw new ModelLoadException($"The text graph has no text_embeds or embedding output and no single rank-2 output: {string.Join(", ", outputs.Keys)}.");
    }

    public void Dispose()
    {
        session.Dispose();
        Tokenizer.Dispose();
    }
}
