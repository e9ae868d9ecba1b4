using ImageRetrieval.Embedding.Inference;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.Text;

/// <summary>
/// The text queue: token ids for the text tower, beside the image queue so a burst of image work
/// never holds text queries up behind it (and the reverse); bounded by
/// <see cref="EmbeddingOptions.MaxQueueLength"/> texts, as the image queue is by images.
/// </summary>
internal sealed class TextInferenceQueue : BatchingQueue<LoadedTextModel, int[]>
{
    /// <summary>Texts per run: a text tower is cheap, and padding to the longest text in a batch costs little.</summary>
    public const int MaxBatch = 32;

    private readonly EmbeddingMetrics metrics;

    public TextInferenceQueue(IOptions<EmbeddingOptions> options, EmbeddingMetrics metrics)
        : base(MaxBatch, options.Value.MaxQueueLength, "text", TimeSpan.FromMilliseconds(10))
    {
        this.metrics = metrics;
        metrics.ObserveTextQueueDepth(() => Admitted);
    }

    protected override int BatchLimit(LoadedTextModel model) => model.MaxBatch;

    protected override float[][] RunBatch(LoadedTextModel model, IReadOnlyList<int[]> inputs) => model.Run(inputs);

    protected override void Record(TimeSpan elapsed, int count, string priority)
    {
        metrics.TextInferenceDuration.Record(elapsed.TotalSeconds);
        metrics.TextBatchSize.Record(count, new KeyValuePair<string, object?>("priority", priority));
    }

    protected override void RecordRefused(int count, string kind) =>
        metrics.Overloaded.Add(count, new KeyValuePair<string, object?>("kind", kind));
}
