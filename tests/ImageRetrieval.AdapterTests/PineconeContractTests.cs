using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores;
using ImageRetrieval.Infrastructure.VectorStores.Pinecone;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.AdapterTests;

/// <summary>Builds the Pinecone adapter as the Host does (configuration + DI).</summary>
internal static class PineconeTestHost
{
    public static ServiceProvider Build(Uri controlPlane, string index, string apiKey, string? ns = null, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ImageRetrieval:VectorStore:Provider"] = "Pinecone",
            ["ImageRetrieval:VectorStore:Collection"] = index,
            ["ImageRetrieval:VectorStore:Namespace"] = ns ?? "",
            ["ImageRetrieval:VectorStore:Pinecone:ApiKey"] = apiKey,
            ["ImageRetrieval:VectorStore:Pinecone:ControlPlaneUrl"] = controlPlane.ToString(),
            ["ImageRetrieval:VectorStore:Pinecone:RetryBaseDelay"] = "00:00:00.010",
            ["ImageRetrieval:VectorStore:Pinecone:IndexPollInterval"] = "00:00:00.010",
        };
        return VectorStoreTestHost.Build(settings, extra, (services, configuration) => services.AddPineconeVectorStore(configuration));
    }

    public static IVectorStore PineconeStore(this ServiceProvider provider) =>
        provider.GetRequiredKeyedService<IVectorStore>(VectorStoreRegistration.ProviderKey);
}

/// <summary>The shared contract against the Pinecone adapter talking to the in-memory fake, which
/// makes writes visible to queries only after 50 ms, like serverless Pinecone's eventual consistency.</summary>
public sealed class PineconeFakeContractTests(PineconeFakeFixture fixture)
    : VectorStoreContractTests<PineconeFakeFixture>(fixture);

/// <summary>The shared contract against real Pinecone when <c>PINECONE_API_KEY</c> is set, else skipped.</summary>
public sealed class PineconeContractTests(PineconeServiceFixture fixture)
    : VectorStoreContractTests<PineconeServiceFixture>(fixture);

[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes class fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed class PineconeFakeFixture : IVectorStoreFixture, IAsyncLifetime
{
    private readonly FakePineconeServer _server = new() { VisibilityDelay = TimeSpan.FromMilliseconds(50) };
    private readonly List<ServiceProvider> _providers = [];

    public string? UnavailableReason => null;

    public Task InitializeAsync() => _server.StartAsync();

    public Task<IVectorStore> CreateStoreAsync(string collection, CancellationToken cancellationToken)
    {
        var provider = PineconeTestHost.Build(_server.BaseUri, collection, FakePineconeServer.ApiKey);
        _providers.Add(provider);
        return Task.FromResult(provider.PineconeStore());
    }

    public Task<IVectorStore> CreateReplicaAsync(string collection, CancellationToken cancellationToken) => CreateStoreAsync(collection, cancellationToken);

    public async Task SettleAsync(IVectorStore store, long expectedCount, CancellationToken cancellationToken)
    {
        await PineconeSettle.UntilCountAsync(store, expectedCount, TimeSpan.FromSeconds(10), cancellationToken);
        // A count cannot show an overwrite or a delete+insert; the fake can tell us its queue is drained.
        while (_server.HasPendingWrites)
        {
            await Task.Delay(10, cancellationToken);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }

        await _server.DisposeAsync();
    }
}

/// <summary>
/// Real Pinecone: one serverless index per test (the contract recreates indexes with other dimensions,
/// which a shared index cannot survive), named <c>ct-...</c>; the previous test's index is deleted when
/// the next one starts and the last on dispose, so at most two exist at once (the Starter plan allows five).
/// </summary>
public sealed class PineconeServiceFixture : IVectorStoreFixture, IAsyncLifetime
{
    private readonly string? _apiKey = Environment.GetEnvironmentVariable("PINECONE_API_KEY");
    private readonly List<(ServiceProvider Provider, string Index)> _stores = [];

    public string? UnavailableReason => string.IsNullOrEmpty(_apiKey) ? "PINECONE_API_KEY is not set: real-Pinecone contract tests skipped." : null;

    public Task InitializeAsync()
    {
        if (UnavailableReason is not null)
        {
            Console.WriteLine(UnavailableReason);
        }

        return Task.CompletedTask;
    }

    public async Task<IVectorStore> CreateStoreAsync(string collection, CancellationToken cancellationToken)
    {
        await DeleteAllAsync();
        return Build(collection);
    }

    /// <summary>Unlike a new store, a replica keeps the indexes the test made so far.</summary>
    public Task<IVectorStore> CreateReplicaAsync(string collection, CancellationToken cancellationToken) => Task.FromResult(Build(collection));

    private IVectorStore Build(string collection)
    {
        var cloud = Environment.GetEnvironmentVariable("PINECONE_CLOUD") ?? "aws";
        var region = Environment.GetEnvironmentVariable("PINECONE_REGION") ?? "us-east-1";
        var provider = PineconeTestHost.Build(new Uri("https://api.pinecone.io"), collection, _apiKey!, extra: new Dictionary<string, string?>
        {
            ["ImageRetrieval:VectorStore:Pinecone:Cloud"] = cloud,
            ["ImageRetrieval:VectorStore:Pinecone:Region"] = region,
            ["ImageRetrieval:VectorStore:Pinecone:IndexPollInterval"] = "00:00:01",
            ["ImageRetrieval:VectorStore:Pinecone:RetryBaseDelay"] = "00:00:00.500",
        });
        _stores.Add((provider, collection));
        return provider.PineconeStore();
    }

    /// <summary>Polls describe_index_stats until the count matches, then allows the query index a moment more
    /// (a count cannot show an overwrite); Pinecone documents freshness within seconds.</summary>
    public async Task SettleAsync(IVectorStore store, long expectedCount, CancellationToken cancellationToken)
    {
        await PineconeSettle.UntilCountAsync(store, expectedCount, TimeSpan.FromSeconds(60), cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
    }

    public Task DisposeAsync() => DeleteAllAsync();

    private async Task DeleteAllAsync()
    {
        foreach (var (provider, index) in _stores)
        {
            try
            {
                using var http = new HttpClient();
                http.DefaultRequestHeaders.Add("Api-Key", _apiKey);
                http.DefaultRequestHeaders.Add("X-Pinecone-API-Version", "2025-04");
                // Re-index tests leave <name>--<hex> indexes beside the first one.
                var listed = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(new Uri("https://api.pinecone.io/indexes")));
                var names = listed?["indexes"]?.AsArray().Select(i => i!["name"]!.GetValue<string>()).Where(n => n.StartsWith(index, StringComparison.Ordinal)) ?? [];
                foreach (var name in names.Append(index).Distinct())
                {
                    using var _ = await http.DeleteAsync(new Uri($"https://api.pinecone.io/indexes/{name}"));
                }
            }
            catch (HttpRequestException)
            {
                // Best effort; a leftover ct-* index can be deleted by hand.
            }

            await provider.DisposeAsync();
        }

        _stores.Clear();
    }
}

internal static class PineconeSettle
{
    public static async Task UntilCountAsync(IVectorStore store, long expectedCount, TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + limit;
        while (await store.CountAsync(cancellationToken) != expectedCount)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Pinecone count did not reach {expectedCount} within {limit}.");
            }

            await Task.Delay(20, cancellationToken);
        }
    }
}
