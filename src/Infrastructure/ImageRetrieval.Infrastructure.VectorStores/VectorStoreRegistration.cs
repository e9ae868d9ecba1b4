// How a vector store provider plugs in (Qdrant/, Pinecone/ follow this; Local/ does already):
//
//   public static IServiceCollection AddQdrantVectorStore(this IServiceCollection services, IConfiguration configuration)
//   {
//       services.AddOptions<QdrantOptions>().Bind(configuration.GetSection(QdrantOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
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
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.VectorStores;

public static class VectorStoreRegistration
{
    /// <summary>The service key under which the configured provider registers its <see cref="IVectorStore"/>.</summary>
    public const string ProviderKey = "ImageRetrieval.VectorStore.Provider";

    public const string HealthCheckName = "vector-store";

    public const string ReadinessTag = "ready";

    public static IServiceCollection AddVectorStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddServiceOptionsOnce(configuration);
        services.AddOptions<VectorStoreOptions>().Bind(configuration.GetSection(VectorStoreOptions.Section)).ValidateDataAnnotations().ValidateOnStart();

        // Read now (not through IOptions) because the choice decides which services exist at all.
        var provider = configuration.GetSection(VectorStoreOptions.Section).Get<VectorStoreOptions>()?.Provider ?? VectorStoreProvider.Local;
        switch (provider)
        {
            case VectorStoreProvider.Local:
                services.AddKeyedSingleton<IVectorStore, LocalVectorStore>(ProviderKey);
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

        services.AddSingleton<IVectorStore>(static sp => new InstrumentedVectorStore(sp.GetRequiredKeyedService<IVectorStore>(ProviderKey)));
        services.AddHealthChecks().AddCheck<VectorStoreReadinessCheck>(HealthCheckName, tags: [ReadinessTag]);
        return services;
    }

    /// <summary>
    /// The Host and the blob stores bind <see cref="ServiceOptions"/> too; binding it again would only
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
internal sealed class VectorStoreReadinessCheck(IVectorStore store) : IHealthCheck
{
    internal static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await store.CheckReachableAsync(timeout.Token);
            return HealthCheckResult.Healthy($"{store.ProviderName} vector store is reachable");
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"{store.ProviderName} vector store did not answer within {Timeout.TotalSeconds:0} s", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"{store.ProviderName} vector store is unreachable: {ex.Message}", ex);
        }
    }
}
