using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.Abstractions;

/// <summary>
/// Makes sure vectors only meet vectors of the same model: the collection records the model id and
/// dimension it was built with, and a service running another model may neither write nor search it.
/// </summary>
public sealed class CollectionGuard(IVectorStore store, IOptions<VectorStoreOptions> options)
{
    private volatile CollectionDescriptor? verified;

    public async Task EnsureCompatibleAsync(string modelId, int dimension, CancellationToken cancellationToken)
    {
        if (verified is { } known && known.ModelId == modelId && known.Dimension == dimension)
        {
            return;
        }

        var wanted = new CollectionDescriptor(options.Value.Collection, modelId, dimension);
        var existing = await store.EnsureCollectionAsync(wanted, cancellationToken);
        if (existing.ModelId != modelId || existing.Dimension != dimension)
        {
            throw new ModelMismatchException(existing, wanted);
        }

        verified = existing;
    }

    /// <summary>Forget what was verified, after the collection was re-created.</summary>
    public void Reset() => verified = null;
}

public sealed class ModelMismatchException(CollectionDescriptor existing, CollectionDescriptor wanted)
    : ServiceProblemException(409, ProblemTypes.ModelMismatch, "Collection built with another model",
        $"Collection '{existing.Name}' holds {existing.Dimension}-d vectors of model '{existing.ModelId}', but this service embeds with " +
        $"'{wanted.ModelId}' ({wanted.Dimension}-d). Either configure the original model, or re-index every stored image with the " +
        "current one: `dotnet ImageRetrieval.Host.dll reindex` (it re-embeds the stored blobs and rewrites the collection).")
{
    public CollectionDescriptor Existing { get; } = existing;
}
