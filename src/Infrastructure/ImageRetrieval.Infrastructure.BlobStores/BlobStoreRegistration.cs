// How a blob store provider plugs in (Gcs/ follows this; Local/ does already):
//
//   public static IServiceCollection AddGcsBlobStore(this IServiceCollection services, IConfiguration configuration)
//   {
//       services.AddOptions<GcsOptions>().Bind(configuration.GetSection(GcsOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
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
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.BlobStores;

public static class BlobStoreRegistration
{
    /// <summary>The service key under which the configured provider registers its <see cref="IBlobStore"/>.</summary>
    public const string ProviderKey = "ImageRetrieval.BlobStore.Provider";

    public const string HealthCheckName = "blob-store";

    public const string ReadinessTag = "ready";

    public static IServiceCollection AddBlobStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddServiceOptionsOnce(configuration);
        services.AddOptions<BlobStoreOptions>().Bind(configuration.GetSection(BlobStoreOptions.Section)).ValidateDataAnnotations().ValidateOnStart();

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

        services.AddSingleton<IBlobStore>(static sp => new InstrumentedBlobStore(sp.GetRequiredKeyedService<IBlobStore>(ProviderKey)));
        services.AddHealthChecks().AddCheck<BlobStoreReadinessCheck>(HealthCheckName, tags: [ReadinessTag]);
        return services;
    }

    /// <summary>
    /// The Host and the vector stores bind <see cref="ServiceOptions"/> too; binding it again would only
    /// repeat the same values, but a second data-annotations validator would report every error twice.
    /// </summary>
    private static void AddServiceOptionsOnce(this IServiceCollection services, IConfiguration configuration)
    {
        var builder = services.AddOptions<ServiceOptions>();
        var alreadyBound = services.Any(d => d.ServiceType == typeof(IValidateOptions<ServiceOptions>));
        if (!alreadyBound)
        {
            builder.Bind(configuration.GetSection(ServiceOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        }
    }
}

/// <summary>Readiness: the store answers a cheap call within a few seconds.</summary>
internal sealed class BlobStoreReadinessCheck(IBlobStore store) : IHealthCheck
{
    internal static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await store.CheckReachableAsync(timeout.Token);
            return HealthCheckResult.Healthy($"{store.ProviderName} blob store is reachable");
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"{store.ProviderName} blob store did not answer within {Timeout.TotalSeconds:0} s", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"{store.ProviderName} blob store is unreachable: {ex.Message}", ex);
        }
    }
}
