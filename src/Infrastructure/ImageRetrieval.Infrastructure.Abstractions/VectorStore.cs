using System.Text.Json;

namespace ImageRetrieval.Infrastructure.Abstractions;

/// <summary>What a collection was built with; a service with another model must not write into it.</summary>
public sealed record CollectionDescriptor(string Name, string ModelId, int Dimension);

/// <summary>
/// One stored vector. Metadata is flat: string, number, bool or an array of strings per key,
/// which is what both Pinecone metadata and Qdrant payload filters handle well.
/// </summary>
public sealed record VectorRecord(string Id, ReadOnlyMemory<float> Vector, IReadOnlyDictionary<string, JsonElement> Metadata);

public sealed record ScoredRecord(VectorRecord Record, float Score);

public sealed record RecordPage(IReadOnlyList<VectorRecord> Items, string? NextCursor);

public sealed record VectorQuery(ReadOnlyMemory<float> Vector, int TopK, MetadataFilter? Filter = null, float? MinScore = null, IReadOnlyCollection<string>? ExcludeIds = null);

/// <summary>
/// The port every vector database adapter implements. An instance is bound to one collection
/// (and namespace); the contract suite in the adapter tests pins down its behaviour.
/// </summary>
public interface IVectorStore
{
    string ProviderName { get; }

    /// <summary>Returns the existing collection's descriptor, creating the collection from <paramref name="wanted"/> when absent.</summary>
    Task<CollectionDescriptor> EnsureCollectionAsync(CollectionDescriptor wanted, CancellationToken cancellationToken);

    /// <summary>Drops every vector and re-creates the collection with a new descriptor (used by re-indexing).</summary>
    Task RecreateCollectionAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken);

    /// <summary>Inserts or replaces records by id. Returns once the write is durable.</summary>
    Task UpsertAsync(IReadOnlyList<VectorRecord> records, CancellationToken cancellationToken);

    Task DeleteAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken);

    /// <summary>Records for the ids that exist, in no particular order; unknown ids are skipped.</summary>
    Task<IReadOnlyList<VectorRecord>> FetchAsync(IReadOnlyCollection<string> ids, bool includeVectors, CancellationToken cancellationToken);

    /// <summary>Top-k by cosine similarity, best first.</summary>
    Task<IReadOnlyList<ScoredRecord>> QueryAsync(VectorQuery query, CancellationToken cancellationToken);

    Task<long> CountAsync(CancellationToken cancellationToken);

    /// <summary>Pages through records in a stable order (by id) without vectors.</summary>
    Task<RecordPage> ListAsync(int limit, string? cursor, CancellationToken cancellationToken);

    /// <summary>Throws <see cref="StoreUnavailableException"/> when the store cannot answer.</summary>
    Task CheckReachableAsync(CancellationToken cancellationToken);

    // Re-indexing without downtime. The logical collection this store is bound to points at one physical
    // collection (Qdrant: an alias, Pinecone: the index tagged with the highest generation, Local: a pointer
    // file). A re-index fills a staging collection beside it and then moves the pointer in one atomic step;
    // until then every other call above keeps using the active one. Stores resolve the pointer when a
    // collection is ensured (what the catalogue's collection guard does every few seconds) and otherwise keep what they
    // resolved, so a replica whose model no longer matches writes into the old collection, never the new one.

    /// <summary>
    /// The collection a re-index to <paramref name="descriptor"/> fills, created when absent. An unfinished one
    /// for the same descriptor is resumed with what it holds; one for another descriptor is dropped first.
    /// The returned store is bound to that physical collection (it does not support these staging calls).
    /// </summary>
    Task<IVectorStore> OpenStagingAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken);

    /// <summary>
    /// Makes the staging collection the active one in one atomic step; this store addresses it from then on
    /// (other stores on the logical collection once they ensure it again). The previously active collection is
    /// kept, as retired, until <see cref="DropInactiveAsync"/>: writers that have not yet noticed the switch
    /// still write there, and a re-index carries those writes over. Throws <see cref="InvalidOperationException"/>
    /// when there is no staging collection.
    /// </summary>
    Task PromoteStagingAsync(CancellationToken cancellationToken);

    /// <summary>Physical collections beside the active one: a staging one and retired ones, with their descriptors.</summary>
    Task<IReadOnlyList<InactiveCollectionInfo>> ListInactiveAsync(CancellationToken cancellationToken);

    /// <summary>A store bound to the inactive collection <paramref name="name"/> (from <see cref="ListInactiveAsync"/>), reading what it holds now.</summary>
    Task<IVectorStore> OpenInactiveAsync(string name, CancellationToken cancellationToken);

    /// <summary>Drops the inactive collection <paramref name="name"/>; the active one is never dropped (<see cref="InvalidOperationException"/>).</summary>
    Task DropInactiveAsync(string name, CancellationToken cancellationToken);
}

public enum CollectionRole
{
    /// <summary>Filled by a re-index that has not switched yet.</summary>
    Staging,

    /// <summary>Active before a switch; kept until a re-index has carried over late writes and dropped it.</summary>
    Retired,
}

/// <summary>A physical collection that is not the active one. <see cref="Descriptor"/>'s name is the logical collection's.</summary>
public sealed record InactiveCollectionInfo(string Name, CollectionRole Role, CollectionDescriptor Descriptor);

public static class VectorRecordBatch
{
    /// <summary>
    /// The contract every store enforces before writing anything: ids present and every vector of the
    /// collection's dimension; otherwise <see cref="ArgumentException"/> and nothing is written.
    /// </summary>
    public static void Validate(IReadOnlyList<VectorRecord> records, int dimension, string collection)
    {
        ArgumentNullException.ThrowIfNull(records);
        foreach (var record in records)
        {
            ArgumentNullException.ThrowIfNull(record, nameof(records));
            ArgumentException.ThrowIfNullOrEmpty(record.Id, nameof(records));
            if (record.Vector.Length != dimension)
            {
                throw new ArgumentException(
                    $"Record '{record.Id}' has a {record.Vector.Length}-d vector but collection '{collection}' holds {dimension}-d vectors.", nameof(records));
            }
        }
    }
}
