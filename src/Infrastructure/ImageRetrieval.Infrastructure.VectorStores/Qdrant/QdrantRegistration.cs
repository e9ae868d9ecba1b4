using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

public static class QdrantRegistration
{
    /// <summary>
    /// Binds <see cref="QdrantOptions"/> (validated on start), registers the resilient named HTTP client
    /// and the store as the keyed singleton <see cref="VectorStoreRegistration.ProviderKey"/>.
    /// </summary>
    public static IServiceCollection AddQdrantVectorStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<QdrantOptions>()
            .Bind(configuration.GetSection(QdrantOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.AddHttpClient(QdrantApi.HttpClientName, static (provider, http) =>
            {
                var options = provider.GetRequiredService<IOptions<QdrantOptions>>().Value;
                http.BaseAddress = new Uri(options.Url.TrimEnd('/') + "/");
                // The resilience pipeline owns timeouts (per attempt and overall).
                http.Timeout = Timeout.InfiniteTimeSpan;
                if (!string.IsNullOrEmpty(options.ApiKey))
                {
                    http.DefaultRequestHeaders.Add("api-key", options.ApiKey);
                }
            })
            .AddStoreResilience<QdrantOptions>("qdrant");

        services.AddSingleton<QdrantApi>();
        services.AddKeyedSingleton<IVectorStore, QdrantVectorStore>(VectorStoreRegistration.ProviderKey);
        return services;
    }
}
