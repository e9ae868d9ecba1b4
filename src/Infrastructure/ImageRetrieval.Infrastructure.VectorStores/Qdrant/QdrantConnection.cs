using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using Qdrant.Client;
using Qdrant.Client.Grpc;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>
/// The one gRPC channel to Qdrant and the official <see cref="QdrantClient"/> over it, for the life of the
/// process (a channel multiplexes every call over its HTTP/2 connections).
/// <list type="bullet">
/// <item>The channel sends through the named client <see cref="HttpClientName"/> from <c>IHttpClientFactory</c>:
/// its primary handler is the transport (a <see cref="SocketsHttpHandler"/> with HTTP/2 keep-alive pings in
/// production; tests give it an in-memory Qdrant), and HTTP telemetry sees the calls like any other.</item>
/// <item>The api key goes into every call's metadata through an interceptor, as the client's own
/// <c>QdrantChannel</c> does.</item>
/// <item>The client gets <see cref="QdrantOptions.Timeout"/> as its gRPC deadline per call, and no logger: it
/// logs every failed call as an error, including the NotFound probes and the retried attempts that
/// <see cref="QdrantCalls"/> handles and logs itself.</item>
/// </list>
/// </summary>
internal sealed class QdrantConnection : IDisposable
{
    public const string HttpClientName = "ImageRetrieval.Qdrant";

    private readonly GrpcChannel _channel;
    private readonly QdrantGrpcClient _grpcClient;

    public QdrantConnection(IHttpClientFactory httpClientFactory, IOptions<QdrantOptions> options)
    {
        var settings = options.Value;
        var http = httpClientFactory.CreateClient(HttpClientName);
        // The gRPC deadline bounds each call; HttpClient's own 100 s default would cut long ones differently.
        http.Timeout = Timeout.InfiniteTimeSpan;
        _channel = GrpcChannel.ForAddress(settings.Url, new GrpcChannelOptions
        {
            HttpClient = http,
            DisposeHttpClient = true,
            // No service config, so no gRPC-level retries: those are QdrantCalls', with the knobs every store has.
        });
        var invoker = string.IsNullOrEmpty(settings.ApiKey)
            ? _channel.CreateCallInvoker()
            : _channel.Intercept(metadata =>
            {
                metadata.Add("api-key", settings.ApiKey);
                return metadata;
            });
        _grpcClient = new QdrantGrpcClient(invoker);
        Client = new QdrantClient(_grpcClient, settings.Timeout);
    }

    public QdrantClient Client { get; }

    public void Dispose()
    {
        Client.Dispose();
        _grpcClient.Dispose();
        _channel.Dispose();
    }
}
