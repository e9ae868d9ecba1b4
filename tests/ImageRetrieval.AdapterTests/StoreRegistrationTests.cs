using System.Diagnostics;
using System.Diagnostics.Metrics;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.BlobStores;
using ImageRetrieval.Infrastructure.BlobStores.Local;
using ImageRetrieval.Infrastructure.VectorStores;
using ImageRetrieval.Infrastructure.VectorStores.Local;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.AdapterTests;

/// <summary>AddVectorStore / AddBlobStore: the provider switch, the instrumented decorator and the readiness checks.</summary>
public sealed class StoreRegistrationTests : IDisposable
{
    private readonly string _dataPath = Path.Combine(Path.GetTempPath(), "ir-registration-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Given_the_default_configuration_When_stores_are_resolved_Then_instrumented_local_stores_come_back()
    {
        await using var provider = Build();

        var vectors = Assert.IsType<InstrumentedVectorStore>(provider.GetRequiredService<IVectorStore>());
        var blobs = Assert.IsType<InstrumentedBlobStore>(provider.GetRequiredService<IBlobStore>());

        Assert.IsType<LocalVectorCollections>(vectors.Inner);
        Assert.IsType<LocalBlobStore>(blobs.Inner);
        Assert.Same(vectors, provider.GetRequiredService<IVectorStore>());
        Assert.Equal(Path.Combine(_dataPath, "vectors", "images.db"), ((LocalVectorCollections)vectors.Inner).DatabasePath);
    }

    [Fact]
    public async Task Given_both_stores_When_registered_Then_service_options_are_validated_once()
    {
        await using var provider = Build();

        Assert.Single(provider.GetServices<IValidateOptions<ServiceOptions>>());
    }

    [Fact]
    public async Task Given_an_invalid_collection_name_When_options_are_read_Then_validation_fails()
    {
        await using var provider = Build(("ImageRetrieval:VectorStore:Collection", "Not_Valid"));

        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<VectorStoreOptions>>().Value);
    }

    [Fact]
    public async Task Given_reachable_stores_When_readiness_is_checked_Then_both_checks_are_healthy()
    {
        await using var provider = Build();

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Tags.Contains("ready"));

        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal(["blob-store", "vector-store"], report.Entries.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Given_store_calls_When_made_Then_duration_errors_and_spans_are_recorded_with_store_and_operation()
    {
        await using var provider = Build();
        var store = provider.GetRequiredService<IVectorStore>();
        var measurements = new List<(string Instrument, string? Store, string? Operation)>();
        var spans = new List<string>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "ImageRetrieval" && instrument.Name.StartsWith("imageretrieval.store.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<double>((i, _, tags, _) => Record(i, tags));
        meters.SetMeasurementEventCallback<long>((i, _, tags, _) => Record(i, tags));
        meters.Start();
        using var activities = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "ImageRetrieval.Stores",
            Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                lock (spans)
                {
                    spans.Add(a.DisplayName + ":" + a.Status);
                }
            },
        };
        ActivitySource.AddActivityListener(activities);

        await store.CountAsync(CancellationToken.None);
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.UpsertAsync([new VectorRecord("x", new float[] { 1 }, new Dictionary<string, System.Text.Json.JsonElement>())], CancellationToken.None));

        lock (measurements)
        {
            Assert.Contains(("imageretrieval.store.call.duration", "Local", "count"), measurements);
            Assert.Contains(("imageretrieval.store.call.duration", "Local", "upsert"), measurements);
            Assert.Contains(("imageretrieval.store.errors", "Local", "upsert"), measurements);
            Assert.DoesNotContain(("imageretrieval.store.errors", "Local", "count"), measurements);
        }

        lock (spans)
        {
            Assert.Contains("vector count:Unset", spans);
            Assert.Contains("vector upsert:Error", spans);
        }

        void Record(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? storeTag = null, operation = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "store")
                {
                    storeTag = tag.Value as string;
                }
                else if (tag.Key == "operation")
                {
                    operation = tag.Value as string;
                }
            }

            lock (measurements)
            {
                measurements.Add((instrument.Name, storeTag, operation));
            }
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_dataPath))
        {
            Directory.Delete(_dataPath, recursive: true);
        }
    }

    private ServiceProvider Build(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ImageRetrieval:DataPath"] = _dataPath }
                .Concat(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))))
            .Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddVectorStore(configuration);
        services.AddBlobStore(configuration);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }
}
