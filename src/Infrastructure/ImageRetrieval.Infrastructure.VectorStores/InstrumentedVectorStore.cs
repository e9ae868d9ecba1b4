using System.Diagnostics;
using System.Diagnostics.Metrics;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores;

/// <summary>
/// Wraps whichever store the configuration chose with a span per call and the store metrics, so
/// every provider is measured the same way and adapters contain no telemetry code. It does not
/// dispose the inner store: the container owns (and disposes) the provider's keyed singleton.
/// </summary>
internal sealed class InstrumentedVectorStore(IVectorStore inner) : IVectorStore
{
    public const string ActivitySourceName = "ImageRetrieval.Stores";
    public const string MeterName = "ImageRetrieval";
    public const string DurationInstrument = "imageretrieval.store.call.duration";
    public const string ErrorsInstrument = "imageretrieval.store.errors";

    private static readonly ActivitySource Source = new(ActivitySourceName);
    private static readonly Meter Meter = new(MeterName);

    // Name, unit and description match the blob store's instruments exactly, so the two meters of the
    // same name are exported as one metric stream split by the "store" tag.
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(
        DurationInstrument, unit: "s", description: "Duration of calls to the vector and blob stores",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    private static readonly Counter<long> Errors = Meter.CreateCounter<long>(
        ErrorsInstrument, description: "Calls to the vector and blob stores that threw");

    public IVectorStore Inner => inner;

    public string ProviderName => inner.ProviderName;

    public Task<CollectionDescriptor> EnsureCollectionAsync(CollectionDescriptor wanted, CancellationToken cancellationToken) =>
        Measure("ensure", () => inner.EnsureCollectionAsync(wanted, cancellationToken));

    public Task RecreateCollectionAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken) =>
        Measure("recreate", async () =>
        {
            await inner.RecreateCollectionAsync(descriptor, cancellationToken);
            return true;
        });

    public Task UpsertAsync(IReadOnlyList<VectorRecord> records, CancellationToken cancellationToken) =>
        Measure("upsert", async () =>
        {
            await inner.UpsertAsync(records, cancellationToken);
            return true;
        }, records?.Count);

    public Task DeleteAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken) =>
        Measure("delete", async () =>
        {
            await inner.DeleteAsync(ids, cancellationToken);
            return true;
        }, ids?.Count);

    public Task<IReadOnlyList<VectorRecord>> FetchAsync(IReadOnlyCollection<string> ids, bool includeVectors, CancellationToken cancellationToken) =>
        Measure("fetch", () => inner.FetchAsync(ids, includeVectors, cancellationToken), ids?.Count);

    public Task<IReadOnlyList<ScoredRecord>> QueryAsync(VectorQuery query, CancellationToken cancellationToken) =>
        Measure("query", () => inner.QueryAsync(query, cancellationToken));

    public Task<long> CountAsync(CancellationToken cancellationToken) =>
        Measure("count", () => inner.CountAsync(cancellationToken));

    public Task<RecordPage> ListAsync(int limit, string? cursor, CancellationToken cancellationToken) =>
        Measure("list", () => inner.ListAsync(limit, cursor, cancellationToken));

    public Task CheckReachableAsync(CancellationToken cancellationToken) =>
        Measure("check", async () =>
        {
            await inner.CheckReachableAsync(cancellationToken);
            return true;
        });

    private async Task<T> Measure<T>(string operation, Func<Task<T>> call, int? batchSize = null)
    {
        var tags = new TagList { { "store", inner.ProviderName }, { "operation", operation } };
        using var activity = Source.StartActivity("vector " + operation, ActivityKind.Client);
        if (activity is not null)
        {
            activity.SetTag("store", inner.ProviderName);
            activity.SetTag("operation", operation);
            if (batchSize is { } size)
            {
                activity.SetTag("batch.size", size);
            }
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            return await call();
        }
        catch (Exception ex)
        {
            Errors.Add(1, tags);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            activity?.SetTag("error.type", ex.GetType().FullName);
            throw;
        }
        finally
        {
            Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }
}
