using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores.Local;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Bench;

/// <summary>
/// The Local store through its IVectorStore API: fill a fresh collection (SQLite + memory) with random
/// unit vectors in batches, time exact top-k queries, then time a cold reopen (load from SQLite).
/// </summary>
internal static class SearchBench
{
    public static async Task RunAsync(BenchOptions options, Report report)
    {
        var rowsList = options.GetInts("rows", "100000");
        var dims = options.GetInts("dim", "768");
        if (rowsList.Length != dims.Length)
        {
            throw new ArgumentException("--rows and --dim need the same number of comma-separated values");
        }

        var queries = options.GetInt("queries", 200);
        var topK = options.GetInt("topk", 10);
        var upsertBatch = options.GetInt("upsert-batch", 1000);
        report.Column("rows").Column("dim").Column("p50_ms", "0.00").Column("p95_ms", "0.00").Column("queries_per_s", "0.0").Column("fill_s", "0.0").Column("fill_rows_per_s", "0").Column("reopen_s", "0.0").Column("db_mib", "0");
        for (var i = 0; i < rowsList.Length; i++)
        {
            await RunOneAsync(rowsList[i], dims[i], queries, topK, upsertBatch, report);
        }

        report.Note($"Exact cosine scan of LocalVectorStore.QueryAsync (TensorPrimitives.Dot, split across cores above {LocalVectorIndex.ParallelScanThreshold:N0} floats), top-{topK}, {queries} random queries after 10 warm-up queries, no filter. Fill = UpsertAsync in batches of {upsertBatch} (one SQLite transaction each, WAL, synchronous=FULL) into a temp dir; ids are 64-hex SHA-256 strings, metadata empty. Reopen = new store instance, first call loads every row from SQLite.");
    }

    private static async Task RunOneAsync(int rows, int dim, int queries, int topK, int upsertBatch, Report report)
    {
        var ct = CancellationToken.None;
        var dataDir = Directory.CreateTempSubdirectory("bench-search-").FullName;
        try
        {
            var service = Options.Create(new ServiceOptions { DataPath = dataDir });
            var storeOptions = Options.Create(new VectorStoreOptions { Collection = "bench" });
            var random = new Random(42);
            var metadata = new Dictionary<string, JsonElement>();
            Console.WriteLine($"search: filling {rows:N0} x {dim} in {dataDir} ...");

            double fillSeconds;
            Samples latencies;
            double queryWall;
            using (var store = new LocalVectorStore(service, storeOptions, NullLogger<LocalVectorStore>.Instance))
            {
                await store.EnsureCollectionAsync(new CollectionDescriptor("bench", "bench-random", dim), ct);
                var fillStart = Stopwatch.GetTimestamp();
                var idBytes = new byte[4];
                for (var start = 0; start < rows; start += upsertBatch)
                {
                    var count = Math.Min(upsertBatch, rows - start);
                    var records = new VectorRecord[count];
                    for (var r = 0; r < count; r++)
                    {
                        BitConverter.TryWriteBytes(idBytes, start + r);
                        records[r] = new VectorRecord(Convert.ToHexStringLower(SHA256.HashData(idBytes)), RandomUnit(random, dim), metadata);
                    }

                    await store.UpsertAsync(records, ct);
                    if ((start / upsertBatch) % 100 == 99)
                    {
                        Console.WriteLine($"  {start + count:N0} rows, {Stopwatch.GetElapsedTime(fillStart).TotalSeconds:0.0} s");
                    }
                }

                fillSeconds = Stopwatch.GetElapsedTime(fillStart).TotalSeconds;
                var queryVectors = Enumerable.Range(0, queries).Select(_ => RandomUnit(random, dim)).ToArray();
                for (var w = 0; w < 10; w++)
                {
                    await store.QueryAsync(new VectorQuery(queryVectors[w % queries], topK), ct);
                }

                latencies = new Samples();
                var queryStart = Stopwatch.GetTimestamp();
                foreach (var q in queryVectors)
                {
                    var t = Stopwatch.GetTimestamp();
                    var hits = await store.QueryAsync(new VectorQuery(q, topK), ct);
                    latencies.Add(Timing.Ms(t));
                    if (hits.Count != Math.Min(topK, rows))
                    {
                        throw new InvalidOperationException($"expected {topK} hits, got {hits.Count}");
                    }
                }

                queryWall = Stopwatch.GetElapsedTime(queryStart).TotalSeconds;
            }

            GC.Collect();
            var reopenStart = Stopwatch.GetTimestamp();
            long reopened;
            using (var store = new LocalVectorStore(service, storeOptions, NullLogger<LocalVectorStore>.Instance))
            {
                reopened = await store.CountAsync(ct);
            }

            var reopenSeconds = Stopwatch.GetElapsedTime(reopenStart).TotalSeconds;
            if (reopened != rows)
            {
                throw new InvalidOperationException($"reopened store has {reopened} rows, expected {rows}");
            }

            var dbBytes = Directory.EnumerateFiles(dataDir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            report.Row(new()
            {
                ["rows"] = rows,
                ["dim"] = dim,
                ["p50_ms"] = latencies.Percentile(50),
                ["p95_ms"] = latencies.Percentile(95),
                ["queries_per_s"] = queries / queryWall,
                ["fill_s"] = fillSeconds,
                ["fill_rows_per_s"] = rows / fillSeconds,
                ["reopen_s"] = reopenSeconds,
                ["db_mib"] = dbBytes / (1024.0 * 1024.0),
                ["topk"] = topK,
                ["queries"] = queries,
                ["upsert_batch"] = upsertBatch,
                ["gib_scanned_per_s"] = (double)rows * dim * sizeof(float) / (latencies.Percentile(50) / 1000.0) / (1L << 30),
            });
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    internal static float[] RandomUnit(Random random, int dim)
    {
        var v = new float[dim];
        var norm = 0.0;
        for (var i = 0; i < dim; i++)
        {
            // Sum of two uniforms: cheap, centred, roughly isotropic after normalisation.
            v[i] = random.NextSingle() + random.NextSingle() - 1f;
            norm += v[i] * v[i];
        }

        var scale = (float)(1.0 / Math.Sqrt(norm));
        for (var i = 0; i < dim; i++)
        {
            v[i] *= scale;
        }

        return v;
    }
}
