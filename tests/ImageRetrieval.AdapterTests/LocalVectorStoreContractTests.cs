using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores.Local;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.AdapterTests;

public sealed class LocalVectorStoreContractTests(LocalVectorStoreFixture fixture)
    : VectorStoreContractTests<LocalVectorStoreFixture>(fixture);

/// <summary>Local stores in a temp data directory per fixture, deleted (with every store closed) on dispose.</summary>
public sealed class LocalVectorStoreFixture : IVectorStoreFixture, IDisposable
{
    private readonly List<IDisposable> _stores = [];
    private readonly Lock _gate = new();

    public string DataPath { get; } = Path.Combine(Path.GetTempPath(), "ir-vectors-" + Guid.NewGuid().ToString("N"));

    public string? UnavailableReason => null;

    /// <summary>The provider as registered: the pointer layer over the physical collection files.</summary>
    public Task<IVectorStore> CreateStoreAsync(string collection, CancellationToken cancellationToken) =>
        Task.FromResult<IVectorStore>(OpenCollections(collection));

    public Task<IVectorStore> CreateReplicaAsync(string collection, CancellationToken cancellationToken) =>
        Task.FromResult<IVectorStore>(OpenCollections(collection));

    internal LocalVectorCollections OpenCollections(string collection)
    {
        var store = new LocalVectorCollections(
            Options.Create(new ServiceOptions { DataPath = DataPath }),
            Options.Create(new VectorStoreOptions { Collection = collection }),
            Options.Create(new LocalVectorStoreOptions()),
            NullLogger<LocalVectorStore>.Instance,
            NullLogger<LocalVectorCollections>.Instance);
        lock (_gate)
        {
            _stores.Add(store);
        }

        return store;
    }

    public Task SettleAsync(IVectorStore store, long expectedCount, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A store on <paramref name="collection"/>'s file; opening it twice gives two stores on one file (a restart).</summary>
    internal LocalVectorStore Open(string collection, LocalVectorStoreOptions? local = null)
    {
        var store = new LocalVectorStore(
            Options.Create(new ServiceOptions { DataPath = DataPath }),
            Options.Create(new VectorStoreOptions { Collection = collection }),
            Options.Create(local ?? new LocalVectorStoreOptions()),
            NullLogger<LocalVectorStore>.Instance);
        lock (_gate)
        {
            _stores.Add(store);
        }

        return store;
    }

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }

        if (Directory.Exists(DataPath))
        {
            Directory.Delete(DataPath, recursive: true);
        }
    }
}
