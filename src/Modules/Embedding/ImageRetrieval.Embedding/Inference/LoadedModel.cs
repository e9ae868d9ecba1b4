using System.Numerics.Tensors;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Embedding.Text;
using ImageRetrieval.Infrastructure.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>A model ready to run: its session, its preprocessing and how its output becomes one vector per image.</summary>
internal sealed class LoadedModel : IDisposable
{
    private readonly InferenceSession session;
    private readonly string inputName;
    private readonly string outputName;
    private readonly PoolingMode pooling;
    private readonly bool outputIsPooled;
    private readonly int maxRunBatch;

    /// <param name="text">The text tower of a CLIP-style model; its identity becomes part of the model id.</param>
    public LoadedModel(InferenceSession session, PixelTensorWriter writer, PoolingMode pooling, string name, string fingerprint, LoadedTextModel? text = null)
    {
        this.session = session;
        Writer = writer;
        this.pooling = pooling;
        inputName = session.InputMetadata.ContainsKey("pixel_values") ? "pixel_values" : session.InputMetadata.Keys.Single();

        // Immich's exports have a fixed batch of one; larger batches then run image by image.
        var batchDim = session.InputMetadata[inputName].Dimensions is [var first, ..] ? first : -1;
        maxRunBatch = batchDim > 0 ? batchDim : int.MaxValue;
        (outputName, outputIsPooled) = ChooseOutput(session, pooling);
        var (height, width) = writer.OutputSize;
        Dimension = RunBatch(new float[writer.Length], 1)[0].Length;
        var poolingLabel = outputIsPooled && pooling != PoolingMode.Pooler ? outputName : pooling.ToString().ToLowerInvariant();
        ModelId = $"{name}#{poolingLabel}@{fingerprint}";
        InputDescription = $"{inputName} [{(batchDim > 0 ? batchDim : "batch")},3,{height},{width}] -> {outputName}";
        if (text is not null)
        {
            if (text.Dimension != Dimension)
            {
                throw new ModelLoadException($"The text tower's embeddings have {text.Dimension} dimensions but the image tower's {Dimension}; they must share one space.");
            }

            Text = text;
            ModelId += "+" + text.Identity;
            InputDescription += "; text: " + text.Description;
        }
    }

    /// <summary>The text tower, or null for an image-only model (text queries then answer 422 text-not-supported).</summary>
    public LoadedTextModel? Text { get; }

    public string ModelId { get; }

    public int Dimension { get; }

    public PixelTensorWriter Writer { get; }

    public string InputDescription { get; }

    /// <summary>Runs one batch laid out as consecutive [3,H,W] images and returns each image's pooled vector.</summary>
    public float[][] RunBatch(float[] pixels, int batch)
    {
        if (batch > maxRunBatch)
        {
            var all = new List<float[]>(batch);
            for (var start = 0; start < batch; start += maxRunBatch)
            {
                var count = Math.Min(maxRunBatch, batch - start);
                all.AddRange(RunBatch(pixels.AsSpan(start * Writer.Length, count * Writer.Length).ToArray(), count));
            }

            return [.. all];
        }

        var (height, width) = Writer.OutputSize;
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, pixels.AsMemory(0, batch * Writer.Length), [batch, 3, height, width]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [input], [outputName]);
        var output = outputs[0];
        var shape = output.GetTensorTypeAndShape().Shape;
        var data = output.GetTensorDataAsSpan<float>();
        var vectors = new float[batch][];
        if (shape.Length == 2)
        {
            var dim = (int)shape[1];
            for (var b = 0; b < batch; b++)
            {
                vectors[b] = data.Slice(b * dim, dim).ToArray();
            }

            return vectors;
        }

        var tokens = (int)shape[1];
        var hidden = (int)shape[2];
        for (var b = 0; b < batch; b++)
        {
            var sequence = data.Slice(b * tokens * hidden, tokens * hidden);
            vectors[b] = pooling == PoolingMode.Mean ? Mean(sequence, tokens, hidden) : sequence[..hidden].ToArray();
        }

        return vectors;
    }

    private static float[] Mean(ReadOnlySpan<float> sequence, int tokens, int hidden)
    {
        var sum = new float[hidden];
        for (var t = 0; t < tokens; t++)
        {
            TensorPrimitives.Add(sum, sequence.Slice(t * hidden, hidden), sum);
        }

        TensorPrimitives.Divide(sum, tokens, sum);
        return sum;
    }

    private static (string Name, bool IsPooled) ChooseOutput(InferenceSession session, PoolingMode pooling)
    {
        var outputs = session.OutputMetadata;
        if (pooling == PoolingMode.Pooler)
        {
            return outputs.ContainsKey("pooler_output")
                ? ("pooler_output", true)
                : throw new ModelLoadException($"Pooling 'Pooler' needs a pooler_output output; the model has {string.Join(", ", outputs.Keys)}.");
        }

        // A CLIP vision tower's embedding is its projected image_embeds, the space the text tower shares;
        // transformers.js exports also output last_hidden_state, which is not that space.
        if (outputs.ContainsKey("image_embeds"))
        {
            return ("image_embeds", true);
        }

        if (outputs.ContainsKey("last_hidden_state"))
        {
            return ("last_hidden_state", false);
        }

        // Exports that already pool (an 'embedding' or 'image_embeds' output of rank 2) are used as they are.
        var pooled = outputs.FirstOrDefault(o => o.Value.Dimensions.Length == 2);
        return pooled.Key is not null
            ? (pooled.Key, true)
            : throw new ModelLoadException($"The model has no last_hidden_state and no rank-2 output: {string.Join(", ", outputs.Keys)}.");
    }

    public void Dispose()
    {
        session.Dispose();
        Text?.Dispose();
    }
}
