using System.Diagnostics;
using System.Text.Json;
using Grpc.Core;
using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores;
using ImageRetrieval.Infrastructure.VectorStores.Qdrant;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Qdrant.Client.Grpc;
using FieldCondition = ImageRetrieval.Infrastructure.Abstractions.FieldCondition;

namespace ImageRetrieval.AdapterTests;

/// <summary>Builds the Qdrant adapter exactly as the Host does (configuration + DI) against a gRPC URL or the fake transport.</summary>
internal static class QdrantTestHost
{
    /// <summary>What the fake transport is configured as: never resolved, the fake answers before any socket.</summary>
    public static readonly Uri FakeUrl = new("http://qdrant.fake:6334/");

    public static ServiceProvider Build(Uri url, string collection, string? apiKey = "test-key", IDictionary<string, string?>? extra = null, FakeQdrantTransport? transport = null)
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
        return VectorStoreTestHost.Build(settings, extra, (services, configuration) =>
        {
            services.AddQdrantVectorStore(configuration);
            transport?.Install(services);
        });
    }

    public static IVectorStore Store(this ServiceProvider provider) =>
        provider.GetRequiredKeyedService<IVectorStore>(VectorStoreRegistration.ProviderKey);
}

/// <summary>
/// What the adapter sends through the official client and how it reads the answers, at the client's
/// transport: the fake decodes each gRPC call, so these assert the messages Qdrant would receive.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes through IAsyncLifetime.DisposeAsync.")]
public sealed class QdrantProtocolTests : IAsyncLifetime
{
    private const string Collection = "images";
    private const string Model = "facebook/vit-msn-base@main";
    private readonly FakeQdrantTransport _qdrant = new() { RequiredApiKey = "test-key" };
    private ServiceProvider _provider = null!;
    private IVectorStore _store = null!;

    public Task InitializeAsync()
    {
        _provider = Build(extra: new Dictionary<string, string?>
        {
            ["ImageRetrieval:VectorStore:Qdrant:UpsertBatchSize"] = "2",
        });
        _store = _provider.Store();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _provider.DisposeAsync();
        _qdrant.Dispose();
    }

    private ServiceProvider Build(string? apiKey = "test-key", IDictionary<string, string?>? extra = null) =>
        QdrantTestHost.Build(QdrantTestHost.FakeUrl, Collection, apiKey, extra, _qdrant);

    private static string Hex(int n) => n.ToString("x32", System.Globalization.CultureInfo.InvariantCulture);

    private static PointId Point(int n) => new() { Uuid = QdrantVectorStore.ToPointId(Hex(n)) };

    private static VectorRecord Record(int n, float[] vector, string color = "red") =>
        new(Hex(n), vector, new Dictionary<string, JsonElement>
        {
            ["color"] = JsonSerializer.SerializeToElement(color),
            ["n"] = JsonSerializer.SerializeToElement(n),
        });

#pragma warning disable CS0612 // Vector.Data: the deprecated form, read only to be sure the client did not send it.
    private static float[] Dense(Vector vector) => vector.VectorCase == Vector.VectorOneofCase.Dense ? [.. vector.Dense.Data] : [.. vector.Data];
#pragma warning restore CS0612

