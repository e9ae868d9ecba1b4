using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ImageRetrieval.Infrastructure.BlobStores.Gcs;

public static class GcsRegistration
{
    /// <summary>
    /// Binds <see cref="GcsOptions"/> (validated on start), the Google credential (ADC or a key file), the
    /// resilient named HTTP handler the official client sends through, and the store as the keyed singleton
    /// <see cref="BlobStoreRegistration.ProviderKey"/>.
    /// </summary>
    public static IServiceCollection AddGcsBlobStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<GcsOptions>(configuration, GcsOptions.Section);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<GcsCredentialSource>();

        // The library's handler (bearer token, its own logging) sits above this chain.
        services.AddHttpClient(GcsConnection.HttpMessageHandlerName)
            .AddStoreResilience<GcsOptions>("gcs");

        services.AddSingleton<GcsConnection>();
        services.AddKeyedSingleton<IBlobStore, GcsBlobStore>(BlobStoreRegistration.ProviderKey);
        return services;
    }
}
