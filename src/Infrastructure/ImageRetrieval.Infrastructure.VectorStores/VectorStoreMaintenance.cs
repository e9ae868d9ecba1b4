using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores.Local;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.Infrastructure.VectorStores;

/// <summary>
/// Operator maintenance of the configured store that the port does not carry, because only one provider
/// has it: the remote databases reclaim their own space.
/// </summary>
public static class VectorStoreMaintenance
{
    /// <summary>
    /// Compacts the vector segment of the Local provider's active collection (the slots of overwritten and
    /// deleted rows). Null when the provider is another one or the collection does not exist yet.
    /// </summary>
    public static async Task<SegmentCompaction?> CompactAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.GetRequiredKeyedService<IVectorStore>(VectorStoreRegistration.ProviderKey) is LocalVectorCollections local
            ? await local.CompactAsync(cancellationToken)
            : null;
    }
}