    [Fact]
    public async Task Given_no_collection_When_ensured_Then_creates_cosine_collection_and_meta_companion_with_api_key_and_deadline()
    {
        var descriptor = await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 4), default);

        Assert.Equal(new CollectionDescriptor(Collection, Model, 4), descriptor);
        var calls = _qdrant.Calls;
        Assert.All(calls, c => Assert.Equal("test-key", c.Header("api-key")));
        // Grpc.Net.Client sends the deadline as grpc-timeout: QdrantOptions.Timeout (5 s here) per call.
        Assert.All(calls, c => Assert.Matches("^[0-9]+[mSu]$", c.Header("grpc-timeout")));
        Assert.Collection(calls,
            c => Assert.Equal("Collections/ListAliases", c.Method),
            c => Assert.Equal(("Collections/Get", "images"), (c.Method, c.Body<GetCollectionInfoRequest>().CollectionName)),
            c =>
            {
                var create = c.Body<CreateCollection>();
                Assert.Equal(("Collections/Create", "images"), (c.Method, create.CollectionName));
                Assert.Equal((4ul, Distance.Cosine), (create.VectorsConfig.Params.Size, create.VectorsConfig.Params.Distance));
            },
            c =>
            {
                var create = c.Body<CreateCollection>();
                Assert.Equal(("Collections/Create", "images__meta"), (c.Method, create.CollectionName));
                Assert.Equal((1ul, Distance.Dot), (create.VectorsConfig.Params.Size, create.VectorsConfig.Params.Distance));
            },
            c =>
            {
                var upsert = c.Body<UpsertPoints>();
                Assert.Equal(("Points/Upsert", "images__meta", true), (c.Method, upsert.CollectionName, upsert.Wait));
                var point = Assert.Single(upsert.Points);
                Assert.Equal(QdrantVectorStore.MetaPointId, point.Id.Uuid);
                Assert.Equal(Model, point.Payload["model"].StringValue);
                Assert.Equal(4, point.Payload["dimension"].IntegerValue);
            });
        Assert.Equal(4, _qdrant.Find("images")!.Size);
    }

    [Fact]
    public async Task Given_existing_collection_When_ensured_with_another_model_Then_returns_the_stored_descriptor()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 4), default);
        await using var second = Build();
        _qdrant.ClearCalls();

        var descriptor = await second.Store().EnsureCollectionAsync(new CollectionDescriptor(Collection, "other/model", 8), default);

        Assert.Equal(new CollectionDescriptor(Collection, Model, 4), descriptor);
        Assert.DoesNotContain(_qdrant.Calls, c => c.Method is "Collections/Create" or "Points/Upsert");
    }

    [Fact]
    public async Task Given_existing_collection_with_dot_distance_When_ensured_Then_fails_with_a_clear_request_error()
    {
        _qdrant.AddCollection(Collection, 4, Distance.Dot);

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 4), default));

        Assert.Contains("Dot distance", error.Message, StringComparison.Ordinal);
        Assert.Contains("Cosine", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_another_replica_created_the_collection_first_When_creating_Then_already_exists_is_not_an_error()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        await using var late = Build();
        // The late replica saw no collection, then loses the race to create it.
        _qdrant.Script(new ScriptedStatus(StatusCode.NotFound, "Not found: Collection `images` doesn't exist!") { MethodContains = "Collections/Get" });

        var descriptor = await late.Store().EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);

        Assert.Equal(new CollectionDescriptor(Collection, Model, 2), descriptor);
        Assert.Single(_qdrant.CollectionNames(), n => n == Collection);
    }

    [Fact]
    public async Task Given_five_records_and_batch_size_two_When_upserted_Then_three_waiting_upserts_with_uuid_ids_and_payload()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _qdrant.ClearCalls();

        await _store.UpsertAsync([.. Enumerable.Range(1, 5).Select(n => Record(n, [n, 1]))], default);

        var upserts = _qdrant.Calls.Select(c => c.Body<UpsertPoints>()).ToList();
        Assert.Equal(3, upserts.Count);
        Assert.All(upserts, u => Assert.Equal(("images", true), (u.CollectionName, u.Wait)));
        Assert.Equal([2, 2, 1], upserts.Select(u => u.Points.Count));
        var first = upserts[0].Points[0];
        Assert.Equal("00000000-0000-0000-0000-000000000001", first.Id.Uuid);
        Assert.Equal([1f, 1f], Dense(first.Vectors.Vector));
        Assert.Equal(Hex(1), first.Payload["_id"].StringValue);
        Assert.Equal("red", first.Payload["color"].StringValue);
        Assert.Equal(1, first.Payload["n"].IntegerValue);
        Assert.Equal(5, await _store.CountAsync(default));
    }

    [Fact]
    public async Task Given_nested_metadata_When_upserted_and_fetched_Then_lists_objects_and_fractions_round_trip()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        var metadata = new Dictionary<string, JsonElement>
        {
            ["ratio"] = JsonSerializer.SerializeToElement(0.125),
            ["big"] = JsonSerializer.SerializeToElement(long.MaxValue),
            ["tags"] = JsonSerializer.SerializeToElement(new[] { "a", "b" }),
            ["nested"] = JsonSerializer.SerializeToElement(new { depth = 2, ok = true, none = (string?)null }),
        };

        await _store.UpsertAsync([new VectorRecord(Hex(7), new float[] { 1, 0 }, metadata)], default);
        var fetched = Assert.Single(await _store.FetchAsync([Hex(7)], includeVectors: false, default));

        var sent = _qdrant.Calls.Last(c => c.Method == "Points/Upsert").Body<UpsertPoints>().Points[0].Payload;
        Assert.Equal(Value.KindOneofCase.DoubleValue, sent["ratio"].KindCase);
        Assert.Equal(long.MaxValue, sent["big"].IntegerValue);
        Assert.Equal(Value.KindOneofCase.StructValue, sent["nested"].KindCase);
        Assert.Equal(
            """{"ratio":0.125,"big":9223372036854775807,"tags":["a","b"],"nested":{"depth":2,"ok":true,"none":null}}""",
            JsonSerializer.Serialize(metadata.Keys.ToDictionary(k => k, k => fetched.Metadata[k])));
        Assert.Empty(fetched.Vector.ToArray());
    }

    [Fact]
    public async Task Given_filter_exclusions_and_min_score_When_queried_Then_the_request_maps_each_field_and_results_come_back_best_first()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        await _store.UpsertAsync([Record(1, [1, 0]), Record(2, [1, 0.2f], "blue"), Record(3, [1, 0.5f]), Record(4, [0, 1]), Record(5, [1, 0.1f])], default);
        _qdrant.ClearCalls();
        var filter = new MetadataFilter(
        [
            new FieldCondition("color", [JsonSerializer.SerializeToElement("red")]),
            new FieldCondition("n", [JsonSerializer.SerializeToElement(1), JsonSerializer.SerializeToElement(3), JsonSerializer.SerializeToElement(4), JsonSerializer.SerializeToElement(5)]),
        ]);

        var hits = await _store.QueryAsync(new VectorQuery(new float[] { 1, 0 }, 3, filter, MinScore: 0.5f, ExcludeIds: [Hex(5)]), default);

        var call = Assert.Single(_qdrant.Calls);
        var query = call.Body<QueryPoints>();
        Assert.Equal(("Points/Query", "images"), (call.Method, query.CollectionName));
        Assert.Equal([1f, 0f], query.Query.Nearest.Dense.Data);
        Assert.Equal(3ul, query.Limit);
        Assert.Equal(0.5f, query.ScoreThreshold);
        Assert.True(query.WithPayload.Enable);
        Assert.False(query.WithVectors.Enable);
        Assert.Collection(query.Filter.Must,
            c => Assert.Equal(("color", "red"), (c.Field.Key, c.Field.Match.Keyword)),
            c =>
            {
                Assert.Equal("n", c.Field.Key);
                Assert.Equal([1L, 3L, 4L, 5L], c.Field.Match.Integers.Integers);
            });
        var excluded = Assert.Single(query.Filter.MustNot);
        Assert.Equal([Point(5)], excluded.HasId.HasId);
        Assert.Equal([Hex(1), Hex(3)], hits.Select(h => h.Record.Id));
        Assert.Equal(1f, hits[0].Score, 3);
        Assert.True(hits[1].Score is > 0.5f and < 1f);
        Assert.Equal("red", hits[0].Record.Metadata["color"].GetString());
        Assert.False(hits[0].Record.Metadata.ContainsKey(QdrantVectorStore.IdPayloadKey));
    }

    [Fact]
    public void Given_fractional_bool_and_mixed_values_When_filtered_Then_range_boolean_and_nested_should_are_used()
    {
        var filter = new MetadataFilter(
        [
            new FieldCondition("ratio", [JsonSerializer.SerializeToElement(0.5)]),
            new FieldCondition("flag", [JsonSerializer.SerializeToElement(true)]),
            new FieldCondition("tag", [JsonSerializer.SerializeToElement("a"), JsonSerializer.SerializeToElement(true)]),
            new FieldCondition("color", [JsonSerializer.SerializeToElement("red"), JsonSerializer.SerializeToElement("blue")]),
        ]);

        var mapped = QdrantFilterMapper.ToFilter(filter, excludedPointIds: null)!;

        Assert.Empty(mapped.MustNot);
        Assert.Collection(mapped.Must,
            c => Assert.Equal(("ratio", 0.5, 0.5), (c.Field.Key, c.Field.Range.Gte, c.Field.Range.Lte)),
            c => Assert.Equal(("flag", true), (c.Field.Key, c.Field.Match.Boolean)),
            c => Assert.Collection(c.Filter.Should,
                s => Assert.Equal(("tag", "a"), (s.Field.Key, s.Field.Match.Keyword)),
                s => Assert.Equal(("tag", true), (s.Field.Key, s.Field.Match.Boolean))),
            c =>
            {
                Assert.Equal("color", c.Field.Key);
                Assert.Equal(["red", "blue"], c.Field.Match.Keywords.Strings);
            });
        Assert.Null(QdrantFilterMapper.ToFilter(null, []));
    }

    [Fact]
    public async Task Given_records_When_listed_Then_scroll_pages_in_id_order_with_next_page_offset_as_cursor()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        await _store.UpsertAsync([Record(3, [1, 0]), Record(1, [1, 0]), Record(2, [1, 0])], default);
        _qdrant.ClearCalls();

        var first = await _store.ListAsync(2, null, default);
        var second = await _store.ListAsync(2, first.NextCursor, default);

        Assert.Equal([Hex(1), Hex(2)], first.Items.Select(r => r.Id));
        Assert.Equal(QdrantVectorStore.ToPointId(Hex(3)), first.NextCursor);
        Assert.Equal([Hex(3)], second.Items.Select(r => r.Id));
        Assert.Null(second.NextCursor);
        var scrolls = _qdrant.Calls.Select(c => c.Body<ScrollPoints>()).ToList();
        Assert.All(scrolls, s => Assert.Equal(("images", 2u, false), (s.CollectionName, s.Limit, s.WithVectors.Enable)));
        Assert.Null(scrolls[0].Offset);
        Assert.Equal(Point(3), scrolls[1].Offset);
    }

    [Fact]
    public async Task Given_a_cursor_that_is_no_point_id_When_listing_Then_the_request_is_refused_as_content_before_any_call()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _qdrant.ClearCalls();

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.ListAsync(2, "not-a-point", default));

        Assert.True(error.RejectedContent);
        Assert.Empty(_qdrant.Calls);
    }

    [Fact]
    public async Task Given_records_When_fetched_and_deleted_Then_retrieve_and_delete_use_point_ids_and_wait()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        await _store.UpsertAsync([Record(1, [3, 4]), Record(2, [1, 0])], default);
        _qdrant.ClearCalls();

        var fetched = await _store.FetchAsync([Hex(1), Hex(9)], includeVectors: true, default);
        await _store.DeleteAsync([Hex(1)], default);

        var record = Assert.Single(fetched);
        Assert.Equal(Hex(1), record.Id);
        Assert.Equal([0.6f, 0.8f], record.Vector.ToArray()); // Qdrant stores cosine vectors normalised
        var retrieve = _qdrant.Calls[0].Body<GetPoints>();
        Assert.Equal([Point(1), Point(9)], retrieve.Ids);
        Assert.True(retrieve.WithPayload.Enable);
        Assert.True(retrieve.WithVectors.Enable);
        var delete = _qdrant.Calls[1].Body<DeletePoints>();
        Assert.Equal(("images", true), (delete.CollectionName, delete.Wait));
        Assert.Equal([Point(1)], delete.Points.Points.Ids);
        Assert.Equal(1, await _store.CountAsync(default));
        Assert.True(_qdrant.Calls[^1].Body<CountPoints>().Exact);
    }

    [Fact]
    public async Task Given_invalid_argument_When_upserting_Then_rejected_content_with_qdrants_words_and_no_retry()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _qdrant.ClearCalls();
        _qdrant.Script(new ScriptedStatus(StatusCode.InvalidArgument, "Wrong input: payload field name is invalid"));

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.UpsertAsync([Record(1, [1, 0])], default));

        Assert.True(error.RejectedContent);
        Assert.Equal(400, error.ProviderStatusCode);
        Assert.Contains("payload field name is invalid", error.Message, StringComparison.Ordinal);
        Assert.Single(_qdrant.Calls);
    }

    [Fact]
    public async Task Given_a_vector_of_another_dimension_When_upserting_Then_argument_exception_before_any_call()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _qdrant.ClearCalls();

        await Assert.ThrowsAsync<ArgumentException>(() => _store.UpsertAsync([Record(1, [1, 0]), Record(2, [1, 0, 0])], default));

        Assert.Empty(_qdrant.Calls);
    }

    [Theory]
    [InlineData(StatusCode.Unavailable)]
    [InlineData(StatusCode.ResourceExhausted)]
    [InlineData(StatusCode.DeadlineExceeded)]
    [InlineData(StatusCode.Internal)]
    public async Task Given_one_transient_status_then_ok_When_counting_Then_the_call_is_retried_and_succeeds(StatusCode status)
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _qdrant.ClearCalls();
        _qdrant.Script(new ScriptedStatus(status, "Service Unavailable"));

        var count = await _store.CountAsync(default);

        Assert.Equal(0, count);
        Assert.Equal(["Points/Count", "Points/Count"], _qdrant.Calls.Select(c => c.Method));
    }

    [Fact]
    public async Task Given_resource_exhausted_with_retry_after_When_querying_Then_waits_that_long_and_retries()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _qdrant.ClearCalls();
        _qdrant.Script(new ScriptedStatus(StatusCode.ResourceExhausted, "Rate limiting exceeded", new Dictionary<string, string> { ["retry-after"] = "1" }));
        var watch = Stopwatch.StartNew();

        var hits = await _store.QueryAsync(new VectorQuery(new float[] { 1, 0 }, 5), default);

        Assert.Empty(hits);
        Assert.Equal(2, _qdrant.Calls.Count);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"retried after {watch.Elapsed}, before retry-after");
    }

    [Fact]
    public async Task Given_rate_limited_past_the_retries_When_querying_Then_store_unavailable_carries_qdrants_retry_after()
    {
        await using var provider = Build(extra: new Dictionary<string, string?> { ["ImageRetrieval:VectorStore:Qdrant:MaxRetries"] = "0" });
        var store = provider.Store();
        await store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _qdrant.Script(new ScriptedStatus(StatusCode.ResourceExhausted, "Rate limiting exceeded", new Dictionary<string, string> { ["retry-after"] = "7" }));

        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.QueryAsync(new VectorQuery(new float[] { 1, 0 }, 5), default));

        Assert.Equal(TimeSpan.FromSeconds(7), error.RetryAfter);
    }

    [Fact]
    public async Task Given_persistent_internal_errors_When_counting_Then_gives_up_after_the_retries_with_store_unavailable()
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _qdrant.ClearCalls();
        _qdrant.Script([.. Enumerable.Repeat(new ScriptedStatus(StatusCode.Internal, "Service internal error: boom"), 10)]);

        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => _store.CountAsync(default));

        Assert.Equal(4, _qdrant.Calls.Count); // first attempt + MaxRetries (3)
        Assert.Contains("boom", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(StatusCode.Unauthenticated, 401)]
    [InlineData(StatusCode.PermissionDenied, 403)]
    public async Task Given_credentials_refused_When_searching_Then_a_refused_service_not_rejected_content_and_no_retry(StatusCode status, int mapped)
    {
        await _store.EnsureCollectionAsync(new CollectionDescriptor(Collection, Model, 2), default);
        _qdrant.ClearCalls();
        _qdrant.Script(new ScriptedStatus(status, "Invalid api-key"));

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.QueryAsync(new VectorQuery(new float[] { 1, 0 }, 5), default));

        Assert.False(error.RejectedContent);
        Assert.Equal(mapped, error.ProviderStatusCode);
        Assert.Single(_qdrant.Calls);
    }

    [Fact]
    public async Task Given_wrong_api_key_When_checking_reachability_Then_store_request_exception_401()
    {
        await using var provider = Build(apiKey: "wrong");

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => provider.Store().CheckReachableAsync(default));

        Assert.Equal(401, error.ProviderStatusCode);
        Assert.Equal("wrong", _qdrant.Calls[^1].Header("api-key"));
    }

    [Fact]
    public async Task Given_a_server_that_is_not_grpc_When_called_Then_a_page_is_unavailable_and_a_404_names_the_grpc_port()
    {
        await using var provider = Build(extra: new Dictionary<string, string?> { ["ImageRetrieval:VectorStore:Qdrant:MaxRetries"] = "0" });
        var store = provider.Store();
        _qdrant.Script(new ScriptedStatus(StatusCode.OK) { HttpStatus = System.Net.HttpStatusCode.OK, HttpBody = "<html>proxy</html>" });
        _qdrant.Script(new ScriptedStatus(StatusCode.OK) { HttpStatus = System.Net.HttpStatusCode.NotFound, HttpBody = "{\"status\":\"not found\"}", HttpContentType = "application/json" });

        await Assert.ThrowsAsync<StoreUnavailableException>(() => store.CheckReachableAsync(default));
        var wrongPort = await Assert.ThrowsAsync<StoreRequestException>(() => store.CheckReachableAsync(default));

        Assert.False(wrongPort.RejectedContent);
        Assert.Contains("6334", wrongPort.Message, StringComparison.Ordinal);
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
    public async Task Given_our_token_is_cancelled_When_calling_Then_operation_canceled_not_a_store_failure()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _store.CountAsync(cancelled.Token));
    }

    [Fact]
    public async Task Given_missing_collection_When_checking_reachability_Then_the_existence_check_counts_as_reachable()
    {
        await _store.CheckReachableAsync(default);

        var call = Assert.Single(_qdrant.Calls);
        Assert.Equal(("Collections/CollectionExists", "images"), (call.Method, call.Body<CollectionExistsRequest>().CollectionName));
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
