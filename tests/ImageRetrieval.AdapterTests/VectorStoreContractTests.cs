using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Tests;

namespace ImageRetrieval.AdapterTests;

/// <summary>
/// The behaviour every <see cref="IVectorStore"/> adapter must have. A provider runs it by deriving a class
/// with its fixture: <c>public sealed class QdrantVectorStoreContractTests(QdrantFixture f) : VectorStoreContractTests&lt;QdrantFixture&gt;(f);</c>
/// </summary>
public abstract class VectorStoreContractTests<TFixture> : IClassFixture<TFixture>, IDisposable
    where TFixture : class, IVectorStoreFixture
{
    protected const int Dimension = 8;
    protected const string ModelA = "model-a";
    private const float Tolerance = 1e-4f;

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));

    protected VectorStoreContractTests(TFixture fixture)
    {
        Fixture = fixture;
    }

    protected TFixture Fixture { get; }

    protected CancellationToken Ct => _timeout.Token;

    [SkippableFact]
    public async Task Given_no_collection_When_ensured_Then_it_is_created_and_later_calls_return_it_unchanged()
    {
        var (store, collection) = await NewStoreAsync();

        var created = await store.EnsureCollectionAsync(new CollectionDescriptor(collection, ModelA, Dimension), Ct);
        var again = await store.EnsureCollectionAsync(new CollectionDescriptor(collection, "model-b", Dimension * 2), Ct);

        Assert.Equal(new CollectionDescriptor(collection, ModelA, Dimension), created);
        Assert.Equal(created, again);
    }

    [SkippableFact]
    public async Task Given_records_with_every_kind_of_metadata_When_fetched_Then_id_vector_and_metadata_round_trip()
    {
        var store = await NewCollectionAsync();
        var vector = Unit(0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, -0.8f);
        var record = new VectorRecord("img-1", vector, Meta(
            ("color", "red"), ("count", 42), ("ratio", 0.25), ("flag", true), ("off", false), ("tags", new[] { "x", "y" })));
        await store.UpsertAsync([record, Record("img-2", Unit(1, 0, 0, 0, 0, 0, 0, 0))], Ct);
        await Fixture.SettleAsync(store, 2, Ct);

        var fetched = await store.FetchAsync(["img-1", "missing"], includeVectors: true, Ct);

        var only = Assert.Single(fetched);
        Assert.Equal("img-1", only.Id);
        AssertVector(vector, only.Vector);
        var m = only.Metadata;
        Assert.Equal("red", m["color"].GetString());
        Assert.Equal(42, m["count"].GetDouble());
        Assert.Equal(0.25, m["ratio"].GetDouble(), 1e-9);
        Assert.Equal(JsonValueKind.True, m["flag"].ValueKind);
        Assert.Equal(JsonValueKind.False, m["off"].ValueKind);
        Assert.Equal(["x", "y"], m["tags"].EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(6, m.Count);
    }

    [SkippableFact]
    public async Task Given_an_existing_id_When_upserted_again_Then_vector_and_metadata_are_replaced()
    {
        var store = await NewCollectionAsync();
        await store.UpsertAsync([new VectorRecord("img", Axis(0), Meta(("version", 1), ("old", "yes")))], Ct);
        await Fixture.SettleAsync(store, 1, Ct);

        await store.UpsertAsync([new VectorRecord("img", Axis(1), Meta(("version", 2)))], Ct);
        await Fixture.SettleAsync(store, 1, Ct);

        var fetched = Assert.Single(await store.FetchAsync(["img"], includeVectors: true, Ct));
        AssertVector(Axis(1), fetched.Vector);
        Assert.Equal(2, fetched.Metadata["version"].GetDouble());
        Assert.False(fetched.Metadata.ContainsKey("old"));
        Assert.Equal(1, await store.CountAsync(Ct));
        var hit = Assert.Single(await store.QueryAsync(new VectorQuery(Axis(1), TopK: 1), Ct));
        Assert.Equal("img", hit.Record.Id);
        Assert.Equal(1f, hit.Score, Tolerance);
    }

    [SkippableFact]
    public async Task Given_records_When_deleted_Then_they_are_gone_and_unknown_ids_are_ignored()
    {
        var store = await NewCollectionAsync();
        await store.UpsertAsync([Record("a", Axis(0)), Record("b", Axis(1)), Record("c", Axis(2))], Ct);
        await Fixture.SettleAsync(store, 3, Ct);

        await store.DeleteAsync(["a", "never-existed"], Ct);
        await store.DeleteAsync(["also-unknown"], Ct);
        await Fixture.SettleAsync(store, 2, Ct);

        var left = await store.FetchAsync(["a", "b", "c"], includeVectors: false, Ct);
        Assert.Equal(["b", "c"], left.Select(r => r.Id).Order(StringComparer.Ordinal));
        Assert.Equal(2, await store.CountAsync(Ct));
        var hits = await store.QueryAsync(new VectorQuery(Axis(0), TopK: 10), Ct);
        Assert.DoesNotContain(hits, h => h.Record.Id == "a");
    }

    [SkippableFact]
    public async Task Given_upserted_records_When_queried_Then_nearest_comes_first_with_cosine_score()
    {
        var store = await NewCollectionAsync();
        var vectors = QueryCorpus();
        await store.UpsertAsync(vectors.Select(kv => Record(kv.Key, kv.Value)).ToList(), Ct);
        await Fixture.SettleAsync(store, vectors.Count, Ct);
        var query = Unit(1, 0.2f, 0, 0, 0, 0, 0, 0);

        var hits = await store.QueryAsync(new VectorQuery(query, TopK: 3), Ct);

        Assert.Equal(["near", "diagonal", "side"], hits.Select(h => h.Record.Id));
        foreach (var hit in hits)
        {
            Assert.Equal(ExactCosine.Of(query, vectors[hit.Record.Id]), hit.Score, Tolerance);
        }
    }

    [SkippableFact]
    public async Task Given_topK_larger_than_the_count_When_queried_Then_every_record_comes_back_best_first()
    {
        var store = await NewCollectionAsync();
        var vectors = QueryCorpus();
        await store.UpsertAsync(vectors.Select(kv => Record(kv.Key, kv.Value)).ToList(), Ct);
        await Fixture.SettleAsync(store, vectors.Count, Ct);
        var query = Unit(1, 0.2f, 0, 0, 0, 0, 0, 0);

        var hits = await store.QueryAsync(new VectorQuery(query, TopK: 100), Ct);

        Assert.Equal(["near", "diagonal", "side", "opposite"], hits.Select(h => h.Record.Id));
        Assert.Equal(-ExactCosine.Of(query, vectors["near"]), hits[^1].Score, Tolerance);
    }

    [SkippableFact]
    public async Task Given_a_min_score_When_queried_Then_weaker_matches_are_cut()
    {
        var store = await NewCollectionAsync();
        var vectors = QueryCorpus();
        await store.UpsertAsync(vectors.Select(kv => Record(kv.Key, kv.Value)).ToList(), Ct);
        await Fixture.SettleAsync(store, vectors.Count, Ct);
        var query = Unit(1, 0.2f, 0, 0, 0, 0, 0, 0);

        var hits = await store.QueryAsync(new VectorQuery(query, TopK: 10, MinScore: 0.5f), Ct);

        Assert.Equal(["near", "diagonal"], hits.Select(h => h.Record.Id));
        Assert.All(hits, h => Assert.True(h.Score >= 0.5f));
    }

    [SkippableFact]
    public async Task Given_excluded_ids_When_queried_Then_they_are_not_returned()
    {
        var store = await NewCollectionAsync();
        var vectors = QueryCorpus();
        await store.UpsertAsync(vectors.Select(kv => Record(kv.Key, kv.Value)).ToList(), Ct);
        await Fixture.SettleAsync(store, vectors.Count, Ct);

        var hits = await store.QueryAsync(new VectorQuery(Unit(1, 0.2f, 0, 0, 0, 0, 0, 0), TopK: 2, ExcludeIds: ["near", "unknown"]), Ct);

        Assert.Equal(["diagonal", "side"], hits.Select(h => h.Record.Id));
    }

    [SkippableTheory]
    [InlineData("string equality", "a,c")]
    [InlineData("integer equality", "b")]
    [InlineData("fractional equality", "d")]
    [InlineData("bool equality", "a,d")]
    [InlineData("strings in a set", "b,d")]
    [InlineData("numbers in a set", "a,c")]
    [InlineData("two fields at once", "c")]
    [InlineData("no match", "")]
    [InlineData("array field equality", "a,b")]
    [InlineData("array field in a set", "c,d")]
    public async Task Given_a_metadata_filter_When_queried_Then_only_matching_records_come_back(string filterName, string expectedIds)
    {
        var store = await NewCollectionAsync();
        await store.UpsertAsync(
        [
            new VectorRecord("a", Axis(0), Meta(("color", "red"), ("size", 1), ("flag", true), ("tags", new[] { "x", "y" }))),
            new VectorRecord("b", Axis(1), Meta(("color", "blue"), ("size", 2), ("flag", false), ("tags", new[] { "y" }))),
            new VectorRecord("c", Axis(2), Meta(("color", "red"), ("size", 3), ("flag", false), ("tags", new[] { "z" }))),
            new VectorRecord("d", Axis(3), Meta(("color", "green"), ("size", 2.5), ("flag", true), ("tags", new[] { "w" }))),
        ], Ct);
        await Fixture.SettleAsync(store, 4, Ct);
        var filter = filterName switch
        {
            "string equality" => Filter(("color", ["red"])),
            "integer equality" => Filter(("size", [2])),
            "fractional equality" => Filter(("size", [2.5])),
            "bool equality" => Filter(("flag", [true])),
            "strings in a set" => Filter(("color", ["blue", "green"])),
            "numbers in a set" => Filter(("size", [1, 3])),
            "two fields at once" => Filter(("color", ["red"]), ("flag", [false])),
            "no match" => Filter(("color", ["purple"])),
            "array field equality" => Filter(("tags", ["y"])),
            "array field in a set" => Filter(("tags", ["z", "w"])),
            _ => throw new ArgumentOutOfRangeException(nameof(filterName)),
        };

        var hits = await store.QueryAsync(new VectorQuery(Unit(1, 1, 1, 1, 0, 0, 0, 0), TopK: 10, Filter: filter), Ct);

        var expected = expectedIds.Split(',', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(expected, hits.Select(h => h.Record.Id).Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public async Task Given_records_When_counted_Then_the_count_follows_upserts_and_deletes()
    {
        var store = await NewCollectionAsync();
        Assert.Equal(0, await store.CountAsync(Ct));

        await store.UpsertAsync(Enumerable.Range(0, 5).Select(i => Record($"r{i}", Axis(i))).ToList(), Ct);
        await Fixture.SettleAsync(store, 5, Ct);
        Assert.Equal(5, await store.CountAsync(Ct));

        await store.DeleteAsync(["r0", "r1"], Ct);
        await Fixture.SettleAsync(store, 3, Ct);
        Assert.Equal(3, await store.CountAsync(Ct));
    }

    [SkippableFact]
    public async Task Given_more_records_than_a_page_When_listed_Then_pages_cover_every_record_once_in_a_stable_order()
    {
        var store = await NewCollectionAsync();
        var ids = Enumerable.Range(0, 25).Select(i => $"rec-{i:D2}").ToList();
        var shuffled = ids.OrderBy(_ => Random.Shared.Next()).ToList();
        await store.UpsertAsync(shuffled.Select((id, i) => new VectorRecord(id, Axis(i), Meta(("n", id)))).ToList(), Ct);
        await Fixture.SettleAsync(store, ids.Count, Ct);

        var first = await ListAllAsync(store, pageSize: 7);
        var second = await ListAllAsync(store, pageSize: 7);

        Assert.Equal(ids.Count, first.Count);
        Assert.Equal(ids.Order(StringComparer.Ordinal), first.Select(r => r.Id).Order(StringComparer.Ordinal));
        Assert.Equal(first.Select(r => r.Id), second.Select(r => r.Id));
        Assert.All(first, r => Assert.Equal(r.Id, r.Metadata["n"].GetString()));
    }

    [SkippableFact]
    public async Task Given_a_collection_with_records_When_recreated_Then_it_is_empty_and_has_the_new_descriptor()
    {
        var (store, collection) = await NewStoreAsync();
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, ModelA, Dimension), Ct);
        await store.UpsertAsync([Record("a", Axis(0)), Record("b", Axis(1))], Ct);
        await Fixture.SettleAsync(store, 2, Ct);

        await store.RecreateCollectionAsync(new CollectionDescriptor(collection, "model-b", 4), Ct);
        await Fixture.SettleAsync(store, 0, Ct);

        Assert.Equal(0, await store.CountAsync(Ct));
        Assert.Empty(await store.FetchAsync(["a", "b"], includeVectors: false, Ct));
        var descriptor = await store.EnsureCollectionAsync(new CollectionDescriptor(collection, ModelA, Dimension), Ct);
        Assert.Equal(new CollectionDescriptor(collection, "model-b", 4), descriptor);
        await store.UpsertAsync([Record("c", Unit(1, 1, 0, 0))], Ct);
        await Fixture.SettleAsync(store, 1, Ct);
        Assert.Equal("c", Assert.Single(await store.QueryAsync(new VectorQuery(Unit(1, 0, 0, 0), TopK: 5), Ct)).Record.Id);
    }

    [SkippableFact]
    public async Task Given_a_staging_collection_When_filled_Then_the_active_one_serves_unchanged_until_the_switch_and_the_new_one_after()
    {
        var (store, collection) = await NewStoreAsync();
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, ModelA, Dimension), Ct);
        await store.UpsertAsync([Record("old-1", Axis(0)), Record("old-2", Axis(1))], Ct);
        await Fixture.SettleAsync(store, 2, Ct);

        var staging = await store.OpenStagingAsync(new CollectionDescriptor(collection, "model-b", 4), Ct);
        await staging.UpsertAsync([Record("new-1", Unit(1, 0, 0, 0)), Record("new-2", Unit(0, 1, 0, 0)), Record("new-3", Unit(0, 0, 1, 0))], Ct);
        await Fixture.SettleAsync(staging, 3, Ct);

        // Before the switch: everything still reads and writes the model-a collection.
        Assert.Equal(new CollectionDescriptor(collection, ModelA, Dimension), await store.EnsureCollectionAsync(new CollectionDescriptor(collection, "model-b", 4), Ct));
        Assert.Equal(2, await store.CountAsync(Ct));
        Assert.Empty(await store.FetchAsync(["new-1"], includeVectors: false, Ct));
        Assert.Equal("old-1", Assert.Single(await store.QueryAsync(new VectorQuery(Axis(0), TopK: 1), Ct)).Record.Id);
        var before = Assert.Single(await store.ListInactiveAsync(Ct));
        Assert.Equal((CollectionRole.Staging, "model-b", 4), (before.Role, before.Descriptor.ModelId, before.Descriptor.Dimension));

        await store.PromoteStagingAsync(Ct);

        Assert.Equal(new CollectionDescriptor(collection, "model-b", 4), await store.EnsureCollectionAsync(new CollectionDescriptor(collection, ModelA, Dimension), Ct));
        await Fixture.SettleAsync(store, 3, Ct);
        Assert.Equal(3, await store.CountAsync(Ct));
        Assert.Equal(["new-1", "new-2", "new-3"], (await ListAllAsync(store, pageSize: 2)).Select(r => r.Id).Order(StringComparer.Ordinal));
        Assert.Equal("new-2", Assert.Single(await store.QueryAsync(new VectorQuery(Unit(0, 1, 0, 0), TopK: 1), Ct)).Record.Id);
        var retired = Assert.Single(await store.ListInactiveAsync(Ct));
        Assert.Equal((CollectionRole.Retired, ModelA, Dimension), (retired.Role, retired.Descriptor.ModelId, retired.Descriptor.Dimension));
        Assert.NotEqual(before.Name, retired.Name);

        // The retired collection is intact until dropped, for a last catch-up.
        var old = await store.OpenInactiveAsync(retired.Name, Ct);
        Assert.Equal(["old-1", "old-2"], (await old.FetchAsync(["old-1", "old-2", "new-1"], includeVectors: false, Ct)).Select(r => r.Id).Order(StringComparer.Ordinal));
        await store.DropInactiveAsync(retired.Name, Ct);
        Assert.Empty(await store.ListInactiveAsync(Ct));
        Assert.Equal(3, await store.CountAsync(Ct));
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.PromoteStagingAsync(Ct));
    }

    [SkippableFact]
    public async Task Given_an_unfinished_staging_collection_When_opened_again_Then_the_same_model_resumes_with_its_records_and_another_starts_empty()
    {
        var (store, collection) = await NewStoreAsync();
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, ModelA, Dimension), Ct);
        var first = await store.OpenStagingAsync(new CollectionDescriptor(collection, "model-b", 4), Ct);
        await first.UpsertAsync([Record("done-1", Unit(1, 0, 0, 0)), Record("done-2", Unit(0, 1, 0, 0))], Ct);
        await Fixture.SettleAsync(first, 2, Ct);

        // A re-index process that was killed and runs again: a new store on the same collection.
        var again = await Fixture.CreateReplicaAsync(collection, Ct);
        var resumed = await again.OpenStagingAsync(new CollectionDescriptor(collection, "model-b", 4), Ct);

        Assert.Equal(2, await resumed.CountAsync(Ct));
        Assert.Equal(["done-1", "done-2"], (await resumed.FetchAsync(["done-1", "done-2"], includeVectors: false, Ct)).Select(r => r.Id).Order(StringComparer.Ordinal));

        var other = await again.OpenStagingAsync(new CollectionDescriptor(collection, "model-c", 8), Ct);
        await Fixture.SettleAsync(other, 0, Ct);
        Assert.Equal(0, await other.CountAsync(Ct));
        var only = Assert.Single(await again.ListInactiveAsync(Ct));
        Assert.Equal((CollectionRole.Staging, "model-c"), (only.Role, only.Descriptor.ModelId));
    }

    [SkippableFact]
    public async Task Given_a_replica_that_has_not_ensured_since_a_switch_When_it_writes_Then_the_write_lands_in_the_retired_collection_not_the_new_one()
    {
        var (store, collection) = await NewStoreAsync();
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, ModelA, Dimension), Ct);
        var replica = await Fixture.CreateReplicaAsync(collection, Ct);
        Assert.Equal(ModelA, (await replica.EnsureCollectionAsync(new CollectionDescriptor(collection, ModelA, Dimension), Ct)).ModelId);

        // Same dimension on purpose: only the fence, not a dimension check, can keep model-a vectors out.
        var staging = await store.OpenStagingAsync(new CollectionDescriptor(collection, "model-b", Dimension), Ct);
        await staging.UpsertAsync([Record("new", Axis(2))], Ct);
        await Fixture.SettleAsync(staging, 1, Ct);
        await store.PromoteStagingAsync(Ct);

        await replica.UpsertAsync([Record("late", Axis(3))], Ct);

        Assert.Empty(await store.FetchAsync(["late"], includeVectors: false, Ct));
        var retired = Assert.Single(await store.ListInactiveAsync(Ct));
        Assert.Single(await (await store.OpenInactiveAsync(retired.Name, Ct)).FetchAsync(["late"], includeVectors: false, Ct));
        Assert.Equal("model-b", (await replica.EnsureCollectionAsync(new CollectionDescriptor(collection, ModelA, Dimension), Ct)).ModelId);
    }

    [SkippableFact]
    public async Task Given_a_vector_of_the_wrong_dimension_When_upserted_Then_an_argument_exception_is_thrown_and_nothing_is_written()
    {
        var store = await NewCollectionAsync();

        await Assert.ThrowsAnyAsync<ArgumentException>(() =>
            store.UpsertAsync([Record("ok", Axis(0)), Record("short", Unit(1, 2, 3))], Ct));

        await Fixture.SettleAsync(store, 0, Ct);
        Assert.Equal(0, await store.CountAsync(Ct));
    }

    public void Dispose()
    {
        _timeout.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A new store on a collection name unique to this test; skips the test when the provider is unavailable.</summary>
    protected async Task<(IVectorStore Store, string Collection)> NewStoreAsync()
    {
        Skip.If(Fixture.UnavailableReason is not null, Fixture.UnavailableReason);
        var collection = "ct-" + Guid.NewGuid().ToString("N")[..20];
        return (await Fixture.CreateStoreAsync(collection, Ct), collection);
    }

    /// <summary>A new store whose collection exists with <see cref="Dimension"/> dimensions.</summary>
    protected async Task<IVectorStore> NewCollectionAsync()
    {
        var (store, collection) = await NewStoreAsync();
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, ModelA, Dimension), Ct);
        return store;
    }

    protected static float[] Unit(params float[] values)
    {
        var norm = MathF.Sqrt(values.Sum(v => v * v));
        return values.Select(v => v / norm).ToArray();
    }

    /// <summary>A unit vector along one axis; indexes wrap around the dimension.</summary>
    protected static float[] Axis(int index)
    {
        var vector = new float[Dimension];
        vector[index % Dimension] = 1;
        return vector;
    }

    protected static VectorRecord Record(string id, float[] vector) => new(id, vector, Meta(("id", id)));

    protected static Dictionary<string, JsonElement> Meta(params (string Key, object Value)[] fields) =>
        fields.ToDictionary(f => f.Key, f => JsonSerializer.SerializeToElement(f.Value), StringComparer.Ordinal);

    protected static MetadataFilter Filter(params (string Field, object[] Values)[] conditions) =>
        new(conditions.Select(c => new FieldCondition(c.Field, c.Values.Select(v => JsonSerializer.SerializeToElement(v)).ToList())).ToList());

    protected static void AssertVector(float[] expected, ReadOnlyMemory<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual.Span[i], Tolerance);
        }
    }

    protected async Task<List<VectorRecord>> ListAllAsync(IVectorStore store, int pageSize)
    {
        var all = new List<VectorRecord>();
        string? cursor = null;
        for (var page = 0; page < 1000; page++)
        {
            var result = await store.ListAsync(pageSize, cursor, Ct);
            Assert.True(result.Items.Count <= pageSize);
            all.AddRange(result.Items);
            cursor = result.NextCursor;
            if (cursor is null)
            {
                return all;
            }
        }

        throw new InvalidOperationException("ListAsync never stopped returning a cursor.");
    }

    /// <summary>Four directions with distinct cosine scores against (1, 0.2, 0, ...): near &gt; diagonal &gt; side &gt; opposite.</summary>
    private static Dictionary<string, float[]> QueryCorpus() => new(StringComparer.Ordinal)
    {
        ["near"] = Unit(1, 0.1f, 0, 0, 0, 0, 0, 0),
        ["diagonal"] = Unit(1, 1, 0, 0, 0, 0, 0, 0),
        ["side"] = Unit(0.1f, 1, 0.5f, 0, 0, 0, 0, 0),
        ["opposite"] = Unit(-1, -0.1f, 0, 0, 0, 0, 0, 0),
    };
}
