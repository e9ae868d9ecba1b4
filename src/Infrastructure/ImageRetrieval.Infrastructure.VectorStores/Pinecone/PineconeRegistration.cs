using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.VectorStores.Pinecone;

public static class PineconeRegistration
{
    /// <summary>
    /// Binds <see cref="PineconeOptions"/> (validated on start), registers the resilient named HTTP client
    /// (with <c>Api-Key</c> and <c>X-Pinecone-API-Version</c> on every request) and the store as the
    /// keyed singleton <see cref="VectorStoreRegistration.ProviderKey"/>.
    /// </summary>
    public static IServiceCollection AddPineconeVectorStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<PineconeOptions>(configuration, PineconeOptions.Section);
        services.TryAddSingleton(TimeProvider.System);

        services.AddHttpClient(PineconeApi.HttpClientName, static (provider, http) =>
            {
                var options = provider.GetRequiredService<IOptions<PineconeOptions>>().Value;
                // The resilience pipeline owns timeouts (per attempt and overall).
                http.Timeout = Timeout.InfiniteTimeSpan;
                http.DefaultRequestHeaders.Add("Api-Key", options.ApiKey);
                http.DefaultRequestHeaders.Add("X-Pinecone-API-Version", options.ApiVersion);
            })
            .AddStoreResilience<PineconeOptions>("pinecone");

        services.AddSingleton<PineconeApi>();
        services.AddKeyedSingleton<IVectorStore, PineconeVectorStore>(VectorStoreRegistration.ProviderKey);
        return services;
    }
}
