using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.Catalog;

/// <summary>
/// Makes sure vectors only meet vectors of the same model: the collection records the model id and
/// dimension it was built with, and a service running another model may neither write nor search it.
/// A positive check is trusted for <see cref="VectorStoreOptions.ModelCheckInterval"/> only: a re-index
/// run elsewhere can switch the collection to another model, and ensuring again is when the store
/// re-reads its pointer, so a replica left on the old model starts refusing (409) within that interval.
/// </summary>
internal sealed class CollectionGuard(IVectorStore store, IOptions<VectorStoreOptions> options, TimeProvider clock) : IDisposable
{
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private volatile Verified? _verified;

    public async Task EnsureCompatibleAsync(string modelId, int dimension, CancellationToken cancellationToken)
    {
        if (IsFresh(modelId, dimension))
        {
            return;
        }

        // One refresh at a time: a burst of requests after the interval costs the store one ensure, not one each.
        await _refresh.WaitAsync(cancellationToken);
        try
        {
            if (IsFresh(modelId, dimension))
            {
                return;
            }

            var wanted = new CollectionDescriptor(options.Value.Collection, modelId, dimension);
            var existing = await store.EnsureCollectionAsync(wanted, cancellationToken);
            if (existing.ModelId != modelId || existing.Dimension != dimension)
            {
                _verified = null;
                throw new ModelMismatchException(existing, wanted);
            }

            _verified = new Verified(existing, clock.GetUtcNow());
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>Forget what was verified, after the collection was re-created or switched.</summary>
    public void Reset() => _verified = null;

    public void Dispose() => _refresh.Dispose();

    private bool IsFresh(string modelId, int dimension) =>
        _verified is { } known
        && known.Descriptor.ModelId == modelId
        && known.Descriptor.Dimension == dimension
        && clock.GetUtcNow() - known.At < options.Value.ModelCheckInterval;

    private sealed record Verified(CollectionDescriptor Descriptor, DateTimeOffset At);
}

internal sealed class ModelMismatchException(CollectionDescriptor existing, CollectionDescriptor wanted)
    : ServiceProblemException(ProblemTypes.ModelMismatch, "Collection built with another model",
        $"Collection '{existing.Name}' holds {existing.Dimension}-d vectors of model '{existing.ModelId}', but this service embeds with " +
        $"'{wanted.ModelId}' ({wanted.Dimension}-d). Either configure the model the collection holds, or re-index every stored image with the " +
        "current one: `dotnet ImageRetrieval.Host.dll reindex` (it builds the new collection beside the old one and switches when complete).")
{
    public CollectionDescriptor Existing { get; } = existing;
}
