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
}

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
