// How a blob store provider plugs in (Gcs/ follows this; Local/ does already):
//
//   public static IServiceCollection AddGcsBlobStore(this IServiceCollection services, IConfiguration configuration)
//   {
//       services.AddValidatedOptions<GcsOptions>(configuration, GcsOptions.Section);
//       services.AddHttpClient<GcsClient>(...).AddStandardResilienceHandler();   // whatever the adapter needs
//       services.AddKeyedSingleton<IBlobStore, GcsBlobStore>(BlobStoreRegistration.ProviderKey);
//       return services;
//   }
//
// Rules:
// - Register the provider's store ONLY as the keyed singleton above (key BlobStoreRegistration.ProviderKey).
//   Never register a plain (unkeyed) IBlobStore: AddBlobStore owns that registration and points it at
//   InstrumentedBlobStore(keyed store), which adds the span, the duration histogram and the error counter.
// - Options that every provider shares (ServiceOptions, BlobStoreOptions) are bound here; bind only your own.
// - The container disposes the keyed singleton, so a store holding sockets or files implements IDisposable.
// - Don't add a health check: the "blob-store" readiness check below calls CheckReachableAsync on any provider.
// - The contract suite (tests/ImageRetrieval.AdapterTests/BlobStoreContractTests.cs) must pass for your store.
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.BlobStores.Gcs;
using ImageRetrieval.Infrastructure.BlobStores.Local;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.Infrastructure.BlobStores;

public static class BlobStoreRegistration
{
    /// <summary>The service key under which the configured provider registers its <see cref="IBlobStore"/>.</summary>
    public const string ProviderKey = "ImageRetrieval.BlobStore.Provider";

    public const string HealthCheckName = "blob-store";

    public static IServiceCollection AddBlobStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddServiceOptions(configuration);
        services.AddValidatedOptions<BlobStoreOptions>(configuration, BlobStoreOptions.Section);

        // Read now (not through IOptions) because the choice decides which services exist at all.
        var provider = configuration.GetSection(BlobStoreOptions.Section).Get<BlobStoreOptions>()?.Provider ?? BlobStoreProvider.Local;
        switch (provider)
        {
            case BlobStoreProvider.Local:
                services.AddKeyedSingleton<IBlobStore, LocalBlobStore>(ProviderKey);
                break;
            case BlobStoreProvider.Gcs:
                services.AddGcsBlobStore(configuration);
                break;
            default:
                throw new InvalidOperationException($"Unknown blob store provider '{provider}'.");
        }

        services.AddStoreTelemetry();
        services.AddSingleton<IBlobStore>(static sp => new InstrumentedBlobStore(sp.GetRequiredKeyedService<IBlobStore>(ProviderKey), sp.GetRequiredService<StoreTelemetry>()));
        services.AddStoreReadinessCheck<IBlobStore>(HealthCheckName, "blob store", s => s.ProviderName, (s, token) => s.CheckReachableAsync(token));
        return services;
    }

}

