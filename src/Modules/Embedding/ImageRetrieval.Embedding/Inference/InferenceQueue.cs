using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>
/// The image queue: preprocessed pixel tensors, <see cref="EmbeddingOptions.MaxBatchSize"/> a run,
/// bounded by <see cref="EmbeddingOptions.MaxQueueLength"/> images from admission (before decoding) on.
/// </summary>
internal sealed class InferenceQueue : BatchingQueue<LoadedModel, float[]>
{
    private readonly int maxBatch;
    private readonly EmbeddingMetrics metrics;

    // Reused across runs; only the consumer touches it.
    private float[] buffer = [];

    public InferenceQueue(IOptions<EmbeddingOptions> options, EmbeddingMetrics metrics)
        : base(options.Value.MaxBatchSize, options.Value.MaxQueueLength, "image", TimeSpan.FromMilliseconds(100))
    {
        maxBatch = options.Value.MaxBatchSize;
        this.metrics = metrics;
        metrics.ObserveQueueDepth(() => Admitted);
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
        metrics.InferenceDuration.Record(elapsed.TotalSeconds);
        metrics.BatchSize.Record(count, new KeyValuePair<string, object?>("priority", priority));
    }

    protected override void RecordWait(TimeSpan waited, string priority) =>
        metrics.InferenceWait.Record(waited.TotalSeconds, new KeyValuePair<string, object?>("priority", priority));

    protected override void RecordRefused(int count, string kind) =>
        metrics.Overloaded.Add(count, new KeyValuePair<string, object?>("kind", kind));
}
