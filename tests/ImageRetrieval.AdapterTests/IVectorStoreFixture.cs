using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.AdapterTests;

/// <summary>
/// What <see cref="VectorStoreContractTests{TFixture}"/> needs from one vector store provider. One fixture
/// instance serves every test of a test class (xunit class fixture); dispose it to remove whatever it created.
/// </summary>
public interface IVectorStoreFixture
{
    /// <summary>
    /// Why this provider cannot be tested here (no Docker engine, no API key...), or null when it can.
    /// When set, every contract test is reported as skipped with this reason.
    /// </summary>
    string? UnavailableReason { get; }

    /// <summary>
    /// A store bound to <paramref name="collection"/>, a name unique to the calling test that does not exist
    /// yet (a remote fixture may map it to a namespace of a shared index). The store is empty and the
    /// collection is not created: tests call <see cref="IVectorStore.EnsureCollectionAsync"/> themselves.
    /// The fixture owns the store, disposes it and deletes the collection when the fixture is disposed.
    /// </summary>
    Task<IVectorStore> CreateStoreAsync(string collection, CancellationToken cancellationToken);

    /// <summary>
    /// Another store on <paramref name="collection"/>, one that <see cref="CreateStoreAsync"/> already made: what a
    /// second replica (or a re-index process) of the service would hold. Owned and disposed by the fixture.
    /// </summary>
    Task<IVectorStore> CreateReplicaAsync(string collection, CancellationToken cancellationToken);

    /// <summary>
    /// Returns once every write acknowledged so far is visible to reads. Stores that read their own writes
    /// (Local, Qdrant with wait=true) return at once; an eventually consistent one (Pinecone) polls, e.g.
    /// until <see cref="IVectorStore.CountAsync"/> equals <paramref name="expectedCount"/>, the number of
    /// records the test expects the store to hold now.
    /// </summary>
    Task SettleAsync(IVectorStore store, long expectedCount, CancellationToken cancellationToken);
}
