using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores;
using ImageRetrieval.Infrastructure.VectorStores.Qdrant;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.AdapterTests;

/// <summary>Builds the Qdrant adapter exactly as the Host does (configuration + DI) against a given URL.</summary>
internal static class QdrantTestHost
{
    public static ServiceProvider Build(Uri url, string collection, string? apiKey = "test-key", IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ImageRetrieval:VectorStore:Provider"] = "Qdrant",
            ["ImageRetrieval:VectorStore:Collection"] = collection,
            ["ImageRetrieval:VectorStore:Qdrant:Url"] = url.ToString(),
            ["ImageRetrieval:VectorStore:Qdrant:ApiKey"] = apiKey,
            // Offline tests keep backoff tiny; production defaults are 500 ms doubling.
            ["ImageRetrieval:VectorStore:Qdrant:RetryBaseDelay"] = "00:00:00.010",
            ["ImageRetrieval:VectorStore:Qdrant:Timeout"] = "00:00:05",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddOptions<VectorStoreOptions>().Bind(configuration.GetSection(VectorStoreOptions.Section));
        services.AddQdrantVectorStore(configuration);
        return services.BuildServiceProvider();
    }

    public static IVectorStore Store(this ServiceProvider provider) =>
        provider.GetRequiredKeyedService<IVectorStore>(VectorStoreRegistration.ProviderKey);
}

