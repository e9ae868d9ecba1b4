using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ImageRetrieval.Infrastructure.BlobStores.Gcs;

public static class GcsRegistration
{
    /// <summary>
    /// Binds <see cref="GcsOptions"/> (validated on start), the Google credential (ADC or a key file), the
    /// resilient named HTTP client with a bearer token per request, and the store as the keyed singleton
    /// <see cref="BlobStoreRegistration.ProviderKey"/>.
    /// </summary>
    public static IServiceCollection AddGcsBlobStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<GcsOptions>()
            .Bind(configuration.GetSection(GcsOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IGcsCredential, GoogleGcsCredential>();
        services.TryAddTransient<GcsAuthorizationHandler>();

        services.AddHttpClient(GcsBlobStore.HttpClientName, static http => http.Timeout = Timeout.InfiniteTimeSpan)
            // Retries outside, token inside: every attempt carries a current token.
            .AddStoreResilience<GcsOptions>("gcs")
            .AddHttpMessageHandler<GcsAuthorizationHandler>();

        services.AddKeyedSingleton<IBlobStore, GcsBlobStore>(BlobStoreRegistration.ProviderKey);
        return services;
    }
}
