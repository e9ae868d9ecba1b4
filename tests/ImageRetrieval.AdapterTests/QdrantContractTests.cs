using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;
using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores.Qdrant;
using Microsoft.Extensions.DependencyInjection;
using Qdrant.Client.Grpc;

namespace ImageRetrieval.AdapterTests;

/// <summary>The shared contract against the Qdrant adapter whose gRPC channel talks to the in-memory fake Qdrant.</summary>
public sealed class QdrantFakeContractTests(QdrantFakeFixture fixture)
    : VectorStoreContractTests<QdrantFakeFixture>(fixture);

/// <summary>
/// The shared contract against a real Qdrant over gRPC: <c>QDRANT_URL</c> (its gRPC address, port 6334 by
/// default; and optional <c>QDRANT_API_KEY</c>) when set, else a <c>qdrant/qdrant</c> container of the version
/// the official client was built against when a Docker engine answers, else skipped.
/// </summary>
public sealed class QdrantContractTests(QdrantServerFixture fixture)
    : VectorStoreContractTests<QdrantServerFixture>(fixture);

/// <summary>Stores built through DI on one Qdrant (a gRPC URL, or the fake transport); disposes them and deletes their collections.</summary>
public abstract class QdrantFixtureBase : IVectorStoreFixture, IAsyncLifetime
{
    private readonly List<(ServiceProvider Provider, string Collection)> _stores = [];
    private readonly Lock _gate = new();

    public string? UnavailableReason { get; protected set; }

    protected Uri? Url { get; set; }

    protected string? ApiKey { get; set; }

    protected FakeQdrantTransport? Transport { get; set; }

    public Task<IVectorStore> CreateStoreAsync(string collection, CancellationToken cancellationToken)
    {
        var provider = QdrantTestHost.Build(Url ?? throw new InvalidOperationException(UnavailableReason), collection, ApiKey, transport: Transport);
        lock (_gate)
        {
            _stores.Add((provider, collection));
        }

        return Task.FromResult(provider.Store());
    }

    public Task<IVectorStore> CreateReplicaAsync(string collection, CancellationToken cancellationToken) => CreateStoreAsync(collection, cancellationToken);

    // Qdrant with wait=true applies a write before answering: reads see it at once.
    public Task SettleAsync(IVectorStore store, long expectedCount, CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract Task InitializeAsync();

    public virtual async Task DisposeAsync()
    {
        foreach (var (provider, collection) in _stores)
        {
            try
            {
                // Re-index tests leave <name>--<hex> collections (and their __meta) beside the first one.
                var client = provider.GetRequiredService<QdrantConnection>().Client;
                foreach (var name in (await client.ListCollectionsAsync()).Where(n => n.StartsWith(collection, StringComparison.Ordinal)))
                {
                    await client.DeleteCollectionAsync(name);
                }
            }
            catch (Exception ex) when (ex is Grpc.Core.RpcException or Qdrant.Client.QdrantException)
            {
                // Best effort: a container (or the fake) is thrown away anyway.
            }

            await provider.DisposeAsync();
        }
    }
}

[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes class fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed class QdrantFakeFixture : QdrantFixtureBase
{
    public override Task InitializeAsync()
    {
        Transport = new FakeQdrantTransport { RequiredApiKey = "fixture-key" };
        Url = QdrantTestHost.FakeUrl;
        ApiKey = "fixture-key";
        return Task.CompletedTask;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Transport?.Dispose();
    }
}

public sealed class QdrantServerFixture : QdrantFixtureBase
{
    /// <summary>The server version the official client was generated from (what its own tests run against).</summary>
    public const string Image = "qdrant/qdrant:" + QdrantGrpcClient.QdrantVersion;
    private const int RestPort = 6333;
    private const int GrpcPort = 6334;
    private IContainer? _container;

    public override async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("QDRANT_URL") is { Length: > 0 } url)
        {
            Url = new Uri(url.TrimEnd('/') + "/");
            ApiKey = Environment.GetEnvironmentVariable("QDRANT_API_KEY") is { Length: > 0 } key ? key : null;
            return;
        }

        if (!File.Exists("/var/run/docker.sock") && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOCKER_HOST")))
        {
            UnavailableReason = "No Docker engine (no /var/run/docker.sock, DOCKER_HOST unset) and QDRANT_URL unset: real-Qdrant contract tests skipped.";
            Console.WriteLine(UnavailableReason);
            return;
        }

        try
        {
            // The adapter speaks gRPC (6334); readiness is only on the REST port (6333, GET /readyz).
            _container = new ContainerBuilder(Image)
                .WithPortBinding(RestPort, assignRandomHostPort: true)
                .WithPortBinding(GrpcPort, assignRandomHostPort: true)
                .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(request => request.ForPort(RestPort).ForPath("/readyz")))
                .Build();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await _container.StartAsync(timeout.Token);
            Url = new Uri($"http://{_container.Hostname}:{_container.GetMappedPublicPort(GrpcPort)}/");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            UnavailableReason = $"Docker engine did not run {Image}: {ex.GetType().Name}: {ex.Message}";
            Console.WriteLine(UnavailableReason);
        }
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }
}
