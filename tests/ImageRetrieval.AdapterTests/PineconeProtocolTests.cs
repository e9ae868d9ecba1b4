using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores.Pinecone;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.AdapterTests;

[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes the fake server through IAsyncLifetime.DisposeAsync.")]
public sealed class PineconeProtocolTests : IAsyncLifetime
{
    private const string Index = "images";
    private const string Model = "facebook/vit-msn-base@main";
    private readonly FakePineconeServer _server = new();
    private ServiceProvider _provider = null!;
    private IVectorStore _store = null!;

    public async Task InitializeAsync()
    {
        await _server.StartAsync();
        _provider = PineconeTestHost.Build(_server.BaseUri, Index, FakePineconeServer.ApiKey, ns: "tenant-a");
        _store = _provider.PineconeStore();
    }

    public async Task DisposeAsync()
    {
        await _provider.DisposeAsync();
        await _server.DisposeAsync();
    }

    private static VectorRecord Record(string id, float[] vector, params (string Key, object Value)[] meta) =>
        new(id, vector, meta.ToDictionary(m => m.Key, m => JsonSerializer.SerializeToElement(m.Value), StringComparer.Ordinal));

    private async Task EnsureAsync(int dimension = 2)
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Index, Model, dimension), default);
        _server.ClearRequests();
    }

    [Fact]
    public async Task Given_no_index_When_ensured_Then_creates_a_serverless_cosine_index_tagged_with_the_model_and_waits_until_ready()
    {
        var descriptor = await _store.EnsureCollectionAsync(new CollectionDescriptor(Index, Model, 768), default);

        Assert.Equal(new CollectionDescriptor(Index, Model, 768), descriptor);
        var requests = _server.Requests;
        Assert.All(requests, r =>
        {
            Assert.Equal(FakePineconeServer.ApiKey, r.Header("Api-Key"));
            Assert.Equal("2025-04", r.Header("X-Pinecone-API-Version"));
        });
        Assert.Equal(
            ["GET /indexes", "POST /indexes", "GET /indexes/images", "GET /indexes/images"],
            requests.Select(r => $"{r.Method} {r.Path}"));
        var create = JsonNode.Parse(requests[1].BodyText)!;
        Assert.Equal("images", create["name"]!.GetValue<string>());
        Assert.Equal(768, create["dimension"]!.GetValue<int>());
        Assert.Equal("cosine", create["metric"]!.GetValue<string>());
        Assert.Equal("dense", create["vector_type"]!.GetValue<string>());
        Assert.Equal("""{"serverless":{"cloud":"gcp","region":"us-central1"}}""", create["spec"]!.ToJsonString());
        Assert.Equal("disabled", create["deletion_protection"]!.GetValue<string>());
        Assert.Equal("facebook;2Fvit-msn-base@main", create["tags"]!["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task Given_an_existing_index_When_ensured_with_another_model_Then_returns_the_model_from_its_tags()
    {
        await EnsureAsync(4);
        await using var second = PineconeTestHost.Build(_server.BaseUri, Index, FakePineconeServer.ApiKey);

        var descriptor = await second.PineconeStore().EnsureCollectionAsync(new CollectionDescriptor(Index, "other", 8), default);

        Assert.Equal(new CollectionDescriptor(Index, Model, 4), descriptor);
        Assert.DoesNotContain(_server.Requests, r => r.Method != "GET");
    }

    [Fact]
    public async Task Given_an_untagged_index_of_the_right_dimension_When_ensured_Then_it_is_adopted_by_patching_the_tags()
    {
        _server.AddIndex(Index, 2, "cosine", new JsonObject { ["team"] = "search" });

        var descriptor = await _store.EnsureCollectionAsync(new CollectionDescriptor(Index, Model, 2), default);

        Assert.Equal(Model, descriptor.ModelId);
        var patch = Assert.Single(_server.Requests, r => r.Method == "PATCH");
        Assert.Equal("/indexes/images", patch.Path);
        Assert.Equal("""{"tags":{"team":"search","model":"facebook;2Fvit-msn-base@main"}}""", patch.BodyText);
    }

    [Fact]
    public async Task Given_an_index_shared_with_another_namespace_When_a_reindex_opens_staging_Then_it_is_refused_before_any_index_is_created()
    {
        await EnsureAsync();
        await _store.UpsertAsync([Record("a-1", [1, 0])], default);
        await using var other = PineconeTestHost.Build(_server.BaseUri, Index, FakePineconeServer.ApiKey, ns: "tenant-b");
        await other.PineconeStore().EnsureCollectionAsync(new CollectionDescriptor(Index, Model, 2), default);
        await other.PineconeStore().UpsertAsync([Record("b-1", [0, 1])], default);

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.OpenStagingAsync(new CollectionDescriptor(Index, "new-model", 2), default));

        Assert.Contains("tenant-b", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_server.Requests, r => r.Method == "POST" && r.Path == "/indexes");
        Assert.Empty(await _store.ListInactiveAsync(default));
    }

    [Fact]
    public async Task Given_a_dotproduct_index_When_ensured_Then_a_clear_request_error()
    {
        _server.AddIndex(Index, 2, "dotproduct");

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.EnsureCollectionAsync(new CollectionDescriptor(Index, Model, 2), default));

        Assert.Contains("dotproduct", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("facebook/vit-msn-base@main")]
    [InlineData("C:\\models\\vit tiny;v2")]
    [InlineData("модель/ü")]
    public void Given_any_model_id_When_kept_in_tags_Then_only_allowed_characters_are_written_and_it_reads_back(string modelId)
    {
        var longId = modelId + new string('x', 300);

        foreach (var id in new[] { modelId, longId })
        {
            var tags = PineconeModelTag.ToTags(id);
            Assert.All(tags, t => Assert.Matches("^[A-Za-z0-9;@_.+ -]{1,120}$", t.Value));
            Assert.All(tags.Keys, k => Assert.Matches("^model(_[0-9]+)?$", k));
            Assert.Equal(id, PineconeModelTag.FromTags(tags));
        }
    }

    [Fact]
    public async Task Given_2500_records_When_upserted_Then_requests_hold_at_most_1000_vectors_and_carry_the_namespace()
    {
        await EnsureAsync();

        await _store.UpsertAsync([.. Enumerable.Range(0, 2500).Select(i => Record($"id-{i:D4}", [1, i]))], default);

        var upserts = _server.Requests;
        Assert.All(upserts, r => Assert.Equal(("POST", "/idx/images/vectors/upsert"), (r.Method, r.Path)));
        Assert.Equal([1000, 1000, 500], upserts.Select(r => JsonNode.Parse(r.BodyText)!["vectors"]!.AsArray().Count));
        Assert.All(upserts, r => Assert.Equal("tenant-a", JsonNode.Parse(r.BodyText)!["namespace"]!.GetValue<string>()));
        var first = JsonNode.Parse(upserts[0].BodyText)!["vectors"]![0]!;
        Assert.Equal("""{"id":"id-0000","values":[1,0]}""", first.ToJsonString());
    }

    [Fact]
    public async Task Given_records_with_large_metadata_When_upserted_Then_each_request_stays_under_the_byte_limit()
    {
        await using var small = PineconeTestHost.Build(_server.BaseUri, Index, FakePineconeServer.ApiKey, extra: new Dictionary<string, string?>
        {
            ["ImageRetrieval:VectorStore:Pinecone:MaxUpsertRequestBytes"] = "4096",
        });
        var store = small.PineconeStore();
        await store.EnsureCollectionAsync(new CollectionDescriptor(Index, Model, 2), default);
        _server.ClearRequests();

        await store.UpsertAsync([.. Enumerable.Range(0, 20).Select(i => Record($"big-{i:D2}", [1, 0], ("caption", new string('c', 900))))], default);

        var upserts = _server.Requests;
        Assert.True(upserts.Count >= 5, $"{upserts.Count} requests");
        Assert.All(upserts, r => Assert.True(r.Body.Length <= 4096, $"{r.Body.Length} bytes"));
        Assert.Equal(20, upserts.Sum(r => JsonNode.Parse(r.BodyText)!["vectors"]!.AsArray().Count));
        Assert.Equal(20, _server.Find(Index)!.Namespaces[""].Written.Count);
    }

    [Fact]
    public async Task Given_filter_exclusions_and_min_score_When_queried_Then_body_maps_each_field_and_the_rest_is_applied_here()
    {
        await EnsureAsync();
        await _store.UpsertAsync(
        [
            Record("a", [1, 0], ("color", "red"), ("n", 1)),
            Record("b", [1, 0.3f], ("color", "red"), ("n", 3)),
            Record("c", [1, 1], ("color", "red"), ("n", 3)),
            Record("d", [0, 1], ("color", "red"), ("n", 1)),
            Record("e", [1, 0.1f], ("color", "blue"), ("n", 1)),
        ], default);
        _server.ClearRequests();
        var filter = new MetadataFilter(
        [
            new FieldCondition("color", [JsonSerializer.SerializeToElement("red")]),
            new FieldCondition("n", [JsonSerializer.SerializeToElement(1), JsonSerializer.SerializeToElement(3)]),
            new FieldCondition("flag", [JsonSerializer.SerializeToElement(true), JsonSerializer.SerializeToElement("yes")]),
        ]);
        var simpleFilter = new MetadataFilter(filter.Conditions.Take(2).ToList());

        var hits = await _store.QueryAsync(new VectorQuery(new float[] { 1, 0 }, 2, simpleFilter, MinScore: 0.9f, ExcludeIds: ["a"]), default);

        var request = Assert.Single(_server.Requests);
        Assert.Equal(("POST", "/idx/images/query"), (request.Method, request.Path));
        Assert.Equal(
            """{"namespace":"tenant-a","topK":3,"vector":[1,0],"filter":{"$and":[{"color":{"$eq":"red"}},{"n":{"$in":[1,3]}}]},"includeValues":false,"includeMetadata":true}""",
            request.BodyText);
        Assert.Equal(["b"], hits.Select(h => h.Record.Id)); // a excluded, c (0.707) and d (0) under MinScore
        Assert.Equal("red", hits[0].Record.Metadata["color"].GetString());
        Assert.Equal("""{"$and":[{"color":{"$eq":"red"}},{"n":{"$in":[1,3]}},{"$or":[{"flag":{"$eq":true}},{"flag":{"$eq":"yes"}}]}]}""",
            PineconeFilterMapper.ToFilter(filter)!.Value.GetRawText());
    }

    [Fact]
    public async Task Given_records_When_fetched_deleted_counted_and_listed_Then_each_call_uses_the_documented_shape()
    {
        await EnsureAsync();
        await _store.UpsertAsync([.. Enumerable.Range(0, 150).Select(i => Record($"r{i:D3}", [1, i], ("n", i)))], default);
        _server.ClearRequests();

        var fetched = await _store.FetchAsync(["r001", "missing"], includeVectors: true, default);
        await _store.DeleteAsync(["r000", "never"], default);
        var count = await _store.CountAsync(default);
        var page = await _store.ListAsync(120, null, default);
        var rest = await _store.ListAsync(120, page.NextCursor, default);

        var r = _server.Requests;
        Assert.Equal(("GET", "/idx/images/vectors/fetch"), (r[0].Method, r[0].Path));
        Assert.Equal("?ids=r001&ids=missing&namespace=tenant-a", r[0].Query.Value);
        Assert.Equal([1f, 1f], Assert.Single(fetched).Vector.ToArray());
        Assert.Equal(("POST", "/idx/images/vectors/delete", """{"ids":["r000","never"],"namespace":"tenant-a"}"""), (r[1].Method, r[1].Path, r[1].BodyText));
        Assert.Equal(("POST", "/idx/images/describe_index_stats"), (r[2].Method, r[2].Path));
        Assert.Equal(149, count);
        Assert.Equal(("GET", "/idx/images/vectors/list", "100", "tenant-a"), (r[3].Method, r[3].Path, r[3].QueryValue("limit"), r[3].QueryValue("namespace")));
        Assert.Equal(("20", r[4].QueryValue("paginationToken") is { Length: > 0 }), (r[4].QueryValue("limit"), true));
        Assert.Equal(120, page.Items.Count);
        Assert.Equal(Enumerable.Range(1, 120).Select(i => $"r{i:D3}"), page.Items.Select(i => i.Id));
        Assert.Equal(1, page.Items[0].Metadata["n"].GetDouble());
        Assert.True(page.Items[0].Vector.IsEmpty);
        Assert.Equal(29, rest.Items.Count);
        Assert.Null(rest.NextCursor);
    }

    [Fact]
    public async Task Given_a_400_from_the_data_plane_When_upserting_Then_store_request_exception_with_pinecone_message()
    {
        await EnsureAsync();
        _server.Script(new ScriptedAnswer(400, """{"code":3,"message":"Metadata size is 50000 bytes, which exceeds the limit of 40960 bytes per vector","details":[]}"""));

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.UpsertAsync([Record("a", [1, 0])], default));

        Assert.Equal(400, error.ProviderStatusCode);
        Assert.Contains("exceeds the limit of 40960 bytes", error.Message, StringComparison.Ordinal);
        Assert.Single(_server.Requests);
    }

    [Fact]
    public async Task Given_503_then_ok_When_querying_Then_retried_and_succeeds()
    {
        await EnsureAsync();
        _server.Script(new ScriptedAnswer(503, """{"code":14,"message":"unavailable","details":[]}"""));

        var hits = await _store.QueryAsync(new VectorQuery(new float[] { 1, 0 }, 3), default);

        Assert.Empty(hits);
        Assert.Equal(2, _server.Requests.Count);
    }

    [Fact]
    public async Task Given_429_with_retry_after_When_counting_Then_waits_and_retries()
    {
        await EnsureAsync();
        _server.Script(new ScriptedAnswer(429, """{"code":8,"message":"Request was rate limited","details":[]}""", Headers: new Dictionary<string, string> { ["Retry-After"] = "1" }));
        var watch = Stopwatch.StartNew();

        Assert.Equal(0, await _store.CountAsync(default));

        Assert.Equal(2, _server.Requests.Count);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"retried after {watch.Elapsed}");
    }

    [Fact]
    public async Task Given_persistent_500_When_fetching_Then_store_unavailable_after_the_retries()
    {
        await EnsureAsync();
        _server.Script([.. Enumerable.Repeat(new ScriptedAnswer(500, """{"code":13,"message":"internal","details":[]}"""), 10)]);

        await Assert.ThrowsAsync<StoreUnavailableException>(() => _store.FetchAsync(["a"], includeVectors: false, default));

        Assert.Equal(4, _server.Requests.Count);
    }

    [Fact]
    public async Task Given_a_wrong_api_key_When_checking_reachability_Then_store_request_exception_401()
    {
        await using var wrong = PineconeTestHost.Build(_server.BaseUri, Index, "wrong-key");

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => wrong.PineconeStore().CheckReachableAsync(default));

        Assert.Equal(401, error.ProviderStatusCode);
        Assert.Contains("Unauthorized", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_no_index_When_upserting_Then_invalid_operation_says_to_ensure_first()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _store.UpsertAsync([Record("a", [1, 0])], default));

        Assert.Contains("EnsureCollectionAsync", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("images-abc.svc.us-central1-gcp.pinecone.io", "https://images-abc.svc.us-central1-gcp.pinecone.io/")]
    [InlineData("http://localhost:5081", "http://localhost:5081/")]
    public void Given_a_described_host_When_resolved_Then_https_is_assumed_unless_a_scheme_is_given(string host, string expected) =>
        Assert.Equal(new Uri(expected), PineconeVectorStore.HostUri(host));

    [Fact]
    public void Given_no_api_key_When_options_are_read_Then_validation_names_the_missing_setting()
    {
        using var provider = PineconeTestHost.Build(_server.BaseUri, Index, "");

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<PineconeOptions>>().Value);

        Assert.Contains("ApiKey", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_defaults_When_options_are_read_Then_serverless_gcp_and_api_version_2025_04()
    {
        using var provider = PineconeTestHost.Build(_server.BaseUri, Index, "k");

        var options = provider.GetRequiredService<IOptions<PineconeOptions>>().Value;

        Assert.Equal(("gcp", "us-central1", "2025-04", 1000), (options.Cloud, options.Region, options.ApiVersion, options.UpsertBatchSize));
        Assert.True(options.MaxUpsertRequestBytes < 2 * 1024 * 1024);
    }
}
