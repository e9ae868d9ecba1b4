using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.AdapterTests;

/// <summary>
/// What <see cref="BlobStoreContractTests{TFixture}"/> needs from one blob store provider. One fixture
/// instance serves every test of a test class; dispose it to remove whatever it created.
/// </summary>
public interface IBlobStoreFixture
{
    /// <summary>Why this provider cannot be tested here (no bucket, no credentials...), or null when it can.</summary>
    string? UnavailableReason { get; }

    /// <summary>
    /// A store that sees no keys but the ones the calling test writes: a fresh directory for Local, a
    /// unique object prefix for a bucket. The fixture owns it and removes its objects when disposed.
    /// </summary>
    Task<IBlobStore> CreateStoreAsync(CancellationToken cancellationToken);
}
