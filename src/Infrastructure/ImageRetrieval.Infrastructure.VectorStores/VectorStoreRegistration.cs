// How a vector store provider plugs in (Qdrant/, Pinecone/ follow this; Local/ does already):
//
//   public static IServiceCollection AddQdrantVectorStore(this IServiceCollection services, IConfiguration configuration)
//   {
//       services.AddValidatedOptions<QdrantOptions>(configuration, QdrantOptions.Section);
//       services.AddHttpClient<QdrantClient>(...).AddStandardResilienceHandler();   // whatever the adapter needs
//       services.AddKeyedSingleton<IVectorStore, QdrantVectorStore>(VectorStoreRegistration.ProviderKey);
//       return services;
//   }
//
// Rules:
// - Register the provider's store ONLY as the keyed singleton above (key VectorStoreRegistration.ProviderKey).
//   Never register a plain (unkeyed) IVectorStore: AddVectorStore owns that registration and points it
//   at InstrumentedVectorStore(keyed store), which adds the span, the duration histogram and the error counter.
// - Options that every provider shares (ServiceOptions, VectorStoreOptions) are bound here; bind only your own.
// - The container disposes the keyed singleton, so a store holding sockets or files implements IDisposable.
// - Don't add a health check: the "vector-store" readiness check below calls CheckReachableAsync on any provider.
// - The contract suite (tests/ImageRetrieval.AdapterTests/VectorStoreContractTests.cs) must pass for your store.
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores.Local;
using ImageRetrieval.Infrastructure.VectorStores.Pinecone;
using ImageRetrieval.Infrastructure.VectorStores.Qdrant;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.Infrastructure.VectorStores;

public static class VectorStoreRegistration
{
    /// <summary>The service key under which the configured provider registers its <see cref="IVectorStore"/>.</summary>
    public const string ProviderKey = "ImageRetrieval.VectorStore.Provider";

    public const string HealthCheckName = "vector-store";

    public static IServiceCollection AddVectorStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddServiceOptions(configuration);
        services.AddValidatedOptions<VectorStoreOptions>(configuration, VectorStoreOptions.Section);

        // Read now (not through IOptions) because the choice decides which services exist at all.
        var provider = configuration.GetSection(VectorStoreOptions.Section).Get<VectorStoreOptions>()?.Provider ?? VectorStoreProvider.Local;
        switch (provider)
        {
            case VectorStoreProvider.Local:
                services.AddValidatedOptions<LocalVectorStoreOptions>(configuration, LocalVectorStoreOptions.Section);
                services.AddKeyedSingleton<IVectorStore, LocalVectorCollections>(ProviderKey);
                break;
            case VectorStoreProvider.Qdrant:
                services.AddQdrantVectorStore(configuration);
                break;
            case VectorStoreProvider.Pinecone:
                services.AddPineconeVectorStore(configuration);
                break;
            default:
                throw new InvalidOperationException($"Unknown vector store provider '{provider}'.");
        }

        services.AddStoreTelemetry();
        services.AddSingleton<IVectorStore>(static sp => new InstrumentedVectorStore(sp.GetRequiredKeyedService<IVectorStore>(ProviderKey), sp.GetRequiredService<StoreTelemetry>()));
        services.AddStoreReadinessCheck<IVectorStore>(HealthCheckName, "vector store", s => s.ProviderName, (s, token) => s.CheckReachableAsync(token));
        return services;
    }

}

