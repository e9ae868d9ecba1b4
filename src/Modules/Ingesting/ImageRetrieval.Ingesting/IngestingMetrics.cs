using System.Diagnostics.Metrics;

namespace ImageRetrieval.Ingesting;

/// <summary>The Ingesting module's instruments, on the service's one meter (dashboards and alerts name them).</summary>
internal sealed class IngestingMetrics
{
    public const string MeterName = "ImageRetrieval";

    public IngestingMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        Ingested = meter.CreateCounter<long>("imageretrieval.images.ingested", description: "Images newly stored");
        BlobsRepaired = meter.CreateCounter<long>("imageretrieval.blobs.repaired", description: "Missing blobs of stored images written back from a re-upload of the same bytes");
    }

    public Counter<long> Ingested { get; }

    public Counter<long> BlobsRepaired { get; }
}
