using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.Adapters;
using ImageRetrieval.Infrastructure.VectorStores.Local;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace ImageRetrieval.AdapterTests;

/// <summary>
/// The Local store's compaction of its vector segment: the slots of overwritten and deleted rows are
/// reclaimed, every row keeps its vector, metadata and search results, a stop at any step leaves a store
/// that opens with every committed row, and queries are not held up while it copies.
/// </summary>
public sealed class LocalVectorStoreCompactionTests(LocalVectorStoreFixture fixture) : IClassFixture<LocalVectorStoreFixture>
{
    private const int Dimension = 16;
    private const int HeaderBytes = 4096;
    private const int RowBytes = Dimension * sizeof(float);
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(LocalIndexKind.Int4)]
    [InlineData(LocalIndexKind.Quantized)]
    [InlineData(LocalIndexKind.Exact)]
    public async Task Given_overwrites_and_deletes_When_compacted_Then_the_segment_holds_only_live_vectors_and_every_row_reads_and_ranks_as_before(LocalIndexKind kind)
    {
        var options = new LocalVectorStoreOptions { Index = kind, AutoCompact = false };
        var (collection, store, expected) = await ChurnedAsync(options);
        var segment = LocalVectorSegment.PathFor(store.DatabasePath);
        Assert.Equal(HeaderBytes + (4000L * RowBytes), new FileInfo(segment).Length);
        var before = await TopHitsAsync(store);

        var result = await store.CompactAsync(Ct);

        Assert.NotNull(result);
        Assert.Equal((2500, 4000L, 2500L), (result.Rows, result.SlotsBefore, result.SlotsAfter));

        // No other handle had the old file: its blocks were freed a step at a time, not by one close.
        Assert.Equal(OperatingSystem.IsLinux(), result.FreedInSteps);
        Assert.Equal(HeaderBytes + (2500L * RowBytes), new FileInfo(segment).Length);
        Assert.False(File.Exists(LocalVectorSegment.CompactedPathFor(segment)));
        await AssertRowsAsync(store, expected);
        Assert.Equal(before, await TopHitsAsync(store));

        // Writes after it append behind the kept rows; both the vector file it wrote and SQLite alone reopen it.
        await store.UpsertAsync([Record("after", 4242), Record("r0001", 9001)], Ct);
        (expected["after"], expected["r0001"]) = (4242, 9001);
        Assert.Equal(HeaderBytes + (2502L * RowBytes), new FileInfo(segment).Length);
        var afterWrites = await TopHitsAsync(store);
        store.Dispose();
        var reopened = fixture.Open(collection, options);
        await AssertRowsAsync(reopened, expected);
        Assert.Equal("snapshot", reopened.LoadedFrom);
        Assert.Equal(afterWrites, await TopHitsAsync(reopened));
        reopened.Dispose();
        File.Delete(reopened.VectorFilePath);
        var rebuilt = fixture.Open(collection, options);
        await AssertRowsAsync(rebuilt, expected);
        Assert.Equal("rebuild: missing", rebuilt.LoadedFrom);
        Assert.Equal(afterWrites, await TopHitsAsync(rebuilt));
    }

    [Fact]
    public async Task Given_no_dead_slot_or_no_collection_When_compacted_Then_nothing_is_rewritten()
    {
        var empty = fixture.Open(NewCollection());
        Assert.Null(await empty.CompactAsync(Ct));

        var collection = NewCollection();
        var store = fixture.Open(collection);
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, "model-c", Dimension), Ct);
        await store.UpsertAsync(Enumerable.Range(0, 10).Select(i => Record($"r{i}", i)).ToList(), Ct);
        var segment = LocalVectorSegment.PathFor(store.DatabasePath);
        var written = File.GetLastWriteTimeUtc(segment);

        var result = await store.CompactAsync(Ct);

        Assert.Equal((10L, 10L, 10L), (result!.Rows, result.SlotsBefore, result.SlotsAfter));
        Assert.Equal(written, File.GetLastWriteTimeUtc(segment));
        Assert.Equal(10, await store.CountAsync(Ct));
    }

    [Theory]
    [InlineData("copied", false, "snapshot")]
    [InlineData("copied", true, "snapshot")]
    [InlineData("committed", false, "snapshot")]
    [InlineData("committed", true, "rebuild: from an earlier collection epoch")]
    [InlineData("switched", false, "snapshot")]
    public async Task Given_a_compaction_stopped_at_a_step_as_by_kill_9_When_the_files_are_opened_by_a_new_store_Then_every_committed_row_is_there(string step, bool torn, string loadedFrom)
    {
        var options = new LocalVectorStoreOptions { AutoCompact = false };
        var (collection, crashed, expected) = await ChurnedAsync(options);
        var segment = LocalVectorSegment.PathFor(crashed.DatabasePath);
        using var pause = StepPause.Hold(crashed, step, thenFail: true);

        // The first store stays frozen at the step (its files as a kill there leaves them) while a second opens them.
        var running = Task.Run(() => crashed.CompactAsync(Ct));
        try
        {
            Assert.True(pause.Reached());
            var renumbered = LocalVectorFile.CompactedPathFor(crashed.VectorFilePath);
            Assert.Equal(step != "switched", File.Exists(renumbered));
            if (torn && step == "copied")
            {
                // A stop in the middle of the copy: a new file cut short, which no commit names.
                await using var file = new FileStream(LocalVectorSegment.CompactedPathFor(segment), FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
                file.SetLength(HeaderBytes + (100 * RowBytes) + 7);
            }
            else if (torn)
            {
                // The renumbered vector file of a committed compaction, damaged (as a disk that lost its last
                // writes would leave it): ignored and removed, and the rows come from SQLite.
                await using var file = new FileStream(renumbered, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
                file.SetLength(file.Length - 5);
            }

            var survivor = fixture.Open(collection, options);
            await AssertRowsAsync(survivor, expected);
            var compacted = step != "copied";
            Assert.Equal(HeaderBytes + ((compacted ? 2500L : 4000L) * RowBytes), new FileInfo(segment).Length);
            Assert.False(File.Exists(LocalVectorSegment.CompactedPathFor(segment)));
            Assert.False(File.Exists(renumbered));

            // A committed compaction left its vector file renumbered, so the open that follows a kill reads it.
            Assert.Equal(loadedFrom, survivor.LoadedFrom);

            // The survivor writes on (after the copied step it could compact again) and a third store reads all of it.
            await survivor.UpsertAsync([Record("r0003", 303), Record("later", 777)], Ct);
            (expected["r0003"], expected["later"]) = (303, 777);
            var third = fixture.Open(collection, options);
            await AssertRowsAsync(third, expected);
        }
        finally
        {
            pause.Release();
            await Assert.ThrowsAsync<IOException>(() => running);
        }
    }

    [Theory]
    [InlineData(LocalIndexKind.Int4)]
    [InlineData(LocalIndexKind.Quantized)]
    [InlineData(LocalIndexKind.Exact)]
    public async Task Given_compactions_with_writes_before_between_and_after_them_When_the_process_is_killed_before_a_clean_close_Then_the_next_open_reads_the_renumbered_vector_file_and_replays_only_the_writes_after_it(LocalIndexKind kind)
    {
        var options = new LocalVectorStoreOptions { Index = kind, AutoCompact = false };
        var (collection, store, expected) = await ChurnedAsync(options);

        // After the vector file's sequence and before the compaction: an overwrite, a delete, a new row.
        await store.UpsertAsync([Record("r0002", 202, expected), Record("before", 4_001, expected)], Ct);
        await store.DeleteAsync(["r1001", "r0004"], Ct);
        expected.Remove("r1001");
        expected.Remove("r0004");
        var first = await store.CompactAsync(Ct);
        Assert.True(first!.SnapshotRenumbered);
        Assert.Equal((2499L, 4002L, 2499L), (first.Rows, first.SlotsBefore, first.SlotsAfter));

        // Between two compactions (the second renumbers the first's file) and after the second.
        await store.UpsertAsync([Record("r0006", 606, expected), Record("between", 4_002, expected)], Ct);
        await store.DeleteAsync(["r0010"], Ct);
        expected.Remove("r0010");
        var second = await store.CompactAsync(Ct);
        Assert.True(second!.SnapshotRenumbered);
        Assert.Equal((2499L, 2501L, 2499L), (second.Rows, second.SlotsBefore, second.SlotsAfter));
        await store.UpsertAsync([Record("r0008", 808, expected), Record("after", 4_003, expected)], Ct);
        await store.DeleteAsync(["r0012"], Ct);
        expected.Remove("r0012");
        var hits = await TopHitsAsync(store);

        // `store` is never closed: its files are as a kill -9 now leaves them.
        var reopened = fixture.Open(collection, options);
        await AssertRowsAsync(reopened, expected);
        Assert.Equal("snapshot+replay", reopened.LoadedFrom);
        Assert.Equal(hits, await TopHitsAsync(reopened));
        Assert.False(File.Exists(LocalVectorFile.CompactedPathFor(reopened.VectorFilePath)));
        Assert.Equal(kind != LocalIndexKind.Exact, reopened.UsesQuantizedScan);
    }

    [Fact]
    public async Task Given_no_vector_file_of_the_segment_epoch_When_compacted_Then_the_compaction_still_commits_and_an_open_after_a_kill_rebuilds_every_row()
    {
        var options = new LocalVectorStoreOptions { AutoCompact = false };
        var (collection, store, expected) = await ChurnedAsync(options);
        File.Delete(store.VectorFilePath);

        var result = await store.CompactAsync(Ct);

        Assert.False(result!.SnapshotRenumbered);
        Assert.Equal(2500, result.SlotsAfter);
        Assert.False(File.Exists(LocalVectorFile.CompactedPathFor(store.VectorFilePath)));
        var reopened = fixture.Open(collection, options);
        await AssertRowsAsync(reopened, expected);
        Assert.Equal("rebuild: missing", reopened.LoadedFrom);
    }

    [Fact]
    public async Task Given_a_compaction_copying_When_queries_writes_and_deletes_arrive_Then_all_answer_at_once_and_every_change_survives_the_switch()
    {
        var options = new LocalVectorStoreOptions { AutoCompact = false };
        var (collection, store, expected) = await ChurnedAsync(options);
        using var pause = StepPause.Hold(store, "copied");

        var compaction = Task.Run(() => store.CompactAsync(Ct));
        try
        {
            Assert.True(pause.Reached());

            // The copy is done and the commit not yet: an overwrite of a copied row, a new row and deletes of
            // copied rows land now, and queries see them.
            await Task.Run(() => store.UpsertAsync([Record("r0005", 505, expected), Record("during", 606, expected)], Ct)).WaitAsync(Patience);
            await Task.Run(() => store.DeleteAsync(["r0009", "r2001"], Ct)).WaitAsync(Patience);
            expected.Remove("r0009");
            expected.Remove("r2001");
            for (var i = 0; i < 5; i++)
            {
                var hits = await Task.Run(() => store.QueryAsync(new VectorQuery(Vector(expected["r0100"]), TopK: 1), Ct)).WaitAsync(Patience);
                Assert.Equal("r0100", hits[0].Record.Id);
            }

            Assert.Equal(2499, await Task.Run(() => store.CountAsync(Ct)).WaitAsync(Patience));
            Assert.False(compaction.IsCompleted);
        }
        finally
        {
            pause.Release();
        }

        // The two rows written meanwhile follow the 2500 copied; the slots of the three copied rows that were
        // overwritten or deleted stay dead until the next compaction.
        var result = await compaction.WaitAsync(Patience);
        Assert.Equal((2499L, 4000L, 2502L), (result!.Rows, result.SlotsBefore, result.SlotsAfter));
        var segment = LocalVectorSegment.PathFor(store.DatabasePath);
        Assert.Equal(HeaderBytes + (2502L * RowBytes), new FileInfo(segment).Length);
        await AssertRowsAsync(store, expected);
        await store.UpsertAsync([Record("after", 707, expected)], Ct);
        store.Dispose();

        var reopened = fixture.Open(collection, options);
        await AssertRowsAsync(reopened, expected);
        Assert.Equal("snapshot", reopened.LoadedFrom);
        Assert.Equal((2500L, 2503L, 2500L), await reopened.CompactAsync(Ct) is { } again ? (again.Rows, again.SlotsBefore, again.SlotsAfter) : default);
        await AssertRowsAsync(reopened, expected);
        reopened.Dispose();

        // The renumbered table took the place of the old one with its own index by sequence, and the opens
        // in between added none: one index on the rows, no table left over.
        Assert.Equal(("1", "0"), SchemaCounts(reopened.DatabasePath));
        File.Delete(reopened.VectorFilePath);
        await AssertRowsAsync(fixture.Open(collection, options), expected);
    }

    [Fact]
    public async Task Given_a_compaction_When_its_token_is_cancelled_between_steps_Then_it_stops_before_its_commit_and_leaves_every_row_and_no_new_file()
    {
        var options = new LocalVectorStoreOptions { AutoCompact = false };
        var (_, store, expected) = await ChurnedAsync(options);
        var segment = LocalVectorSegment.PathFor(store.DatabasePath);
        using var cancel = new CancellationTokenSource();
        store.OnCompactionStep = at =>
        {
            if (at == "copied")
            {
                cancel.Cancel();
            }
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.CompactAsync(cancel.Token));

        Assert.False(File.Exists(LocalVectorSegment.CompactedPathFor(segment)));
        Assert.Equal(HeaderBytes + (4000L * RowBytes), new FileInfo(segment).Length);
        await AssertRowsAsync(store, expected);
        store.OnCompactionStep = null;
        Assert.Equal(2500, (await store.CompactAsync(Ct))!.SlotsAfter);
        await AssertRowsAsync(store, expected);
    }

    [Fact]
    public async Task Given_a_reader_process_beside_the_writer_When_the_writer_compacts_Then_the_reader_leaves_its_files_alone_and_only_the_lock_holder_may_compact()
    {
        var options = new LocalVectorStoreOptions { AutoCompact = false };
        var (collection, writer, expected) = await ChurnedAsync(options);
        var segment = LocalVectorSegment.PathFor(writer.DatabasePath);
        using var pause = StepPause.Hold(writer, "copied");

        var compaction = Task.Run(() => writer.CompactAsync(Ct));
        try
        {
            Assert.True(pause.Reached());

            // The provider as a reindex or a search beside the service has it: it does not hold the writer lock.
            var reader = fixture.OpenCollections(collection);
            Assert.Equal(2500, await reader.CountAsync(Ct));
            Assert.True(File.Exists(LocalVectorSegment.CompactedPathFor(segment)));
            await Assert.ThrowsAsync<InvalidOperationException>(() => reader.CompactAsync(Ct));
        }
        finally
        {
            pause.Release();
        }

        Assert.Equal(2500, (await compaction.WaitAsync(Patience))!.SlotsAfter);
        await AssertRowsAsync(writer, expected);
        await writer.UpsertAsync([Record("r0007", 707, expected)], Ct);
        writer.Dispose();

        // The writer's lock held here: this process is the one writer now, and the provider compacts.
        using (DataDirectoryLock.Acquire(fixture.DataPath, DataDirectoryLock.WriterLockName, "test"))
        {
            var owner = fixture.OpenCollections(collection);
            Assert.Equal((2500L, 2501L, 2500L), await owner.CompactAsync(Ct) is { } result ? (result.Rows, result.SlotsBefore, result.SlotsAfter) : default);
            owner.Dispose();
        }

        await AssertRowsAsync(fixture.Open(collection, options), expected);
    }

    [Fact]
    public async Task Given_a_writer_stopped_between_committing_a_compaction_and_renaming_its_file_When_a_reader_opens_Then_it_reads_every_row_from_the_new_file_and_leaves_it_in_place()
    {
        var options = new LocalVectorStoreOptions { AutoCompact = false };
        var (_, writer, expected) = await ChurnedAsync(options);
        var segment = LocalVectorSegment.PathFor(writer.DatabasePath);
        using var pause = StepPause.Hold(writer, "committed");

        var compaction = Task.Run(() => writer.CompactAsync(Ct));
        using var reader = Reader(writer, options);
        try
        {
            Assert.True(pause.Reached());

            // SQLite names the new slots and epoch; the old file still has the segment's name.
            await AssertRowsAsync(reader, expected);
            Assert.True(File.Exists(LocalVectorSegment.CompactedPathFor(segment)));
            Assert.Equal(HeaderBytes + (4000L * RowBytes), new FileInfo(segment).Length);
        }
        finally
        {
            pause.Release();
        }

        Assert.Equal(2500, (await compaction.WaitAsync(Patience))!.SlotsAfter);
        await AssertRowsAsync(reader, expected);
        await AssertRowsAsync(writer, expected);
    }

    [Fact]
    public async Task Given_a_reader_that_has_read_the_state_and_opened_the_segment_When_the_writer_compacts_before_it_reads_the_rows_Then_every_row_it_loads_has_its_own_vector()
    {
        var options = new LocalVectorStoreOptions { AutoCompact = false };
        var (_, writer, expected) = await ChurnedAsync(options);

        // The whole compaction (commit, rename, new snapshot of memory) between the reader's state and its rows.
        using var reader = Reader(writer, options);
        SegmentCompaction? result = null;
        reader.OnOpenStep = at =>
        {
            if (at == "segment-opened" && result is null)
            {
                result = writer.CompactAsync(Ct).GetAwaiter().GetResult();
            }
        };

        await AssertRowsAsync(reader, expected);
        Assert.Equal(2500, result!.SlotsAfter);

        // The reader still maps the old file, so the writer left its freeing to the last close (a truncation
        // under the reader's map would have ended this process with SIGBUS as it read the rows above).
        Assert.False(result.FreedInSteps);
        Assert.False(File.Exists(LocalVectorSegment.CompactedPathFor(LocalVectorSegment.PathFor(writer.DatabasePath))));
        await AssertRowsAsync(writer, expected);

        // A reader opened after it reads the compacted state.
        using var later = Reader(writer, options);
        await AssertRowsAsync(later, expected);
    }

    [Fact]
    public async Task Given_a_reader_that_has_read_the_state_When_the_writer_compacts_before_it_opens_that_state_segment_Then_it_reads_the_state_again_and_loads_every_row()
    {
        var options = new LocalVectorStoreOptions { AutoCompact = false };
        var (_, writer, expected) = await ChurnedAsync(options);

        // The whole compaction (commit and rename) between the reader's first state and its open of the segment
        // that state names: that file is gone, so the reader must start over on the state after it.
        using var reader = Reader(writer, options);
        var attempts = new List<int>();
        reader.OnOpenStateRead = attempt =>
        {
            attempts.Add(attempt);
            if (attempt == 1)
            {
                Assert.Equal(2500, writer.CompactAsync(Ct).GetAwaiter().GetResult()!.SlotsAfter);
            }
        };

        await AssertRowsAsync(reader, expected);
        Assert.Equal([1, 2], attempts);
        await AssertRowsAsync(writer, expected);
    }

    [Fact]
    public async Task Given_a_reader_whose_state_a_compaction_overtakes_at_every_attempt_When_it_opens_Then_it_gives_up_after_five_as_a_store_outage_and_opens_once_they_stop()
    {
        var options = new LocalVectorStoreOptions { AutoCompact = false };
        var (_, writer, expected) = await ChurnedAsync(options);
        using var reader = Reader(writer, options);
        var attempts = new List<int>();
        reader.OnOpenStateRead = attempt =>
        {
            attempts.Add(attempt);

            // An overwrite leaves a dead slot, so each compaction gives the collection a new epoch.
            writer.UpsertAsync([Record("r0002", 2_000 + attempt, expected)], Ct).GetAwaiter().GetResult();
            Assert.NotNull(writer.CompactAsync(Ct).GetAwaiter().GetResult());
        };

        await Assert.ThrowsAsync<StoreUnavailableException>(() => reader.CountAsync(Ct));
        Assert.Equal([1, 2, 3, 4, 5], attempts);

        using var later = Reader(writer, options);
        await AssertRowsAsync(later, expected);
    }

    [Fact]
    public async Task Given_automatic_compaction_When_dead_slots_reach_the_fraction_after_a_write_or_at_open_Then_the_segment_is_compacted_in_the_background()
    {
        var options = new LocalVectorStoreOptions { CompactMinDeadSlots = 100, CompactDeadFraction = 0.5 };
        var collection = NewCollection();
        var store = fixture.Open(collection, options);
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, "model-c", Dimension), Ct);
        var expected = new Dictionary<string, int>();
        await store.UpsertAsync(Enumerable.Range(0, 300).Select(i => Record($"a{i:D3}", i, expected)).ToList(), Ct);
        await store.UpsertAsync(Enumerable.Range(0, 299).Select(i => Record($"a{i:D3}", 1000 + i, expected)).ToList(), Ct);
        var segment = LocalVectorSegment.PathFor(store.DatabasePath);

        // 299 of 599 slots dead: below half, nothing runs.
        Assert.Null(store.BackgroundCompaction);
        Assert.Equal(HeaderBytes + (599L * RowBytes), new FileInfo(segment).Length);
        await store.DeleteAsync(["a299"], Ct);
        expected.Remove("a299");

        // 300 of 599 dead: the write that crossed half started one.
        await store.BackgroundCompaction!.WaitAsync(Patience);
        Assert.Equal(HeaderBytes + (299L * RowBytes), new FileInfo(segment).Length);
        await AssertRowsAsync(store, expected);

        // Off, churn piles up; an open with it on compacts.
        store.Dispose();
        var manual = fixture.Open(collection, new LocalVectorStoreOptions { AutoCompact = false });
        for (var round = 0; round < 2; round++)
        {
            await manual.UpsertAsync(Enumerable.Range(0, 299).Select(i => Record($"a{i:D3}", (10_000 * (round + 1)) + i, expected)).ToList(), Ct);
        }

        Assert.Null(manual.BackgroundCompaction);
        manual.Dispose();
        Assert.Equal(HeaderBytes + (897L * RowBytes), new FileInfo(segment).Length);
        var opened = fixture.Open(collection, options);
        Assert.Equal(299, await opened.CountAsync(Ct));
        await opened.BackgroundCompaction!.WaitAsync(Patience);
        Assert.Equal(HeaderBytes + (299L * RowBytes), new FileInfo(segment).Length);
        await AssertRowsAsync(opened, expected);
    }

    private static (string Indexes, string LeftOver) SchemaCounts(string databasePath)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rows') || ' ' || (SELECT count(*) FROM sqlite_master WHERE name = 'rows_compacted');";
        var counts = ((string)command.ExecuteScalar()!).Split(' ');
        return (counts[0], counts[1]);
    }

    /// <summary>A second store on the writer's file in the role of a process beside it (a re-index, a search): it does not own the files.</summary>
    private static LocalVectorStore Reader(LocalVectorStore writer, LocalVectorStoreOptions options) =>
        new(Path.GetFileNameWithoutExtension(writer.DatabasePath), writer.DatabasePath, options, NullLogger<LocalVectorStore>.Instance, maintains: static () => false);

    /// <summary>4000 rows written, r0000-r0999 overwritten, 500 others deleted: 2500 live rows in 4000 slots.</summary>
    private async Task<(string Collection, LocalVectorStore Store, Dictionary<string, int> Expected)> ChurnedAsync(LocalVectorStoreOptions options)
    {
        var collection = NewCollection();
        var store = fixture.Open(collection, options);
        await store.EnsureCollectionAsync(new CollectionDescriptor(collection, "model-c", Dimension), Ct);
        var expected = new Dictionary<string, int>();
        for (var start = 0; start < 3000; start += 1000)
        {
            await store.UpsertAsync(Enumerable.Range(start, 1000).Select(i => Record($"r{i:D4}", i, expected)).ToList(), Ct);
        }

        await store.UpsertAsync(Enumerable.Range(0, 1000).Select(i => Record($"r{i:D4}", 50_000 + i, expected)).ToList(), Ct);
        var deleted = Enumerable.Range(0, 500).Select(i => $"r{1000 + (i * 4):D4}").ToList();
        await store.DeleteAsync(deleted, Ct);
        deleted.ForEach(id => expected.Remove(id));

        // Closed once, so the vector file (which names slots) exists and must not be trusted after a compaction.
        store.Dispose();
        store = fixture.Open(collection, options);
        Assert.Equal(2500, await store.CountAsync(Ct));
        return (collection, store, expected);
    }

    private static async Task AssertRowsAsync(LocalVectorStore store, Dictionary<string, int> expected)
    {
        Assert.Equal(expected.Count, await store.CountAsync(Ct));
        var fetched = (await store.FetchAsync(expected.Keys.ToList(), includeVectors: true, Ct)).ToDictionary(r => r.Id);
        Assert.Equal(expected.Count, fetched.Count);
        foreach (var (id, seed) in expected)
        {
            var record = fetched[id];
            Assert.Equal(seed, record.Metadata["n"].GetInt32());
            var vector = Vector(seed);
            for (var d = 0; d < Dimension; d++)
            {
                Assert.Equal(vector[d], record.Vector.Span[d], 1e-6f);
            }
        }

        foreach (var (id, seed) in expected.Where((_, i) => i % 97 == 0))
        {
            var hit = (await store.QueryAsync(new VectorQuery(Vector(seed), TopK: 1), Ct))[0];
            Assert.Equal(id, hit.Record.Id);
            Assert.Equal(1f, hit.Score, 1e-5f);
            var odd = new MetadataFilter([new FieldCondition("odd", [JsonSerializer.SerializeToElement(seed % 2 == 0)])]);
            var filtered = await store.QueryAsync(new VectorQuery(Vector(seed), TopK: 5, Filter: odd), Ct);
            Assert.Equal(5, filtered.Count);
            Assert.All(filtered, r => Assert.Equal(seed % 2 == 0, r.Record.Metadata["odd"].GetBoolean()));
        }

        var page = await store.ListAsync(expected.Count + 1, null, Ct);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), page.Items.Select(r => r.Id));
    }

    /// <summary>The ids and scores of the top 10 of a few queries, to compare before and after.</summary>
    private static async Task<List<string>> TopHitsAsync(LocalVectorStore store)
    {
        var hits = new List<string>();
        foreach (var seed in Enumerable.Range(1_000_000, 10))
        {
            var query = Vector(seed);
            hits.AddRange((await store.QueryAsync(new VectorQuery(query, TopK: 10), Ct)).Select(h => $"{h.Record.Id}:{h.Score:F5}"));
        }

        return hits;
    }

    private static string NewCollection() => "compact-" + Guid.NewGuid().ToString("N")[..16];

    private static VectorRecord Record(string id, int seed, Dictionary<string, int>? expected = null)
    {
        if (expected is not null)
        {
            expected[id] = seed;
        }

        var metadata = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            ["n"] = JsonSerializer.SerializeToElement(seed),
            ["odd"] = JsonSerializer.SerializeToElement(seed % 2 == 1),
        };
        return new VectorRecord(id, Vector(seed), metadata);
    }

    private static float[] Vector(int seed)
    {
        var rng = new Random(seed);
        return LocalVectorIndex.Normalize(Enumerable.Range(0, Dimension).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), "test vector");
    }

    /// <summary>Holds a store's compaction at one of its steps (<c>OnCompactionStep</c>) until released; with
    /// <c>thenFail</c> it then stops there with an IOException, as a kill at that step would.</summary>
    private sealed class StepPause : IDisposable
    {
        private readonly ManualResetEventSlim reached = new();
        private readonly ManualResetEventSlim resume = new();

        private StepPause()
        {
        }

        public static StepPause Hold(LocalVectorStore store, string step, bool thenFail = false)
        {
            var pause = new StepPause();
            store.OnCompactionStep = at =>
            {
                if (at == step)
                {
                    pause.reached.Set();
                    pause.resume.Wait(Patience);
                    if (thenFail)
                    {
                        throw new IOException("stopped here");
                    }
                }
            };
            return pause;
        }

        public bool Reached() => reached.Wait(Patience);

        public void Release() => resume.Set();

        public void Dispose()
        {
            reached.Dispose();
            resume.Dispose();
        }
    }
}
