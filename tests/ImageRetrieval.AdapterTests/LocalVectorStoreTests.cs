using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores.Local;

namespace ImageRetrieval.AdapterTests;

/// <summary>What only the embedded store promises: durability across restarts, its file layout and its scan.</summary>
public sealed class LocalVectorStoreTests(LocalVectorStoreFixture fixture) : IClassFixture<LocalVectorStoreFixture>
{
    private const int Dimension = 8;
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task Given_records_When_the_store_is_reopened_Then_every_record_is_there()
    {
        var collection = NewCollection();
        var first = await CreateAsync(collection);
        var records = Enumerable.Range(0, 50).Select(i => Record($"img-{i:D2}", Random(i), ("n", i), ("even", i % 2 == 0))).ToList();
        await first.UpsertAsync(records, Ct);
        first.Dispose();

        var reopened = fixture.Open(collection);

        Assert.Equal(50, await reopened.CountAsync(Ct));
        Assert.Equal(new CollectionDescriptor(collection, "model-a", Dimension), await reopened.EnsureCollectionAsync(new(collection, "other", 3), Ct));
        var fetched = (await reopened.FetchAsync(records.Select(r => r.Id).ToList(), includeVectors: true, Ct)).ToDictionary(r => r.Id);
        foreach (var (record, i) in records.Select((r, i) => (r, i)))
        {
            var back = fetched[record.Id];
            AssertClose(record.Vector.ToArray(), back.Vector.ToArray());
            Assert.Equal(i, back.Metadata["n"].GetInt32());
        }

        var hit = (await reopened.QueryAsync(new VectorQuery(Random(7), TopK: 1), Ct))[0];
        Assert.Equal("img-07", hit.Record.Id);
    }

    [Fact]
    public async Task Given_an_acknowledged_upsert_When_the_process_state_is_dropped_without_dispose_Then_a_new_store_still_has_it()
    {
        var collection = NewCollection();
        var crashed = await CreateAsync(collection);
        await crashed.UpsertAsync([Record("kept", Random(1), ("k", "v"))], Ct);

        // No Dispose: the first store's connection and memory are simply abandoned, as after kill -9.
        var survivor = fixture.Open(collection);

        var fetched = Assert.Single(await survivor.FetchAsync(["kept"], includeVectors: true, Ct));
        AssertClose(Random(1), fetched.Vector.ToArray());
        Assert.Equal("v", fetched.Metadata["k"].GetString());
    }

    [Fact]
    public async Task Given_deleted_records_When_the_store_is_reopened_Then_they_stay_deleted_and_the_rest_is_intact()
    {
        var collection = NewCollection();
        var first = await CreateAsync(collection);
        await first.UpsertAsync(Enumerable.Range(0, 10).Select(i => Record($"r{i}", Random(i))).ToList(), Ct);
        await first.DeleteAsync(["r0", "r5", "r9"], Ct);
        first.Dispose();

        var reopened = fixture.Open(collection);

        Assert.Equal(7, await reopened.CountAsync(Ct));
        var ids = (await reopened.FetchAsync(Enumerable.Range(0, 10).Select(i => $"r{i}").ToList(), includeVectors: false, Ct)).Select(r => r.Id);
        Assert.Equal(["r1", "r2", "r3", "r4", "r6", "r7", "r8"], ids.Order(StringComparer.Ordinal));
        Assert.Equal("r8", (await reopened.QueryAsync(new VectorQuery(Random(8), TopK: 1), Ct))[0].Record.Id);
    }

    [Fact]
    public async Task Given_a_recreated_collection_When_reopened_Then_the_new_descriptor_and_no_old_records_remain()
    {
        var collection = NewCollection();
        var first = await CreateAsync(collection);
        await first.UpsertAsync([Record("old", Random(1))], Ct);
        await first.RecreateCollectionAsync(new CollectionDescriptor(collection, "model-b", 4), Ct);
        first.Dispose();

        var reopened = fixture.Open(collection);

        Assert.Equal(0, await reopened.CountAsync(Ct));
        Assert.Equal(new CollectionDescriptor(collection, "model-b", 4), await reopened.EnsureCollectionAsync(new(collection, "model-a", Dimension), Ct));
    }

    [Fact]
    public async Task Given_a_collection_When_created_Then_it_lives_in_a_sqlite_file_named_after_it_under_vectors()
    {
        var collection = NewCollection();
        var store = await CreateAsync(collection);

        Assert.Equal(Path.Combine(fixture.DataPath, "vectors", collection + ".db"), store.DatabasePath);
        Assert.True(File.Exists(store.DatabasePath));
    }

    [Fact]
    public async Task Given_a_vector_that_is_not_unit_length_When_upserted_Then_it_is_stored_normalised_and_scores_are_cosines()
    {
        var store = await CreateAsync(NewCollection());

        await store.UpsertAsync([Record("long", [3, 4, 0, 0, 0, 0, 0, 0])], Ct);

        var fetched = Assert.Single(await store.FetchAsync(["long"], includeVectors: true, Ct));
        AssertClose([0.6f, 0.8f, 0, 0, 0, 0, 0, 0], fetched.Vector.ToArray());
        var hit = Assert.Single(await store.QueryAsync(new VectorQuery(new float[] { 10, 0, 0, 0, 0, 0, 0, 0 }, TopK: 1), Ct));
        Assert.Equal(0.6f, hit.Score, 1e-6f);
    }

    [Fact]
    public async Task Given_equal_scores_When_queried_Then_ties_are_ordered_by_id()
    {
        var store = await CreateAsync(NewCollection());
        var same = Random(3);
        await store.UpsertAsync(new[] { "d", "b", "e", "a", "c" }.Select(id => Record(id, same)).ToList(), Ct);

        var hits = await store.QueryAsync(new VectorQuery(same, TopK: 3), Ct);

        Assert.Equal(["a", "b", "c"], hits.Select(h => h.Record.Id));
    }

