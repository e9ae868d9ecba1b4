using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>
/// The Embedding module's instruments, on the service's one meter from the host's
/// <see cref="IMeterFactory"/> (so each host has its own, disposed with it); the Host exports the
/// <c>ImageRetrieval</c> meter to Prometheus.
/// </summary>
internal sealed class EmbeddingMetrics
{
    public const string MeterName = "ImageRetrieval";

    // Spans are not per host: an ActivitySource has no factory, and listeners pick sources by name.
    public static readonly ActivitySource ActivitySource = new("ImageRetrieval.Embedding");

    private readonly Meter meter;

    public EmbeddingMetrics(IMeterFactory meters)
    {
        meter = meters.Create(MeterName);
        BatchSize = meter.CreateHistogram<int>(
            "imageretrieval.embedding.batch_size", description: "Images per inference run",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64] });
        InferenceDuration = meter.CreateHistogram<double>(
            "imageretrieval.inference.duration", unit: "s", description: "Wall time of one inference run",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        PreprocessDuration = meter.CreateHistogram<double>(
            "imageretrieval.preprocess.duration", unit: "s", description: "Wall time of decoding and resizing one image into its tensor, by priority lane",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
        InferenceWait = meter.CreateHistogram<double>(
            "imageretrieval.inference.wait", unit: "s", description: "Time an image's tensor waited in the inference queue before its run began, by priority lane",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        TextInferenceDuration = meter.CreateHistogram<double>(
            "imageretrieval.text_inference.duration", unit: "s", description: "Wall time of one text-tower run",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
        TextBatchSize = meter.CreateHistogram<int>(
            "imageretrieval.embedding.text_batch_size", description: "Texts per text-tower run",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32] });
        Overloaded = meter.CreateCounter<long>(
            "imageretrieval.embedding.overloaded", description: "Images or texts (tag kind) refused with 503 because their inference queue was full");
    }

    public Histogram<int> BatchSize { get; }

    public Histogram<double> InferenceDuration { get; }

    public Histogram<double> PreprocessDuration { get; }

    public Histogram<double> InferenceWait { get; }

    public Histogram<double> TextInferenceDuration { get; }

    public Histogram<int> TextBatchSize { get; }

    public Counter<long> Overloaded { get; }

    public void ObserveQueueDepth(Func<int> depth) =>
        meter.CreateObservableGauge("imageretrieval.embedding.queue_depth", depth, description: "Images admitted and not yet embedded (decoding or waiting for inference)");

    public void ObserveTextQueueDepth(Func<int> depth) =>
        meter.CreateObservableGauge("imageretrieval.embedding.text_queue_depth", depth, description: "Texts admitted and not yet embedded");
}
