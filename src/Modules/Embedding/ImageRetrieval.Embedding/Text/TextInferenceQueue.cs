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

    public TextInferenceQueue(IOptions<EmbeddingOptions> options)
        : base(MaxBatch, options.Value.MaxQueueLength, "text", TimeSpan.FromMilliseconds(10)) =>
        EmbeddingMetrics.ObserveTextQueueDepth(() => Admitted);

    protected override int BatchLimit(LoadedTextModel model) => model.MaxBatch;

    protected override float[][] RunBatch(LoadedTextModel model, IReadOnlyList<int[]> inputs) => model.Run(inputs);

    protected override void Record(TimeSpan elapsed, int count, string priority)
    {
        EmbeddingMetrics.TextInferenceDuration.Record(elapsed.TotalSeconds);
        EmbeddingMetrics.TextBatchSize.Record(count, new KeyValuePair<string, object?>("priority", priority));
    }
}