    [Fact]
    public async Task Given_a_wrong_dimension_When_upserted_Then_the_message_names_both_dimensions()
    {
        var store = await CreateAsync(NewCollection());

        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.UpsertAsync([Record("x", [1, 2, 3])], Ct));

        Assert.Contains("3-d", error.Message, StringComparison.Ordinal);
        Assert.Contains("8-d", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_query_of_the_wrong_dimension_When_run_Then_an_argument_exception_is_thrown()
    {
        var store = await CreateAsync(NewCollection());

        await Assert.ThrowsAsync<ArgumentException>(() => store.QueryAsync(new VectorQuery(new float[] { 1, 2, 3 }, TopK: 1), Ct));
    }

    [Fact]
    public async Task Given_no_collection_When_upserting_Then_it_says_to_ensure_the_collection_first()
    {
        var store = fixture.Open(NewCollection());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.UpsertAsync([Record("x", Random(1))], Ct));

        Assert.Contains("EnsureCollectionAsync", error.Message, StringComparison.Ordinal);
        Assert.Empty(await store.QueryAsync(new VectorQuery(Random(1), TopK: 3), Ct));
        Assert.Equal(0, await store.CountAsync(Ct));
    }

    [Theory]
    [InlineData("{\"a\":1}")]
    [InlineData("[1,2]")]
    [InlineData("null")]
    public async Task Given_metadata_that_remote_stores_reject_When_upserted_Then_it_is_rejected_here_too(string json)
    {
        var store = await CreateAsync(NewCollection());
        using var document = JsonDocument.Parse(json);
        var record = new VectorRecord("x", Random(1), new Dictionary<string, JsonElement> { ["bad"] = document.RootElement.Clone() });

        await Assert.ThrowsAsync<ArgumentException>(() => store.UpsertAsync([record], Ct));
    }

    [Fact]
    public async Task Given_pages_When_listed_Then_ids_come_in_ordinal_order_and_the_cursor_is_the_base64url_last_id()
    {
        var store = await CreateAsync(NewCollection());
        await store.UpsertAsync(new[] { "b", "a", "C", "c", "a-1" }.Select(id => Record(id, Random(id.Length))).ToList(), Ct);

        var page = await store.ListAsync(2, null, Ct);
        var rest = await store.ListAsync(10, page.NextCursor, Ct);

        Assert.Equal(["C", "a"], page.Items.Select(r => r.Id));
        Assert.Equal(LocalVectorStore.EncodeCursor("a"), page.NextCursor);
        Assert.Equal(["a-1", "b", "c"], rest.Items.Select(r => r.Id));
        Assert.Null(rest.NextCursor);
        Assert.All(page.Items, r => Assert.True(r.Vector.IsEmpty));
        await Assert.ThrowsAsync<InvalidCursorException>(() => store.ListAsync(2, "not base64url!", Ct));
    }

