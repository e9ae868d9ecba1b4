using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

public static class QdrantRegistration
{
    /// <summary>
    /// The named <see cref="System.Net.Http.HttpClient"/> the gRPC channel sends through. Its primary handler is
    /// the transport: replace it (<c>ConfigurePrimaryHttpMessageHandler</c>) to put the client in front of
    /// something other than a Qdrant node, as the offline tests do.
    /// </summary>
    public const string HttpClientName = QdrantConnection.HttpClientName;

    /// <summary>
    /// Binds <see cref="QdrantOptions"/> (validated on start), registers the official client on one gRPC
    /// channel, its resilience pipeline and the store as the keyed singleton <see cref="VectorStoreRegistration.ProviderKey"/>.
    /// </summary>
    public static IServiceCollection AddQdrantVectorStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<QdrantOptions>(configuration, QdrantOptions.Section);

        services.AddHttpClient(HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(static () => new SocketsHttpHandler
            {
                // gRPC multiplexes calls on HTTP/2 connections; more than one when a connection's stream limit is reached.
                EnableMultipleHttp2Connections = true,
                // Pings keep idle connections through NATs and load balancers and notice a dead peer.
                KeepAlivePingDelay = TimeSpan.FromSeconds(60),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
                // New connections now and then, so a DNS change (a moved node) is followed.
                PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            })
            // The channel lives as long as the process; the factory must not rotate a handler under it.
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);

        services.AddSingleton<QdrantConnection>();
        services.AddSingleton<QdrantCalls>();
        services.AddKeyedSingleton<IVectorStore, QdrantVectorStore>(VectorStoreRegistration.ProviderKey);
        return services;
    }
}
