using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;
using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.AdapterTests;

/// <summary>The shared contract against the Qdrant adapter talking to the in-memory fake Qdrant.</summary>
public sealed class QdrantFakeContractTests(QdrantFakeFixture fixture)
    : VectorStoreContractTests<QdrantFakeFixture>(fixture);

/// <summary>
/// The shared contract against a real Qdrant: <c>QDRANT_URL</c> (and optional <c>QDRANT_API_KEY</c>)
/// when set, else a <c>qdrant/qdrant</c> container when a Docker engine answers, else skipped.
/// </summary>
public sealed class QdrantContractTests(QdrantServerFixture fixture)
    : VectorStoreContractTests<QdrantServerFixture>(fixture);

/// <summary>Stores built through DI on one Qdrant URL; disposes them and deletes their collections.</summary>
public abstract class QdrantFixtureBase : IVectorStoreFixture, IAsyncLifetime
{
    private readonly List<(ServiceProvider Provider, string Collection)> _stores = [];
    private readonly Lock _gate = new();

    public string? UnavailableReason { get; protected set; }

    protected Uri? Url { get; set; }

    protected string? ApiKey { get; set; }

    public Task<IVectorStore> CreateStoreAsync(string collection, CancellationToken cancellationToken)
    {
        var provider = QdrantTestHost.Build(Url ?? throw new InvalidOperationException(UnavailableReason), collection, ApiKey);
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
                using var http = new HttpClient { BaseAddress = Url };
                if (ApiKey is not null)
                {
                    http.DefaultRequestHeaders.Add("api-key", ApiKey);
                }

                // Re-index tests leave <name>--<hex> collections (and their __meta) beside the first one.
                var listed = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(new Uri("collections", UriKind.Relative)));
                var names = listed?["result"]?["collections"]?.AsArray().Select(c => c!["name"]!.GetValue<string>()) ?? [];
                foreach (var name in names.Where(n => n.StartsWith(collection, StringComparison.Ordinal)).Distinct())
                {
                    await http.DeleteAsync(new Uri($"collections/{name}", UriKind.Relative));
                }
            }
            catch (HttpRequestException)
            {
                // Best effort: a container is thrown away anyway.
            }

            await provider.DisposeAsync();
        }
    }
}

[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes class fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed class QdrantFakeFixture : QdrantFixtureBase
{
    private readonly FakeQdrantServer _server = new() { RequiredApiKey = "fixture-key" };

    public override async Task InitializeAsync()
    {
        await _server.StartAsync();
        Url = _server.BaseUri;
        ApiKey = "fixture-key";
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _server.DisposeAsync();
    }
}

public sealed class QdrantServerFixture : QdrantFixtureBase
{
    public const string Image = "qdrant/qdrant:v1.13.4";
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
            _container = new ContainerBuilder(Image)
                .WithPortBinding(6333, assignRandomHostPort: true)
                .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(request => request.ForPort(6333).ForPath("/readyz")))
                .Build();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await _container.StartAsync(timeout.Token);
            Url = new Uri($"http://{_container.Hostname}:{_container.GetMappedPublicPort(6333)}/");
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