[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes the fake server through IAsyncLifetime.DisposeAsync.")]
public sealed class QdrantProtocolTests : IAsyncLifetime
{
    private const string Collection = "images";
    private const string Model = "facebook/vit-msn-base@main";
    private readonly FakeQdrantServer _server = new() { RequiredApiKey = "test-key" };
    private ServiceProvider _provider = null!;
    private IVectorStore _store = null!;

    public async Task InitializeAsync()
    {
        await _server.StartAsync();
        _provider = QdrantTestHost.Build(_server.BaseUri, Collection, extra: new Dictionary<string, string?>
        {
            ["ImageRetrieval:VectorStore:Qdrant:UpsertBatchSize"] = "2",
        });
        _store = _provider.Store();
    }

    public async Task DisposeAsync()
    {
        await _provider.DisposeAsync();
        await _server.DisposeAsync();
    }

    private static string Hex(int n) => n.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);

    private static VectorRecord Record(int n, float[] vector, string color = "red") =>
        new(Hex(n), vector, new Dictionary<string, JsonElement>
        {
            ["color"] = JsonSerializer.SerializeToElement(color),
            ["n"] = JsonSerializer.SerializeToElement(n),
        });

    [Fact]
    public async Task Given_no_collection_When_ensured_Then_creates_cosine_collection_and_meta_companion_with_api_key()
    {
        var descriptor = await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 4), default);

        Assert.Equal(new CollectionDescriptor(Collection, Model, 4), descriptor);
        var requests = _server.Requests;
        Assert.All(requests, r => Assert.Equal("test-key", r.Header("api-key")));
        Assert.Collection(requests,
            r => Assert.Equal(("GET", "/aliases"), (r.Method, r.Path)),
            r => Assert.Equal(("GET", "/collections/images"), (r.Method, r.Path)),
            r =>
            {
                Assert.Equal(("PUT", "/collections/images"), (r.Method, r.Path));
                Assert.Equal("""{"vectors":{"size":4,"distance":"Cosine"}}""", r.BodyText);
                Assert.StartsWith("application/json", r.Header("Content-Type"), StringComparison.Ordinal);
            },
            r =>
            {
                Assert.Equal(("PUT", "/collections/images__meta"), (r.Method, r.Path));
                Assert.Equal("""{"vectors":{"size":1,"distance":"Dot"}}""", r.BodyText);
            },
            r =>
            {
                Assert.Equal(("PUT", "/collections/images__meta/points"), (r.Method, r.Path));
                Assert.Equal("true", r.QueryValue("wait"));
                var point = JsonNode.Parse(r.BodyText)!["points"]![0]!;
                Assert.Equal(QdrantVectorStore.MetaPointId, point["id"]!.GetValue<string>());
                Assert.Equal(Model, point["payload"]!["model"]!.GetValue<string>());
                Assert.Equal(4, point["payload"]!["dimension"]!.GetValue<int>());
            });
        Assert.Equal(4, _server.Find("images")!.Size);
    }

    [Fact]
    public async Task Given_existing_collection_When_ensured_with_another_model_Then_returns_the_stored_descriptor()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 4), default);
        await using var second = QdrantTestHost.Build(_server.BaseUri, Collection);

        var descriptor = await second.Store().EnsureCollectionAsync(new CollectionDescriptor(Collection, "other/model", 8), default);

        Assert.Equal(new CollectionDescriptor(Collection, Model, 4), descriptor);
        Assert.DoesNotContain(_server.Requests.Skip(5), r => r.Method == "PUT");
    }

    [Fact]
    public async Task Given_existing_collection_with_dot_distance_When_ensured_Then_fails_with_a_clear_request_error()
    {
        _server.AddCollection(Collection, 4, "Dot");

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 4), default));

        Assert.Contains("Dot distance", error.Message, StringComparison.Ordinal);
        Assert.Contains("Cosine", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_five_records_and_batch_size_two_When_upserted_Then_three_waiting_puts_with_uuid_ids_and_payload()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _server.ClearRequests();

        await _store.UpsertAsync([.. Enumerable.Range(1, 5).Select(n => Record(n, [n, 1]))], default);

        var puts = _server.Requests;
        Assert.Equal(3, puts.Count);
        Assert.All(puts, r => Assert.Equal(("PUT", "/collections/images/points", "true"), (r.Method, r.Path, r.QueryValue("wait"))));
        Assert.Equal([2, 2, 1], puts.Select(r => JsonNode.Parse(r.BodyText)!["points"]!.AsArray().Count));
        var first = JsonNode.Parse(puts[0].BodyText)!["points"]![0]!;
        Assert.Equal("00000000-0000-0000-0000-000000000001", first["id"]!.GetValue<string>());
        Assert.Equal([1f, 1f], first["vector"]!.AsArray().Select(v => v!.GetValue<float>()));
        Assert.Equal(Hex(1), first["payload"]!["_id"]!.GetValue<string>());
        Assert.Equal("red", first["payload"]!["color"]!.GetValue<string>());
        Assert.Equal(5, await _store.CountAsync(default));
    }

    [Fact]
    public async Task Given_filter_exclusions_and_min_score_When_queried_Then_body_maps_each_field_and_results_come_back_best_first()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        await _store.UpsertAsync([Record(1, [1, 0]), Record(2, [1, 0.2f], "blue"), Record(3, [1, 0.5f]), Record(4, [0, 1]), Record(5, [1, 0.1f])], default);
        _server.ClearRequests();
        var filter = new MetadataFilter(
        [
            new FieldCondition("color", [JsonSerializer.SerializeToElement("red")]),
            new FieldCondition("n", [JsonSerializer.SerializeToElement(1), JsonSerializer.SerializeToElement(3), JsonSerializer.SerializeToElement(4), JsonSerializer.SerializeToElement(5)]),
        ]);

        var hits = await _store.QueryAsync(new VectorQuery(new float[] { 1, 0 }, 3, filter, MinScore: 0.5f, ExcludeIds: [Hex(5)]), default);

        var request = Assert.Single(_server.Requests);
        Assert.Equal(("POST", "/collections/images/points/query"), (request.Method, request.Path));
        var body = JsonNode.Parse(request.BodyText)!;
        Assert.Equal([1f, 0f], body["query"]!.AsArray().Select(v => v!.GetValue<float>()));
        Assert.Equal(3, body["limit"]!.GetValue<int>());
        Assert.Equal(0.5f, body["score_threshold"]!.GetValue<float>());
        Assert.True(body["with_payload"]!.GetValue<bool>());
        Assert.False(body["with_vector"]!.GetValue<bool>());
        Assert.Equal("""[{"key":"color","match":{"value":"red"}},{"key":"n","match":{"any":[1,3,4,5]}}]""", body["filter"]!["must"]!.ToJsonString());
        Assert.Equal($$"""[{"has_id":["{{QdrantVectorStore.ToPointId(Hex(5))}}"]}]""", body["filter"]!["must_not"]!.ToJsonString());
        Assert.Equal([Hex(1), Hex(3)], hits.Select(h => h.Record.Id));
        Assert.Equal(1f, hits[0].Score, 3);
        Assert.True(hits[1].Score is > 0.5f and < 1f);
        Assert.Equal("red", hits[0].Record.Metadata["color"].GetString());
        Assert.False(hits[0].Record.Metadata.ContainsKey(QdrantVectorStore.IdPayloadKey));
    }

    [Fact]
    public async Task Given_fractional_and_mixed_values_When_filtered_Then_range_and_nested_should_are_used()
    {
        var filter = new MetadataFilter(
        [
            new FieldCondition("ratio", [JsonSerializer.SerializeToElement(0.5)]),
            new FieldCondition("tag", [JsonSerializer.SerializeToElement("a"), JsonSerializer.SerializeToElement(true)]),
        ]);

        var mapped = QdrantFilterMapper.ToFilter(filter, excludedPointIds: null)!;

        var json = JsonSerializer.Serialize(mapped, QdrantJsonContext.Default.QdrantFilter);
        Assert.Equal("""{"must":[{"key":"ratio","range":{"gte":0.5,"lte":0.5}},{"should":[{"key":"tag","match":{"value":"a"}},{"key":"tag","match":{"value":true}}]}]}""", json);
    }

    [Fact]
    public async Task Given_records_When_listed_Then_scroll_pages_in_id_order_with_next_page_offset_as_cursor()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        await _store.UpsertAsync([Record(3, [1, 0]), Record(1, [1, 0]), Record(2, [1, 0])], default);
        _server.ClearRequests();

        var first = await _store.ListAsync(2, null, default);
        var second = await _store.ListAsync(2, first.NextCursor, default);

        Assert.Equal([Hex(1), Hex(2)], first.Items.Select(r => r.Id));
        Assert.Equal(QdrantVectorStore.ToPointId(Hex(3)), first.NextCursor);
        Assert.Equal([Hex(3)], second.Items.Select(r => r.Id));
        Assert.Null(second.NextCursor);
        var body = JsonNode.Parse(_server.Requests[1].BodyText)!;
        Assert.Equal("/collections/images/points/scroll", _server.Requests[1].Path);
        Assert.Equal(2, body["limit"]!.GetValue<int>());
        Assert.Equal(first.NextCursor, body["offset"]!.GetValue<string>());
        Assert.False(body["with_vector"]!.GetValue<bool>());
        Assert.Null(JsonNode.Parse(_server.Requests[0].BodyText)!["offset"]);
    }

    [Fact]
    public async Task Given_records_When_fetched_and_deleted_Then_retrieve_and_delete_use_point_ids_and_wait()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        await _store.UpsertAsync([Record(1, [3, 4]), Record(2, [1, 0])], default);
        _server.ClearRequests();

        var fetched = await _store.FetchAsync([Hex(1), Hex(9)], includeVectors: true, default);
        await _store.DeleteAsync([Hex(1)], default);

        var record = Assert.Single(fetched);
        Assert.Equal(Hex(1), record.Id);
        Assert.Equal([0.6f, 0.8f], record.Vector.ToArray()); // Qdrant stores cosine vectors normalised
        var retrieve = JsonNode.Parse(_server.Requests[0].BodyText)!;
        Assert.Equal($$"""{"ids":["{{QdrantVectorStore.ToPointId(Hex(1))}}","{{QdrantVectorStore.ToPointId(Hex(9))}}"],"with_payload":true,"with_vector":true}""", retrieve.ToJsonString());
        var delete = _server.Requests[1];
        Assert.Equal(("POST", "/collections/images/points/delete", "true"), (delete.Method, delete.Path, delete.QueryValue("wait")));
        Assert.Equal($$"""{"points":["{{QdrantVectorStore.ToPointId(Hex(1))}}"]}""", delete.BodyText);
        Assert.Equal(1, await _store.CountAsync(default));
        Assert.Equal("""{"exact":true}""", _server.Requests[^1].BodyText);
    }

    [Fact]
    public async Task Given_a_400_answer_When_upserting_Then_store_request_exception_carries_status_and_qdrant_error_without_retry()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _server.ClearRequests();
        _server.Script(new ScriptedAnswer(400, """{"status":{"error":"Wrong input: payload field name is invalid"},"time":0.0}"""));

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.UpsertAsync([Record(1, [1, 0])], default));

        Assert.Equal(400, error.ProviderStatusCode);
        Assert.Contains("payload field name is invalid", error.Message, StringComparison.Ordinal);
        Assert.Single(_server.Requests);
    }

    [Fact]
    public async Task Given_a_vector_of_another_dimension_When_upserting_Then_argument_exception_before_any_request()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _server.ClearRequests();

        await Assert.ThrowsAsync<ArgumentException>(() => _store.UpsertAsync([Record(1, [1, 0]), Record(2, [1, 0, 0])], default));

        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task Given_503_then_ok_When_counting_Then_the_call_is_retried_and_succeeds()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _server.ClearRequests();
        _server.Script(new ScriptedAnswer(503, """{"status":{"error":"Service Unavailable"}}"""));

        var count = await _store.CountAsync(default);

        Assert.Equal(0, count);
        Assert.Equal(2, _server.Requests.Count);
        Assert.All(_server.Requests, r => Assert.Equal("/collections/images/points/count", r.Path));
    }

    [Fact]
    public async Task Given_429_with_retry_after_When_querying_Then_waits_that_long_and_retries()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _server.ClearRequests();
        _server.Script(new ScriptedAnswer(429, """{"status":{"error":"Too many requests"}}""", Headers: new Dictionary<string, string> { ["Retry-After"] = "1" }));
        var watch = Stopwatch.StartNew();

        var hits = await _store.QueryAsync(new VectorQuery(new float[] { 1, 0 }, 5), default);

        Assert.Empty(hits);
        Assert.Equal(2, _server.Requests.Count);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"retried after {watch.Elapsed}, before Retry-After");
    }

    [Fact]
    public async Task Given_persistent_500_When_counting_Then_gives_up_after_the_retries_with_store_unavailable()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _server.ClearRequests();
        _server.Script([.. Enumerable.Repeat(new ScriptedAnswer(500, """{"status":{"error":"boom"}}"""), 10)]);

        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => _store.CountAsync(default));

        Assert.Equal(4, _server.Requests.Count); // first attempt + MaxRetries (3)
        Assert.Contains("500", error.Message, StringComparison.Ordinal);
        Assert.Equal(503, error.StatusCode);
    }

    [Fact]
    public async Task Given_wrong_api_key_When_checking_reachability_Then_store_request_exception_401()
    {
        await using var provider = QdrantTestHost.Build(_server.BaseUri, Collection, apiKey: "wrong");

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => provider.Store().CheckReachableAsync(default));

        Assert.Equal(401, error.ProviderStatusCode);
    }

    [Fact]
    public async Task Given_nothing_listening_When_checking_reachability_Then_store_unavailable()
    {
        await using var provider = QdrantTestHost.Build(new Uri("http://127.0.0.1:9/"), Collection, extra: new Dictionary<string, string?>
        {
            ["ImageRetrieval:VectorStore:Qdrant:MaxRetries"] = "1",
        });

        await Assert.ThrowsAsync<StoreUnavailableException>(() => provider.Store().CheckReachableAsync(default));
    }

    [Fact]
    public async Task Given_missing_collection_When_checking_reachability_Then_404_still_counts_as_reachable()
    {
        await _store.CheckReachableAsync(default);

        Assert.Equal(("GET", "/collections/images"), (_server.Requests[0].Method, _server.Requests[0].Path));
    }

    [Fact]
    public void Given_hex_and_other_ids_When_mapped_to_point_ids_Then_hex_keeps_its_digits_and_others_get_a_stable_uuid()
    {
        Assert.Equal("0123456789abcdef0123456789abcdef".Insert(20, "-").Insert(16, "-").Insert(12, "-").Insert(8, "-"), QdrantVectorStore.ToPointId("0123456789abcdef0123456789abcdef"));
        var other = QdrantVectorStore.ToPointId("photo-1");
        Assert.True(Guid.TryParse(other, out _));
        Assert.Equal(other, QdrantVectorStore.ToPointId("photo-1"));
        Assert.NotEqual(other, QdrantVectorStore.ToPointId("photo-2"));
        Assert.Equal('8', other[14]);
    }

    [Fact]
    public void Given_an_invalid_url_When_the_store_is_resolved_Then_options_validation_fails()
    {
        using var provider = QdrantTestHost.Build(new Uri("http://127.0.0.1/"), Collection, extra: new Dictionary<string, string?>
        {
            ["ImageRetrieval:VectorStore:Qdrant:Url"] = "not a url",
        });

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<QdrantOptions>>().Value);
        Assert.Contains("Url", error.Message, StringComparison.Ordinal);
    }
}