    [Theory]
    [InlineData(LocalIndexKind.Exact, 5000)]
    [InlineData(LocalIndexKind.Exact, 30_000)]
    [InlineData(LocalIndexKind.Quantized, 30_000)]
    [InlineData(LocalIndexKind.Int4, 30_000)]
    public async Task Given_many_rows_When_scanned_in_parallel_Then_results_equal_the_single_threaded_scan(LocalIndexKind kind, int rows)
    {
        var index = new LocalVectorIndex(16, kind);
        var rng = new Random(42);
        for (var i = 0; i < rows; i++)
        {
            var v = Enumerable.Range(0, 16).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            var metadata = new Dictionary<string, JsonElement> { ["even"] = JsonSerializer.SerializeToElement(i % 2 == 0) };
            index.Upsert($"id{i:D5}", i, LocalVectorIndex.Normalize(v, "v"), MetadataJson.SerializeToUtf8(metadata), MetadataJson.Signature(metadata));
        }

        var query = LocalVectorIndex.Normalize(Enumerable.Range(0, 16).Select(i => (float)Math.Sin(i)).ToArray(), "q");
        var filter = new MetadataFilter([new FieldCondition("even", [JsonSerializer.SerializeToElement(true)])]);

        var serial = index.Search(query, 25, filter, minScore: 0.1f, excludeIds: ["id00000", "id00002"], parallel: false);
        var parallel = index.Search(query, 25, filter, minScore: 0.1f, excludeIds: ["id00000", "id00002"], parallel: true);

        Assert.Equal(kind != LocalIndexKind.Exact, index.UsesCodes);
        Assert.Equal(25, serial.Count);
        Assert.DoesNotContain(serial, r => r.Record.Id is "id00000" or "id00002" || !r.Record.Metadata["even"].GetBoolean() || r.Score < 0.1f);
        Assert.Equal(serial.Select(r => (r.Record.Id, r.Score)), parallel.Select(r => (r.Record.Id, r.Score)));
        Assert.True(serial.Zip(serial.Skip(1)).All(p => p.First.Score >= p.Second.Score));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Given_deletes_in_the_middle_When_more_rows_are_added_Then_swap_removal_keeps_every_row_addressable()
    {
        var store = await CreateAsync(NewCollection());
        await store.UpsertAsync(Enumerable.Range(0, 100).Select(i => Record($"r{i:D3}", Random(i))).ToList(), Ct);
        await store.DeleteAsync(Enumerable.Range(0, 100).Where(i => i % 3 == 0).Select(i => $"r{i:D3}").ToList(), Ct);
        await store.UpsertAsync(Enumerable.Range(100, 40).Select(i => Record($"r{i:D3}", Random(i))).ToList(), Ct);

        var expected = Enumerable.Range(0, 140).Where(i => i >= 100 || i % 3 != 0).ToList();
        Assert.Equal(expected.Count, await store.CountAsync(Ct));
        foreach (var i in expected)
        {
            var hit = (await store.QueryAsync(new VectorQuery(Random(i), TopK: 1), Ct))[0];
            Assert.Equal($"r{i:D3}", hit.Record.Id);
            Assert.Equal(1f, hit.Score, 1e-5f);
        }
    }

    [Fact]
    public async Task Given_concurrent_queries_and_writes_When_run_together_Then_nothing_throws_and_every_write_lands()
    {
        var store = await CreateAsync(NewCollection());
        await store.UpsertAsync(Enumerable.Range(0, 200).Select(i => Record($"seed{i}", Random(i))).ToList(), Ct);

        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                await store.UpsertAsync([Record($"w{w}-{i}", Random(1000 + (w * 100) + i))], Ct);
            }
        }));
        var readers = Enumerable.Range(0, 4).Select(r => Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                Assert.Equal(5, (await store.QueryAsync(new VectorQuery(Random(i), TopK: 5), Ct)).Count);
            }
        }));
        await Task.WhenAll(writers.Concat(readers));

        Assert.Equal(300, await store.CountAsync(Ct));
    }

    [Fact]
    public async Task Given_a_store_When_checked_Then_it_is_reachable_and_after_dispose_it_refuses_calls()
    {
        var store = await CreateAsync(NewCollection());
        await store.CheckReachableAsync(Ct);

        store.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.CountAsync(Ct));
    }

    [Fact]
    public async Task Given_vectors_appended_whose_commit_never_happened_When_reopened_and_written_Then_no_row_appears_and_every_vector_reads_back()
    {
        var collection = NewCollection();
        var crashed = await CreateAsync(collection);
        await crashed.UpsertAsync(Enumerable.Range(0, 10).Select(i => Record($"a{i}", Random(i))).ToList(), Ct);
        await crashed.UpsertAsync([Record("a3", Random(33), ("v", 2))], Ct);

        // A batch staged in the segment and then the process died before SQLite committed it: garbage past the committed slots.
        var segment = LocalVectorSegment.PathFor(crashed.DatabasePath);
        await using (var file = new FileStream(segment, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
        {
            file.Write(Enumerable.Repeat((byte)0x7F, Dimension * sizeof(float) * 3).ToArray());
        }

        var second = fixture.Open(collection);
        Assert.Equal(10, await second.CountAsync(Ct));
        await second.UpsertAsync(Enumerable.Range(10, 5).Select(i => Record($"a{i}", Random(i))).ToList(), Ct);

        // Dies too; the third store replays the second's rows from SQLite and their vectors from the segment.
        var third = fixture.Open(collection);
        Assert.Equal(15, await third.CountAsync(Ct));
        var fetched = (await third.FetchAsync(Enumerable.Range(0, 15).Select(i => $"a{i}").ToList(), includeVectors: true, Ct)).ToDictionary(r => r.Id);
        for (var i = 0; i < 15; i++)
        {
            AssertClose(Random(i == 3 ? 33 : i), fetched[$"a{i}"].Vector.ToArray());
        }

        Assert.Equal(2, fetched["a3"].Metadata["v"].GetInt32());
        Assert.Equal("a12", (await third.QueryAsync(new VectorQuery(Random(12), TopK: 1), Ct))[0].Record.Id);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Given_overwrites_deletes_and_an_id_written_twice_in_one_batch_When_reopened_from_the_vector_file_or_from_sqlite_alone_Then_each_id_has_its_last_write_once(bool withoutVectorFile)
    {
        var collection = NewCollection();
        var first = await CreateAsync(collection);
        await first.UpsertAsync(Enumerable.Range(0, 20).Select(i => Record($"o{i:D2}", Random(i), ("v", 1))).ToList(), Ct);
        first.Dispose();

        // After the vector file: an overwrite, a batch that names o05 twice and adds o20 twice, deletes; then the process dies.
        var second = fixture.Open(collection);
        await second.UpsertAsync([Record("o03", Random(103), ("v", 2))], Ct);
        await second.UpsertAsync([Record("o05", Random(105), ("v", 2)), Record("o20", Random(120), ("v", 1)), Record("o05", Random(205), ("v", 3)), Record("o20", Random(220), ("v", 2))], Ct);
        await second.DeleteAsync(["o07", "o03", "o11"], Ct);
        await second.UpsertAsync([Record("o11", Random(111), ("v", 4))], Ct);
        Assert.Equal(19, await second.CountAsync(Ct));
        if (withoutVectorFile)
        {
            File.Delete(second.VectorFilePath);
        }

        var third = fixture.Open(collection);

        Assert.Equal(19, await third.CountAsync(Ct));
        Assert.Equal(withoutVectorFile ? "rebuild: missing" : "snapshot+replay", third.LoadedFrom);
        var expected = new Dictionary<string, (int Seed, int Version)>();
        for (var i = 0; i < 20; i++)
        {
            expected[$"o{i:D2}"] = (i, 1);
        }

        expected.Remove("o07");
        expected.Remove("o03");
        expected["o05"] = (205, 3);
        expected["o20"] = (220, 2);
        expected["o11"] = (111, 4);
        var fetched = (await third.FetchAsync(expected.Keys.ToList(), includeVectors: true, Ct)).ToDictionary(r => r.Id);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), fetched.Keys.Order(StringComparer.Ordinal));
        foreach (var (id, (seed, version)) in expected)
        {
            AssertClose(Random(seed), fetched[id].Vector.ToArray());
            Assert.Equal(version, fetched[id].Metadata["v"].GetInt32());
        }

        var page = await third.ListAsync(100, null, Ct);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), page.Items.Select(r => r.Id));
        Assert.Equal("o05", (await third.QueryAsync(new VectorQuery(Random(205), TopK: 1), Ct))[0].Record.Id);

        // The snapshot the third wrote on close matches SQLite's row count only if no replaced or repeated row was left there.
        third.Dispose();
        var fourth = fixture.Open(collection);
        Assert.Equal(19, await fourth.CountAsync(Ct));
        Assert.Equal("snapshot", fourth.LoadedFrom);
    }

    [Fact]
    public async Task Given_ids_beyond_the_basic_plane_When_listed_Then_they_come_in_utf8_byte_order_as_sqlite_sorts_them()
    {
        var collection = NewCollection();
        var store = await CreateAsync(collection);
        string[] ids = ["\U0001F600-emoji", "a", "\uE000-private", "\u00E9-accent", "Z"];
        await store.UpsertAsync(ids.Select((id, i) => Record(id, Random(i))).ToList(), Ct);

        var first = await store.ListAsync(2, null, Ct);
        var rest = await store.ListAsync(10, first.NextCursor, Ct);

        // UTF-16 ordinal order would put the emoji (a surrogate pair, 0xD83D) before U+E000; UTF-8 puts it last.
        Assert.Equal(["Z", "a", "\u00E9-accent", "\uE000-private", "\U0001F600-emoji"], first.Items.Concat(rest.Items).Select(r => r.Id));
        Assert.Null(rest.NextCursor);
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(true, 4096 + (Dimension * sizeof(float) * 3))]
    public async Task Given_a_segment_shorter_than_its_committed_vectors_When_opened_Then_the_store_is_unavailable_instead_of_serving_wrong_vectors_or_faulting_later(bool keepVectorFile, int cut)
    {
        // The vectors are read through a map of the file: a mapped page past its end would fault (SIGBUS, the
        // process dies) at the first search that reads it, so the open must refuse. With the vector file kept
        // memory would come from it without reading a vector, so the check cannot rely on a rebuild reading them.
        var collection = NewCollection();
        var first = await CreateAsync(collection);
        await first.UpsertAsync(Enumerable.Range(0, 4).Select(i => Record($"b{i}", Random(i))).ToList(), Ct);
        first.Dispose();
        if (!keepVectorFile)
        {
            File.Delete(first.VectorFilePath);
        }

        var segment = LocalVectorSegment.PathFor(first.DatabasePath);
        await using (var file = new FileStream(segment, FileMode.Open, FileAccess.Write))
        {
            file.SetLength(file.Length - cut);
        }

        var reopened = fixture.Open(collection);

        var refused = await Assert.ThrowsAsync<StoreUnavailableException>(() => reopened.QueryAsync(new VectorQuery(Random(1), TopK: 4), Ct));
        Assert.Contains(segment, refused.Message, StringComparison.Ordinal);
        Assert.Contains("4 committed vectors", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<StoreUnavailableException>(() => reopened.CountAsync(Ct));
    }

    [Theory]
    [InlineData("local-store-v2", LocalIndexKind.Int4, "rebuild: format version 2")]
    [InlineData("local-store-v2", LocalIndexKind.Quantized, "rebuild: format version 2")]
    [InlineData("local-store-v2", LocalIndexKind.Exact, "rebuild: format version 2")]
    [InlineData("local-store-v3", LocalIndexKind.Int4, "snapshot+replay")]
    [InlineData("local-store-v3", LocalIndexKind.Quantized, "snapshot+replay")]
    [InlineData("local-store-v3", LocalIndexKind.Exact, "snapshot+replay")]
    public async Task Given_a_data_dir_written_by_an_older_format_When_opened_Then_every_row_survives_with_its_latest_write_and_later_opens_are_fast(string fixtureName, LocalIndexKind kind, string firstLoad)
    {
        // tests/fixtures/local-store-v2: written by main at a072fc6 (vectors in SQLite, v2 vector file with int8
        // codes); local-store-v3: by main at 5164989 (slot-keyed rows, vectors in the segment, v3 vector file with
        // fp32 vectors and 4-bit codes). In both, writes after that file are left only in SQLite as after kill -9;
        // each fixture's Generate.cs.txt made it. A v3 file is read (its vectors skipped), a v2 file rebuilt.
        var collection = CopyFixture(fixtureName);
        var options = new LocalVectorStoreOptions { Index = kind };
        var store = fixture.Open(collection, options);

        await AssertLegacyRowsAsync(store);
        Assert.Equal(firstLoad, store.LoadedFrom);
        store.Dispose();
        var reopened = fixture.Open(collection, options);
        await AssertLegacyRowsAsync(reopened);
        Assert.Equal("snapshot", reopened.LoadedFrom);
        await reopened.UpsertAsync([Record("after-migration", LegacyVector(424242))], Ct);
        Assert.Equal("after-migration", (await reopened.QueryAsync(new VectorQuery(LegacyVector(424242), TopK: 1), Ct))[0].Record.Id);
    }

    [Theory]
    [InlineData(LocalIndexKind.Int4)]
    [InlineData(LocalIndexKind.Quantized)]
    [InlineData(LocalIndexKind.Exact)]
    public async Task Given_a_data_dir_of_the_segment_era_whose_records_table_names_slots_When_opened_Then_rows_vectors_metadata_and_searches_survive_the_move_to_rows(LocalIndexKind kind)
    {
        // tests/fixtures/local-store-records-slots: local-store-v2 opened and written by main at cf72e37 (the last
        // commit with the id-keyed 'records' table and a segment slot column), so 'records' holds rows with their
        // vector in SQLite (slot -1) beside rows whose vector is in the segment, a dead slot, a resurrected
        // tombstone, a v2 vector file of that era, and a WAL tail no vector file covers (see its Generate.cs.txt).
        var collection = CopyFixture("local-store-records-slots");
        var options = new LocalVectorStoreOptions { Index = kind };
        var store = fixture.Open(collection, options);

        await AssertSegmentEraRowsAsync(store);
        Assert.Equal("rebuild: format version 2", store.LoadedFrom);
        await store.UpsertAsync([Record("after-migration", LegacyVector(424242), ("n", -7))], Ct);
        store.Dispose();

        // From the vector file the first open wrote, and then from SQLite alone: both read the moved rows.
        var reopened = fixture.Open(collection, options);
        await AssertSegmentEraRowsAsync(reopened, extra: 1);
        Assert.Equal("snapshot", reopened.LoadedFrom);
        reopened.Dispose();
        File.Delete(reopened.VectorFilePath);
        var rebuilt = fixture.Open(collection, options);
        await AssertSegmentEraRowsAsync(rebuilt, extra: 1);
        Assert.Equal("rebuild: missing", rebuilt.LoadedFrom);
        Assert.Equal(-7, Assert.Single(await rebuilt.FetchAsync(["after-migration"], includeVectors: false, Ct)).Metadata["n"].GetInt32());
    }

    [Fact]
    public async Task Given_metadata_parsed_from_raw_json_When_filtered_by_each_value_Then_the_stored_signature_lets_the_row_through()
    {
        // A row's Bloom signature hashes string values from the caller's document bytes (when they have no
        // escapes), a filter's from .NET strings: the two must give the same bits, or a scan rejects the row
        // before its JSON is checked. Unescaped and escaped non-ASCII, an escaped quote, a string longer than
        // the hash's stack buffer, numbers written as 2 and 2.0, a bool and an array element cover both ways.
        var collection = NewCollection();
        var store = await CreateAsync(collection);
        var longText = new string('x', 300) + "é";
        var json = $$"""{"u":"café 🌉","e":"caf\u00e9","q":"a\"b","long":"{{longText}}","n":2.0,"b":true,"tags":["plain","sp ace"]}""";
        using var document = JsonDocument.Parse(json);
        var metadata = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
        await store.UpsertAsync([new VectorRecord("parsed", Random(1), metadata), Record("other", Random(2), ("u", "cafe"), ("n", 3))], Ct);
        var wanted = new (string Field, object Value)[] { ("u", "café 🌉"), ("e", "café"), ("q", "a\"b"), ("long", longText), ("n", 2), ("b", true), ("tags", "sp ace") };
        foreach (var (field, value) in wanted)
        {
            var element = JsonSerializer.SerializeToElement(value);
            Assert.Equal(FilterSignature.Of(field, element), FilterSignature.OfStored(field, field == "tags" ? metadata["tags"][1] : metadata[field]));
            var filter = new MetadataFilter([new FieldCondition(field, [element])]);

            var hits = await store.QueryAsync(new VectorQuery(Random(2), TopK: 5, Filter: filter), Ct);

            Assert.Equal("parsed", Assert.Single(hits).Record.Id);
        }

        store.Dispose();
        var reopened = fixture.Open(collection);
        var fromFile = await reopened.QueryAsync(new VectorQuery(Random(2), TopK: 5, Filter: new MetadataFilter([new FieldCondition("u", [JsonSerializer.SerializeToElement("café 🌉")])])), Ct);
        Assert.Equal("parsed", Assert.Single(fromFile).Record.Id);
        var back = Assert.Single(await reopened.FetchAsync(["parsed"], includeVectors: false, Ct)).Metadata;
        Assert.Equal(["b", "e", "long", "n", "q", "tags", "u"], back.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("café 🌉", back["u"].GetString());
        Assert.Equal("café", back["e"].GetString());
        Assert.Equal(2.0, back["n"].GetDouble());
        Assert.Equal("a\"b", back["q"].GetString());
        Assert.Equal(longText, back["long"].GetString());
    }

    [Fact]
    public async Task Given_more_rows_than_one_mapped_extent_of_the_segment_When_reopened_after_deletes_Then_every_row_reads_its_own_vector()
    {
        // Vectors are read from the segment in extents of 16384 slots; 20000 rows span two, and deleting rows of
        // the first moves rows of the second into their places (swap removal), so rows and slots no longer agree.
        var collection = NewCollection();
        var first = await CreateAsync(collection);
        for (var start = 0; start < 20_000; start += 2_500)
        {
            await first.UpsertAsync(Enumerable.Range(start, 2_500).Select(i => Record($"x{i:D5}", Random(i), ("n", i))).ToList(), Ct);
        }

        await first.DeleteAsync(Enumerable.Range(0, 40).Select(i => $"x{i * 50:D5}").ToList(), Ct);
        await first.UpsertAsync([Record("x16500", Random(77_777), ("n", -1))], Ct);
        first.Dispose();

        var reopened = fixture.Open(collection);

        Assert.Equal(20_000 - 40, await reopened.CountAsync(Ct));
        Assert.Equal("snapshot", reopened.LoadedFrom);
        var probes = new[] { 1, 999, 16_383, 16_384, 16_385, 16_500, 19_999 };
        var fetched = (await reopened.FetchAsync(probes.Select(i => $"x{i:D5}").ToList(), includeVectors: true, Ct)).ToDictionary(r => r.Id);
        foreach (var i in probes)
        {
            var seed = i == 16_500 ? 77_777 : i;
            AssertClose(Random(seed), fetched[$"x{i:D5}"].Vector.ToArray());
            var hit = (await reopened.QueryAsync(new VectorQuery(Random(seed), TopK: 1), Ct))[0];
            Assert.Equal($"x{i:D5}", hit.Record.Id);
            Assert.Equal(1f, hit.Score, 1e-5f);
        }

        Assert.Empty(await reopened.FetchAsync(["x00050", "x01950"], includeVectors: true, Ct));
    }

    /// <summary>3000 rows r0000-r2999 of 16-d, every 7th of the first 280 deleted, r3000-r3024 added, r0001 overwritten, r0002 deleted.</summary>
    private static async Task AssertLegacyRowsAsync(LocalVectorStore store)
    {
        Assert.Equal(new CollectionDescriptor("legacy", "model-legacy", 16), store.ReadDescriptor());
        Assert.Equal(2984, await store.CountAsync(Ct));
        var ids = Enumerable.Range(0, 3025).Select(i => $"r{i:D4}").ToList();
        var fetched = (await store.FetchAsync(ids, includeVectors: true, Ct)).ToDictionary(r => r.Id);
        for (var i = 0; i < 3025; i++)
        {
            var deleted = i == 2 || (i % 7 == 0 && i < 280);
            Assert.Equal(!deleted, fetched.ContainsKey($"r{i:D4}"));
            if (!deleted)
            {
                var seed = i == 1 ? 90001 : i;
                var record = fetched[$"r{i:D4}"];
                Assert.Equal(seed, record.Metadata["n"].GetInt32());
                var expected = LegacyVector(seed);
                for (var d = 0; d < 16; d++)
                {
                    Assert.Equal(expected[d], record.Vector.Span[d], 1e-5f);
                }
            }
        }

        foreach (var i in new[] { 1, 5, 2999, 3024 })
        {
            var hit = (await store.QueryAsync(new VectorQuery(LegacyVector(i == 1 ? 90001 : i), TopK: 1), Ct))[0];
            Assert.Equal($"r{i:D4}", hit.Record.Id);
            Assert.Equal(1f, hit.Score, 1e-5f);
        }
    }

    /// <summary>
    /// The segment-era fixture: local-store-v2's rows (every 7th of the first 280 and r0002 deleted, r0001 at
    /// seed 90001), then r3025-r3549 added, r0010-r0019 at seed 80000+i (bringing deleted r0014 back), r3030 at
    /// 60030, r3026 at 70026, r0020, r3040 and r0030 deleted. Metadata n is each row's seed, tags [t(seed % 5)].
    /// </summary>
    private static async Task AssertSegmentEraRowsAsync(LocalVectorStore store, int extra = 0)
    {
        static int? SeedOf(int i) => i is 2 or 20 or 30 or 3040 || (i % 7 == 0 && i < 280 && i != 14) ? null
            : i == 1 ? 90001 : i is >= 10 and < 20 ? 80000 + i : i == 3030 ? 60030 : i == 3026 ? 70026 : i;

        Assert.Equal(new CollectionDescriptor("legacy", "model-legacy", 16), store.ReadDescriptor());
        Assert.Equal(3507 + extra, await store.CountAsync(Ct));
        var ids = Enumerable.Range(0, 3550).Select(i => $"r{i:D4}").ToList();
        var fetched = (await store.FetchAsync(ids, includeVectors: true, Ct)).ToDictionary(r => r.Id);
        for (var i = 0; i < 3550; i++)
        {
            Assert.Equal(SeedOf(i) is not null, fetched.ContainsKey($"r{i:D4}"));
            if (SeedOf(i) is { } seed)
            {
                var record = fetched[$"r{i:D4}"];
                Assert.Equal(seed, record.Metadata["n"].GetInt32());
                Assert.Equal($"t{seed % 5}", record.Metadata["tags"][0].GetString());
                var expected = LegacyVector(seed);
                for (var d = 0; d < 16; d++)
                {
                    Assert.Equal(expected[d], record.Vector.Span[d], 1e-5f);
                }
            }
        }

        // A row of each kind: from SQLite's vector column (5, 2999), rewritten into the segment (1 in v2, 14, 17),
        // written in the segment era (3100, 3030, 3026) and in its WAL tail (3549).
        foreach (var i in new[] { 1, 5, 14, 17, 2999, 3026, 3030, 3100, 3549 })
        {
            var seed = SeedOf(i)!.Value;
            var hit = (await store.QueryAsync(new VectorQuery(LegacyVector(seed), TopK: 1), Ct))[0];
            Assert.Equal($"r{i:D4}", hit.Record.Id);
            Assert.Equal(1f, hit.Score, 1e-5f);
            var tag = new MetadataFilter([new FieldCondition("tags", [JsonSerializer.SerializeToElement($"t{(seed + 1) % 5}")])]);
            var filtered = await store.QueryAsync(new VectorQuery(LegacyVector(seed), TopK: 3, Filter: tag), Ct);
            Assert.Equal(3, filtered.Count);
            Assert.All(filtered, r => Assert.Equal($"t{(seed + 1) % 5}", r.Record.Metadata["tags"][0].GetString()));
        }

        var listed = await ListedIdsAsync(store);

        Assert.Equal(fetched.Keys.Concat(extra > 0 ? ["after-migration"] : []).Order(StringComparer.Ordinal), listed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Given_bad_records_deep_in_a_large_batch_When_upserted_Then_the_first_ones_error_is_thrown_and_the_store_is_unchanged_and_usable(bool abandonInsteadOfDispose)
    {
        var collection = NewCollection();
        var store = await CreateAsync(collection);
        await store.UpsertAsync(Enumerable.Range(0, 300).Select(i => Record($"a{i:D4}", Random(i), ("v", 1))).ToList(), Ct);

        // 1000 rows are 8 blocks prepared beside SQLite: the bad rows are in blocks 5 and 7, after blocks already inserted into the transaction.
        var batch = Enumerable.Range(0, 1000).Select(i => i < 20
            ? Record($"a{i:D4}", Random(10_000 + i), ("v", 2))
            : Record($"b{i:D4}", i == 700 ? new float[Dimension] : Random(i + 1000), ("v", 2))).ToList();
        batch[950] = new VectorRecord("b0950", Random(5), new Dictionary<string, JsonElement> { ["bad"] = JsonSerializer.SerializeToElement(new { nested = 1 }) });

        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.UpsertAsync(batch, Ct));
        Assert.Contains("'b0700'", error.Message);

        await AssertOnlyTheFirstBatchAsync(store);
        if (abandonInsteadOfDispose)
        {
            // kill -9 right after the failed batch: SQLite and the segment must say the same.
            await AssertOnlyTheFirstBatchAsync(fixture.Open(collection));
        }

        batch[700] = Record("b0700", Random(1700), ("v", 2));
        batch[950] = Record("b0950", Random(1950), ("v", 2));
        await store.UpsertAsync(batch, Ct);
        Assert.Equal(1280, await store.CountAsync(Ct));
        if (!abandonInsteadOfDispose)
        {
            store.Dispose();
        }

        var reopened = fixture.Open(collection);
        Assert.Equal(1280, await reopened.CountAsync(Ct));
        var fetched = (await reopened.FetchAsync(["a0000", "a0019", "a0020", "b0700", "b0999"], includeVectors: true, Ct)).ToDictionary(r => r.Id);
        AssertClose(Random(10_000), fetched["a0000"].Vector.ToArray());
        AssertClose(Random(10_019), fetched["a0019"].Vector.ToArray());
        AssertClose(Random(20), fetched["a0020"].Vector.ToArray());
        AssertClose(Random(1700), fetched["b0700"].Vector.ToArray());
        AssertClose(Random(1999), fetched["b0999"].Vector.ToArray());
        Assert.Equal(2, fetched["a0000"].Metadata["v"].GetInt32());
        Assert.Equal(1, fetched["a0020"].Metadata["v"].GetInt32());
        Assert.Equal("b0700", (await reopened.QueryAsync(new VectorQuery(Random(1700), TopK: 1), Ct))[0].Record.Id);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(-1)]
    public async Task Given_a_disk_failure_while_a_batch_is_prepared_or_committed_beside_sqlite_When_upserted_Then_the_store_is_unavailable_for_it_unchanged_and_usable_after(int failingBlock)
    {
        var collection = NewCollection();
        var store = await CreateAsync(collection);

        // Enough rows that memory codes them, so a reverted batch must restore the codes of the rows it replaced too.
        await store.UpsertAsync(Enumerable.Range(0, 2500).Select(i => Record($"a{i:D4}", Random(i), ("v", 1))).ToList(), Ct);
        Assert.True(store.UsesQuantizedScan);
        var batch = Enumerable.Range(0, 1000).Select(i => Record(i < 20 ? $"a{i:D4}" : $"b{i:D4}", Random(10_000 + i), ("v", 2))).ToList();

        var blocks = new System.Collections.Concurrent.ConcurrentBag<int>();
        store.OnBatchBlock = block =>
        {
            blocks.Add(block);
            if (block == failingBlock)
            {
                // Just before the commit (-1), memory's copy of the batch is being made beside it: let it finish, so the failure must undo it.
                if (block < 0)
                {
                    Thread.Sleep(300);
                }

                throw new IOException("No space left on device (test)");
            }
        };
        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.UpsertAsync(batch, Ct));
        Assert.Contains("No space left on device (test)", error.Message);
        Assert.Contains(failingBlock, blocks);

        await AssertOnlyTheFirstBatchAsync(store, 2500);
        await AssertOnlyTheFirstBatchAsync(fixture.Open(collection), 2500);

        store.OnBatchBlock = null;
        await store.UpsertAsync(batch, Ct);
        var reopened = fixture.Open(collection);
        Assert.Equal(3480, await reopened.CountAsync(Ct));
        var fetched = (await reopened.FetchAsync(batch.Select(r => r.Id).ToList(), includeVectors: true, Ct)).ToDictionary(r => r.Id);
        foreach (var record in batch)
        {
            AssertClose(record.Vector.ToArray(), fetched[record.Id].Vector.ToArray());
        }
    }

    [Theory]
    [InlineData(LocalIndexKind.Int4)]
    [InlineData(LocalIndexKind.Quantized)]
    public async Task Given_two_large_batches_of_the_same_ids_upserted_at_once_When_both_return_Then_every_id_has_the_same_batchs_write_in_memory_and_after_a_restart(LocalIndexKind kind)
    {
        var collection = NewCollection();
        var store = fixture.Open(collection, new LocalVectorStoreOptions { Index = kind });
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, "model-a", Dimension), Ct);

        // Past the rows a quantized index needs to code them, so both batches code their rows beside SQLite.
        await store.UpsertAsync(Enumerable.Range(0, 3000).Select(i => Record($"base{i:D4}", Random(50_000 + i))).ToList(), Ct);
        var ids = Enumerable.Range(0, 1000).Select(i => $"x{i:D4}").ToList();
        List<VectorRecord> Batch(int seed) => ids.Select((id, i) => Record(id, Random((seed * 10_000) + i), ("batch", seed))).ToList();
        var first = Batch(1);
        var second = Batch(2);

        await Task.WhenAll(Task.Run(() => store.UpsertAsync(first, Ct)), Task.Run(() => store.UpsertAsync(second, Ct)));

        var fetched = (await store.FetchAsync(ids, includeVectors: true, Ct)).ToDictionary(r => r.Id);
        var winner = fetched["x0000"].Metadata["batch"].GetInt32();
        var expected = winner == 1 ? first : second;
        Assert.All(expected, r => AssertClose(r.Vector.ToArray(), fetched[r.Id].Vector.ToArray()));
        Assert.All(fetched.Values, r => Assert.Equal(winner, r.Metadata["batch"].GetInt32()));
        foreach (var probe in new[] { 0, 511, 999 })
        {
            var hit = (await store.QueryAsync(new VectorQuery(expected[probe].Vector, TopK: 1), Ct))[0];
            Assert.Equal(expected[probe].Id, hit.Record.Id);
            Assert.Equal(1f, hit.Score, 1e-5f);
        }

        // No dispose: the restart replays SQLite, which must hold the same winner.
        var restarted = fixture.Open(collection, new LocalVectorStoreOptions { Index = kind });
        Assert.Equal(4000, await restarted.CountAsync(Ct));
        var back = (await restarted.FetchAsync(ids, includeVectors: true, Ct)).ToDictionary(r => r.Id);
        Assert.All(expected, r => AssertClose(r.Vector.ToArray(), back[r.Id].Vector.ToArray()));
    }

    [Theory]
    [InlineData(LocalIndexKind.Int4)]
    [InlineData(LocalIndexKind.Quantized)]
    public void Given_codes_made_before_the_upsert_When_taken_Then_they_equal_the_index_own_and_stale_ones_across_a_recalibration_are_not_taken(LocalIndexKind kind)
    {
        const int Dim = 40;
        var own = new LocalVectorIndex(Dim, kind);
        var given = new LocalVectorIndex(Dim, kind);
        // The later rows spread wider in the first dimensions, so the re-calibration at 4096 rows changes the coding.
        float[] Vector(int seed)
        {
            var rng = new Random(seed);
            return LocalVectorIndex.Normalize(Enumerable.Range(0, Dim).Select(d => ((float)rng.NextDouble() - 0.3f) * (seed >= 3000 && d < 10 ? 4f : 1f)).ToArray(), "test vector");
        }

        for (var i = 0; i < 3000; i++)
        {
            own.Upsert($"r{i}", i, Vector(i), MetadataJson.Empty, default);
            given.Upsert($"r{i}", i, Vector(i), MetadataJson.Empty, default);
        }

        // Coded with the parameters of 3000 rows; the index re-calibrates at 4096, so the later ones are stale by then.
        var coding = given.Coding;
        Assert.NotNull(coding);
        // All coded first, as a batch does beside SQLite, then upserted.
        var codes = new sbyte[1500][];
        for (var i = 3000; i < 4500; i++)
        {
            codes[i - 3000] = new sbyte[given.CodeBytes];
            given.EncodeInto(Vector(i), codes[i - 3000]);
        }

        for (var i = 3000; i < 4500; i++)
        {
            var id = i < 4200 ? $"r{i}" : $"r{i - 1200}";
            own.Upsert(id, i, Vector(i), MetadataJson.Empty, default);
            given.Upsert(id, i, Vector(i), MetadataJson.Empty, default, codes[i - 3000], coding);
        }

        Assert.NotSame(coding, given.Coding);
        Assert.Equal(Chunks(own), Chunks(given));

        static List<(string Id, long Slot, string Codes)> Chunks(LocalVectorIndex index)
        {
            var rows = new List<(string, long, string)>();
            index.ForEachChunk((codes, ids, _, _, slots) =>
            {
                var stride = codes.Length / ids.Length;
                for (var r = 0; r < ids.Length; r++)
                {
                    rows.Add((ids.Span[r], slots.Span[r], Convert.ToHexString(System.Runtime.InteropServices.MemoryMarshal.AsBytes(codes.Span.Slice(r * stride, stride)))));
                }
            });
            return rows;
        }
    }

    /// <summary>The rows of the first batch and nothing of the failed one, in memory, by query and by listing.</summary>
    /// <summary>Every id the store lists, page by page through its cursor.</summary>
    private static async Task<List<string>> ListedIdsAsync(LocalVectorStore store)
    {
        var listed = new List<string>();
        for (string? cursor = null; ;)
        {
            var page = await store.ListAsync(1000, cursor, Ct);
            listed.AddRange(page.Items.Select(r => r.Id));
            if ((cursor = page.NextCursor) is null)
            {
                return listed;
            }
        }
    }

    private static async Task AssertOnlyTheFirstBatchAsync(LocalVectorStore store, int rows = 300)
    {
        Assert.Equal(rows, await store.CountAsync(Ct));
        var fetched = (await store.FetchAsync(["a0000", "a0019", "b0020", "b0999"], includeVectors: true, Ct)).ToDictionary(r => r.Id);
        Assert.Equal(["a0000", "a0019"], fetched.Keys.Order(StringComparer.Ordinal));
        AssertClose(Random(0), fetched["a0000"].Vector.ToArray());
        Assert.Equal(1, fetched["a0019"].Metadata["v"].GetInt32());
        Assert.Equal("a0019", (await store.QueryAsync(new VectorQuery(Random(19), TopK: 1), Ct))[0].Record.Id);
        var listed = await ListedIdsAsync(store);

        Assert.Equal(rows, listed.Count);
        Assert.All(listed, id => Assert.StartsWith("a", id, StringComparison.Ordinal));

        // The replaced rows' codes are theirs again: each is still its own query's best hit.
        foreach (var probe in new[] { 0, 7, 19 })
        {
            var hit = (await store.QueryAsync(new VectorQuery(Random(probe), TopK: 1), Ct))[0];
            Assert.Equal($"a{probe:D4}", hit.Record.Id);
            Assert.Equal(1f, hit.Score, 1e-5f);
        }
    }

    private string CopyFixture(string fixtureName)
    {
        var collection = NewCollection();
        var source = Path.Combine(RepoRoot(), "tests", "fixtures", fixtureName, "vectors");
        Directory.CreateDirectory(Path.Combine(fixture.DataPath, "vectors"));
        foreach (var suffix in new[] { ".db", ".db-wal", ".seg", ".vec" })
        {
            if (File.Exists(Path.Combine(source, "legacy" + suffix)))
            {
                File.Copy(Path.Combine(source, "legacy" + suffix), Path.Combine(fixture.DataPath, "vectors", collection + suffix));
            }
        }

        return collection;
    }

    private static float[] LegacyVector(int seed)
    {
        var rng = new Random(seed);
        return LocalVectorIndex.Normalize(Enumerable.Range(0, 16).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), "legacy vector");
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ImageRetrieval.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ImageRetrieval.sln not found above " + AppContext.BaseDirectory);
    }

    private static string NewCollection() => "local-" + Guid.NewGuid().ToString("N")[..16];

    private async Task<LocalVectorStore> CreateAsync(string collection)
    {
        var store = fixture.Open(collection);
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, "model-a", Dimension), Ct);
        return store;
    }

    /// <summary>A deterministic unit vector per seed.</summary>
    private static float[] Random(int seed)
    {
        var rng = new Random(seed);
        var v = Enumerable.Range(0, Dimension).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        return LocalVectorIndex.Normalize(v, "test vector");
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 1e-6f);
        }
    }

    private static VectorRecord Record(string id, float[] vector, params (string Key, object Value)[] metadata) =>
        new(id, vector, metadata.ToDictionary(m => m.Key, m => JsonSerializer.SerializeToElement(m.Value), StringComparer.Ordinal));
}
