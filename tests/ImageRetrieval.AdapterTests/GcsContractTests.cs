using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.AdapterTests;

/// <summary>The shared blob contract against the GCS adapter talking to the in-memory fake bucket.</summary>
public sealed class GcsFakeContractTests(GcsFakeFixture fixture) : BlobStoreContractTests<GcsFakeFixture>(fixture);

/// <summary>The shared blob contract against a real bucket named by <c>GCS_TEST_BUCKET</c> (Application Default Credentials), else skipped.</summary>
public sealed class GcsContractTests(GcsBucketFixture fixture) : BlobStoreContractTests<GcsBucketFixture>(fixture);

/// <summary>Each store gets its own object prefix, so a test sees only its own keys.</summary>
public abstract class GcsFixtureBase : IBlobStoreFixture, IAsyncLifetime
{
    private readonly List<(ServiceProvider Provider, IBlobStore Store)> _stores = [];

    public virtual string? UnavailableReason => null;

    protected abstract Uri Endpoint { get; }

    protected abstract string Bucket { get; }

    private protected abstract Google.Apis.Auth.OAuth2.GoogleCredential? Credential { get; }

    public Task<IBlobStore> CreateStoreAsync(CancellationToken cancellationToken)
    {
        var provider = GcsTestHost.Build(Endpoint, Bucket, $"ct-{Guid.NewGuid():N}/", Credential);
        var store = provider.GcsStore();
        _stores.Add((provider, store));
        return Task.FromResult(store);
    }

    public abstract Task InitializeAsync();

    public virtual async Task DisposeAsync()
    {
        foreach (var (provider, store) in _stores)
        {
            try
            {
                var keys = new List<string>();
                await foreach (var key in store.ListKeysAsync("", default))
                {
                    keys.Add(key);
                }

                foreach (var key in keys)
                {
                    await store.DeleteAsync(key, default);
                }
            }
            catch (StoreUnavailableException)
            {
                // Best effort cleanup.
            }

            await provider.DisposeAsync();
        }
    }
}

[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes class fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed class GcsFakeFixture : GcsFixtureBase
{
    private readonly FakeGcsServer _server = new("contract-bucket", GcsSignedUrlTests.ConformanceKey()) { PageSize = 3 };

    protected override Uri Endpoint => _server.BaseUri;

    protected override string Bucket => "contract-bucket";

    private protected override Google.Apis.Auth.OAuth2.GoogleCredential Credential => GcsTestCredentials.Signing();

    public override Task InitializeAsync() => _server.StartAsync();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _server.DisposeAsync();
    }
}

public sealed class GcsBucketFixture : GcsFixtureBase
{
    private readonly string? _bucket = Environment.GetEnvironmentVariable("GCS_TEST_BUCKET");

    public override string? UnavailableReason =>
        string.IsNullOrEmpty(_bucket) ? "GCS_TEST_BUCKET is not set: real-bucket contract tests skipped." : null;

    protected override Uri Endpoint => new("https://storage.googleapis.com");

    protected override string Bucket => _bucket!;

    // null: the adapter's own Application Default Credentials.
    private protected override Google.Apis.Auth.OAuth2.GoogleCredential? Credential => null;

    public override Task InitializeAsync()
    {
        if (UnavailableReason is not null)
        {
            Console.WriteLine(UnavailableReason);
        }

        return Task.CompletedTask;
    }
}
