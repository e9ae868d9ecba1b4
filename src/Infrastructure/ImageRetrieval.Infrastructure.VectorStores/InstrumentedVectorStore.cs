using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores;

/// <summary>
/// Wraps whichever store the configuration chose with a span per call and the store metrics, so
/// every provider is measured the same way and adapters contain no telemetry code. It does not
/// dispose the inner store: the container owns (and disposes) the provider's keyed singleton.
/// </summary>
internal sealed class InstrumentedVectorStore(IVectorStore inner, StoreTelemetry telemetry) : IVectorStore
{
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

    // A store bound to a staging or retired collection is measured like the logical one.
    public Task<IVectorStore> OpenStagingAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken) =>
        Measure("open-staging", async () => (IVectorStore)new InstrumentedVectorStore(await inner.OpenStagingAsync(descriptor, cancellationToken), telemetry));

    public Task PromoteStagingAsync(CancellationToken cancellationToken) =>
        Measure("promote", async () =>
        {
            await inner.PromoteStagingAsync(cancellationToken);
            return true;
        });

    public Task<IReadOnlyList<InactiveCollectionInfo>> ListInactiveAsync(CancellationToken cancellationToken) =>
        Measure("list-inactive", () => inner.ListInactiveAsync(cancellationToken));

    public Task<IVectorStore> OpenInactiveAsync(string name, CancellationToken cancellationToken) =>
        Measure("open-inactive", async () => (IVectorStore)new InstrumentedVectorStore(await inner.OpenInactiveAsync(name, cancellationToken), telemetry));

    public Task DropInactiveAsync(string name, CancellationToken cancellationToken) =>
        Measure("drop-inactive", async () =>
        {
            await inner.DropInactiveAsync(name, cancellationToken);
            return true;
        });

    private Task<T> Measure<T>(string operation, Func<Task<T>> call, int? batchSize = null) =>
        telemetry.MeasureAsync("vector", inner.ProviderName, operation, call, "batch.size", batchSize);
}
