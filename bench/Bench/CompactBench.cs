using System.Diagnostics;
using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores.Local;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Bench;

/// <summary>
/// The Local store's segment compaction: fills a store with <c>--rows</c> random unit vectors, deletes
/// <c>--dead</c> of them and compacts, timing the compaction and the queries and writes issued beside
/// it. <c>--phase fill|compact|verify</c> runs one step on an existing <c>--dir</c>, so a script can kill
/// the compacting process at any moment and check that the next open has every row (scripts/compact-kill-test.sh).
/// <c>--close false</c> leaves the compacting store unclosed, as a kill -9 right after the compaction would,
/// and the verify phase reports how its open filled memory and how long that took.
/// </summary>
internal static class CompactBench
{
    private const string Collection = "bench";

    public static async Task RunAsync(BenchOptions options, Report report)
    {
        var rows = options.GetInt("rows", 100_000);
        var dimension = options.GetInt("dim", 768);
        var dead = options.GetDouble("dead", 0.5);
        var phase = options.Get("phase", "all");
        var close = options.Get("close", "true") != "false";
        var kept = options.Get("dir", "") != "";
        var dir = options.Get("dir", Path.Combine(Path.GetTempPath(), "ir-compact-bench-" + Guid.NewGuid().ToString("N")[..8]));
        var ct = CancellationToken.None;
        var deleted = (int)(rows * dead);
        report.Column("phase").Column("rows").Column("dim").Column("dead").Column("seconds", "F2").Column("copy_s", "F2").Column("commit_s", "F2").Column("switch_ms", "F1").Column("mib_before", "F0").Column("mib_after", "F0")
            .Column("prepare_s", "F2").Column("held_ms", "F1").Column("queries").Column("query_max_ms", "F1").Column("query_p99_ms", "F1").Column("writes").Column("write_wait_ms", "F1")
            .Column("release_ms", "F1").Column("query_max_release_ms", "F1").Column("write_wait_release_ms", "F1").Column("open_s", "F2").Column("loaded_from");
        try
        {
            if (phase is "all" or "fill")
            {
                var clock = Stopwatch.StartNew();
                var store = Open(dir);
                await store.EnsureCollectionAsync(new CollectionDescriptor(Collection, "bench", dimension), ct);
                for (var start = 0; start < rows; start += 1000)
                {
                    await store.UpsertAsync(Enumerable.Range(start, Math.Min(1000, rows - start)).Select(i => Record(i, dimension)).ToList(), ct);
                }

                // Every other row, so the dead slots are spread over the whole file.
                await store.DeleteAsync(Enumerable.Range(0, deleted).Select(i => Id(DeletedRow(i, rows, deleted))).ToList(), ct);
                store.Dispose();
                report.Row(new() { ["phase"] = "fill", ["rows"] = rows, ["dim"] = dimension, ["dead"] = dead, ["seconds"] = clock.Elapsed.TotalSeconds });
            }

            if (phase is "all" or "compact")
            {
                await CompactAsync(dir, rows, dimension, dead, close, report, ct);
            }

            if (phase is "all" or "verify")
            {
                var clock = Stopwatch.StartNew();
                var (open, loadedFrom) = Verify(dir, rows, deleted, dimension);
                report.Row(new() { ["phase"] = "verify", ["rows"] = rows - deleted, ["dim"] = dimension, ["dead"] = dead, ["seconds"] = clock.Elapsed.TotalSeconds, ["open_s"] = open.TotalSeconds, ["loaded_from"] = loadedFrom });
            }
        }
        finally
        {
            if (!kept && Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static async Task CompactAsync(string dir, int rows, int dimension, double dead, bool close, Report report, CancellationToken ct)
    {
        var store = new LocalVectorStore(
            Options.Create(new ServiceOptions { DataPath = dir }),
            Options.Create(new VectorStoreOptions { Collection = Collection }),
            Options.Create(new LocalVectorStoreOptions { AutoCompact = false }),
            NullLogger<LocalVectorStore>.Instance);
        var query = new VectorQuery(Vector(rows + 1, dimension), TopK: 10);
        await store.QueryAsync(query, ct);

        // From the switch to the compaction's return the old file is let go: what waits for that is timed apart.
        long switchedAt = 0;
        store.OnCompactionStep = step =>
        {
            if (step == "switched")
            {
                Volatile.Write(ref switchedAt, Stopwatch.GetTimestamp());
            }
        };

        // Queries one after another and one write while it runs: how long either waits for the compaction.
        using var stop = new CancellationTokenSource();
        var latencies = new List<(long Start, double Ms)>();
        var querying = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                await store.QueryAsync(query, ct);
                latencies.Add((started, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
            }
        }, ct);
        long returnedAt = 0;
        var compacting = Task.Run(async () =>
        {
            try
            {
                return await store.CompactAsync(ct);
            }
            finally
            {
                returnedAt = Stopwatch.GetTimestamp();
            }
        }, ct);
        await Task.Delay(100, ct);

        // Writes one after another while it runs (the same row again and again, so each also leaves a dead
        // slot): the longest any of them waited.
        var waits = new List<(long Start, double Ms)>();
        do
        {
            var writeStarted = Stopwatch.GetTimestamp();
            await store.UpsertAsync([Record(rows + 2, dimension)], ct);
            waits.Add((writeStarted, Stopwatch.GetElapsedTime(writeStarted).TotalMilliseconds));
            await Task.WhenAny(compacting, Task.Delay(20, ct));
        }
        while (!compacting.IsCompleted);

        var result = await compacting ?? throw new InvalidOperationException("no collection in " + dir);
        await stop.CancelAsync();
        await querying;
        await store.DeleteAsync([Id(rows + 2)], ct);
        if (close)
        {
            store.Dispose();
        }

        // Calls issued between the switch and the compaction's return (one that waited for the switch itself ends
        // after it, but is the switch's).
        double MaxInRelease(List<(long Start, double Ms)> calls) => calls
            .Where(c => c.Start >= switchedAt && c.Start <= returnedAt)
            .Select(c => c.Ms).DefaultIfEmpty(0).Max();
        var queryMaxRelease = MaxInRelease(latencies);
        var writeMaxRelease = MaxInRelease(waits);
        var sorted = latencies.Select(l => l.Ms).Order().ToList();
        report.Row(new()
        {
            ["phase"] = "compact",
            ["rows"] = result.Rows,
            ["dim"] = dimension,
            ["dead"] = dead,
            ["seconds"] = result.Elapsed.TotalSeconds,
            ["copy_s"] = result.Copy.TotalSeconds,
            ["commit_s"] = result.Commit.TotalSeconds,
            ["prepare_s"] = result.Prepare.TotalSeconds,
            ["held_ms"] = result.WritersHeld.TotalMilliseconds,
            ["switch_ms"] = result.Switch.TotalMilliseconds,
            ["mib_before"] = result.BytesBefore / 1048576.0,
            ["mib_after"] = result.BytesAfter / 1048576.0,
            ["queries"] = sorted.Count,
            ["query_max_ms"] = sorted.Count == 0 ? 0 : sorted[^1],
            ["query_p99_ms"] = sorted.Count == 0 ? 0 : sorted[(int)(sorted.Count * 0.99)],
            ["writes"] = waits.Count,
            ["write_wait_ms"] = waits.Max(w => w.Ms),
            ["release_ms"] = switchedAt == 0 ? 0 : Stopwatch.GetElapsedTime(switchedAt, returnedAt).TotalMilliseconds,
            ["query_max_release_ms"] = queryMaxRelease,
            ["write_wait_release_ms"] = writeMaxRelease,
        });
    }

    /// <summary>Every row not deleted is there with its own vector and metadata, and nothing else is; returns how long the open took and how it filled memory.</summary>
    private static (TimeSpan Open, string LoadedFrom) Verify(string dir, int rows, int deleted, int dimension)
    {
        using var store = Open(dir);
        var gone = Enumerable.Range(0, deleted).Select(i => DeletedRow(i, rows, deleted)).ToHashSet();
        var opening = Stopwatch.StartNew();
        var count = store.CountAsync(CancellationToken.None).GetAwaiter().GetResult();
        var open = opening.Elapsed;

        // The write issued beside the compaction, which a killed run may have committed before deleting it again.
        var extra = store.FetchAsync([Id(rows + 2)], includeVectors: false, CancellationToken.None).GetAwaiter().GetResult().Count;
        if (count != rows - deleted + extra)
        {
            throw new InvalidOperationException($"verify: {count} rows, expected {rows - deleted + extra}");
        }

        for (var start = 0; start < rows; start += 1000)
        {
            var ids = Enumerable.Range(start, Math.Min(1000, rows - start)).Select(Id).ToList();
            var fetched = store.FetchAsync(ids, includeVectors: true, CancellationToken.None).GetAwaiter().GetResult().ToDictionary(r => r.Id);
            for (var i = start; i < start + ids.Count; i++)
            {
                if (gone.Contains(i) == fetched.ContainsKey(Id(i)))
                {
                    throw new InvalidOperationException($"verify: row {i} is {(gone.Contains(i) ? "back" : "missing")}");
                }

                if (fetched.TryGetValue(Id(i), out var record) &&
                    (record.Metadata["n"].GetInt32() != i || !Same(record.Vector.Span, Vector(i, dimension))))
                {
                    throw new InvalidOperationException($"verify: row {i} has another vector or metadata");
                }
            }
        }

        Console.WriteLine($"  verified {count} rows in {dir}, opened from {store.LoadedFrom} in {open.TotalSeconds:F2} s");
        return (open, store.LoadedFrom ?? "empty");
    }

    private static bool Same(ReadOnlySpan<float> stored, float[] expected)
    {
        if (stored.Length != expected.Length)
        {
            return false;
        }

        for (var d = 0; d < expected.Length; d++)
        {
            if (Math.Abs(stored[d] - expected[d]) > 1e-6f)
            {
                return false;
            }
        }

        return true;
    }

    private static int DeletedRow(int i, int rows, int deleted) => (int)((long)i * rows / deleted);

    private static LocalVectorStore Open(string dir) => new(
        Options.Create(new ServiceOptions { DataPath = dir }),
        Options.Create(new VectorStoreOptions { Collection = Collection }),
        Options.Create(new LocalVectorStoreOptions { AutoCompact = false }),
        NullLogger<LocalVectorStore>.Instance);

    private static string Id(int i) => $"row-{i:D8}";

    private static VectorRecord Record(int i, int dimension) =>
        new(Id(i), Vector(i, dimension), new Dictionary<string, JsonElement> { ["n"] = JsonSerializer.SerializeToElement(i) });

    /// <summary>A deterministic unit vector per row (what the store keeps, so verify compares exactly).</summary>
    private static float[] Vector(int seed, int dimension)
    {
        var rng = new Random(seed);
        return LocalVectorIndex.Normalize(Enumerable.Range(0, dimension).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), "bench vector");
    }
}
