using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>Instruments of the embedding path; the Host exports the <c>ImageRetrieval</c> meter to Prometheus.</summary>
internal static class EmbeddingMetrics
{
    public const string MeterName = "ImageRetrieval";
    public static readonly ActivitySource ActivitySource = new("ImageRetrieval.Embedding");

    private static readonly Meter Meter = new(MeterName);

    public static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>(
        "imageretrieval.embedding.batch_size", description: "Images per inference run",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64] });

    public static readonly Histogram<double> InferenceDuration = Meter.CreateHistogram<double>(
        "imageretrieval.inference.duration", unit: "s", description: "Wall time of one inference run",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    public static readonly Histogram<double> TextInferenceDuration = Meter.CreateHistogram<double>(
        "imageretrieval.text_inference.duration", unit: "s", description: "Wall time of one text-tower run",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });

    public static readonly Histogram<int> TextBatchSize = Meter.CreateHistogram<int>(
        "imageretrieval.embedding.text_batch_size", description: "Texts per text-tower run",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32] });

    public static readonly Counter<long> Overloaded = Meter.CreateCounter<long>(
        "imageretrieval.embedding.overloaded", description: "Images or texts (tag kind) refused with 503 because their inference queue was full");

    public static void ObserveQueueDepth(Func<int> depth) =>
        Meter.CreateObservableGauge("imageretrieval.embedding.queue_depth", depth, description: "Images admitted and not yet embedded (decoding or waiting for inference)");

    public static void ObserveTextQueueDepth(Func<int> depth) =>
        Meter.CreateObservableGauge("imageretrieval.embedding.text_queue_depth", depth, description: "Texts admitted and not yet embedded");
}
