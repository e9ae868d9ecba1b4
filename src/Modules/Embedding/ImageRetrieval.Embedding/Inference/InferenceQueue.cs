using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>
/// The image queue: preprocessed pixel tensors, <see cref="EmbeddingOptions.MaxBatchSize"/> a run,
/// bounded by <see cref="EmbeddingOptions.MaxQueueLength"/> images from admission (before decoding) on.
/// </summary>
internal sealed class InferenceQueue : BatchingQueue<LoadedModel, float[]>
{
    private readonly int maxBatch;

    // Reused across runs; only the consumer touches it.
    private float[] buffer = [];

    public InferenceQueue(IOptions<EmbeddingOptions> options)
        : base(options.Value.MaxBatchSize, options.Value.MaxQueueLength, "image", TimeSpan.FromMilliseconds(100))
    {
        maxBatch = options.Value.MaxBatchSize;
        EmbeddingMetrics.ObserveQueueDepth(() => Admitted);
    }

    protected override float[][] RunBatch(LoadedModel model, IReadOnlyList<float[]> inputs)
    {
        var length = model.Writer.Length;
        if (buffer.Length < inputs.Count * length)
        {
            buffer = new float[Math.Max(inputs.Count, maxBatch) * length];
        }

        // Pixel buffers are pooled and may be longer than one tensor.
        for (var i = 0; i < inputs.Count; i++)
        {
            inputs[i].AsSpan(0, length).CopyTo(buffer.AsSpan(i * length));
        }

        return model.RunBatch(buffer, inputs.Count);
    }

    protected override void Record(TimeSpan elapsed, int count, string priority)
    {
        EmbeddingMetrics.InferenceDuration.Record(elapsed.TotalSeconds);
        EmbeddingMetrics.BatchSize.Record(count, new KeyValuePair<string, object?>("priority", priority));
    }
}
