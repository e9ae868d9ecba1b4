using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.VectorStores.Local;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Bench;

/// <summary>
/// The Local store through its IVectorStore API. This process fills a fresh collection (SQLite +
/// memory) with random unit vectors and catalogue-like metadata, in batches, and closes it (which
/// writes the vector file). Then, per index kind, a fresh child process (<c>search-serve</c>) opens the
/// store, as a restarted service would, and times top-k queries; its peak resident memory is that of a
/// process that only serves the store, not of the one that generated the data. Recall@k of each kind
/// is measured against the exact kind's answers to the same queries.
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
        var metadata = options.Get("metadata", "catalog");
        var keep = options.Get("keep", "false") == "true";
        var fillOnly = options.Get("fill-only", "false") == "true";
        var data = options.Get("data", "random");
        if (data is not ("random" or "clustered"))
        {
            throw new ArgumentException("--data is random or clustered");
        }

        var modes = options.GetList("modes", "exact,quantized,int4").Select(m => Enum.Parse<LocalIndexKind>(m, ignoreCase: true)).ToArray();
        if (!modes.Contains(LocalIndexKind.Exact))
        {
            throw new ArgumentException("--modes must include exact: recall is measured against it");
        }

        report.Column("rows").Column("dim").Column("mode").Column("p50_ms", "0.00").Column("p95_ms", "0.00").Column("recall_at_10", "0.0000")
            .Column("reopen_s", "0.00").Column("reopen_cpu_s", "0.00").Column("fill_rows_per_s", "0").Column("fill_cpu_s", "0.0").Column("upsert_cpu_s", "0.0").Column("peak_rss_mib", "0").Column("rss_over_fp32", "0.00");
        for (var i = 0; i < rowsList.Length; i++)
        {
            await RunOneAsync(rowsList[i], dims[i], queries, topK, upsertBatch, metadata, data, fillOnly ? [] : modes, keep, report);
        }

        report.Note(data == "random"
            ? "data random: rows and queries are independent random unit vectors (neighbours are barely closer than the rest, the hard case for coarse codes)."
            : $"data clustered: rows around {ClusterCount} centres with a shared offset and unequal per-dimension spread (as model embeddings have), queries near rows' centres.");
        report.Note($"fill_rows_per_s = rows / time inside UpsertAsync (fill_wall_rows_per_s includes the bench generating vectors, ids and metadata); UpsertAsync in batches of {upsertBatch} (one SQLite transaction each, WAL, synchronous=FULL) into a temp dir, default-kind store (its vector file carries that kind's codes; another kind codes its rows on open); ids are 64-hex SHA-256 strings; metadata '{metadata}' (catalog = the 7 system fields the service stores per image plus two user fields). Closing the store writes the vector file.");
        report.Note($"Per mode a fresh child process (`Bench search-serve`, server GC like the Host) opens the store: reopen_s = construction to first answer (CountAsync), read from the vector file (reopen_cpu_s = the CPU time that took: on a shared machine the steadier figure). Then 10 warm-up and {queries} timed random top-{topK} queries, one at a time, no filter. peak_rss_mib = the child's VmHWM; rss_over_fp32 = that over the raw fp32 vector bytes (rows x dim x 4). recall_at_10 = share of the exact mode's top-{topK} ids returned.");
    }

    private static async Task RunOneAsync(int rows, int dim, int queries, int topK, int upsertBatch, string metadataKind, string data, LocalIndexKind[] modes, bool keep, Report report)
    {
        if (modes.Length == 0)
        {
            // --fill-only: the fill and the close, no child process (A/B runs of the write path).
            await FillAsync(rows, dim, upsertBatch, metadataKind, data, keep, report);
            return;
        }

        await FillAndServeAsync(rows, dim, queries, topK, upsertBatch, metadataKind, data, modes, keep, report);
    }

    private static async Task FillAsync(int rows, int dim, int upsertBatch, string metadataKind, string data, bool keep, Report report)
    {
        var dataDir = Directory.CreateTempSubdirectory("bench-search-").FullName;
        try
        {
            var fill = await FillStoreAsync(dataDir, rows, dim, upsertBatch, metadataKind, new Random(42), Generator(data, dim));
            report.Row(new()
            {
                ["rows"] = rows,
                ["dim"] = dim,
                ["mode"] = "fill-only",
                ["fill_rows_per_s"] = rows / fill.UpsertSeconds,
                ["fill_wall_rows_per_s"] = rows / fill.FillSeconds,
                ["upsert_s"] = fill.UpsertSeconds,
                ["upsert_cpu_s"] = fill.UpsertCpuSeconds,
                ["fill_s"] = fill.FillSeconds,
                ["fill_cpu_s"] = fill.FillCpuSeconds,
                ["close_s"] = fill.CloseSeconds,
                ["upsert_batch"] = upsertBatch,
                ["metadata"] = metadataKind,
                ["data"] = data,
            });
        }
        finally
        {
            if (!keep)
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private static Func<Random, float[]> Generator(string data, int dim) =>
        data == "clustered" ? Clusters(new Random(7), dim) : r => RandomUnit(r, dim);

    /// <summary>What a fill took: wall time inside UpsertAsync and in all, process CPU inside UpsertAsync and in all, and the close.</summary>
    private sealed record FillTimes(double UpsertSeconds, double UpsertCpuSeconds, double FillSeconds, double FillCpuSeconds, double CloseSeconds);

    /// <summary>Fills a fresh store in <paramref name="dataDir"/> (the same rows for the same arguments) and closes it.</summary>
    private static async Task<FillTimes> FillStoreAsync(string dataDir, int rows, int dim, int upsertBatch, string metadataKind, Random random, Func<Random, float[]> generate)
    {
        var ct = CancellationToken.None;
        Console.WriteLine($"search: filling {rows:N0} x {dim} in {dataDir} ...");
        var store = Open(dataDir, new LocalVectorStoreOptions().Index);
        double upsertSeconds = 0, upsertCpuSeconds = 0, fillSeconds, fillCpuSeconds, closeSeconds;
        try
        {
            await store.EnsureCollectionAsync(new CollectionDescriptor("bench", "bench-random", dim), ct);
            var fillStart = Stopwatch.GetTimestamp();
            var fillCpu = Environment.CpuUsage.TotalTime;
            var idBytes = new byte[4];
            var created = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
            for (var start = 0; start < rows; start += upsertBatch)
            {
                var count = Math.Min(upsertBatch, rows - start);
                var records = new VectorRecord[count];
                for (var r = 0; r < count; r++)
                {
                    var n = start + r;
                    BitConverter.TryWriteBytes(idBytes, n);
                    var id = Convert.ToHexStringLower(SHA256.HashData(idBytes));
                    records[r] = new VectorRecord(id, generate(random), Metadata(metadataKind, id, n, created));
                }

                var upsertStart = Stopwatch.GetTimestamp();
                var upsertCpu = Environment.CpuUsage.TotalTime;
                await store.UpsertAsync(records, ct);
                upsertSeconds += Stopwatch.GetElapsedTime(upsertStart).TotalSeconds;
                upsertCpuSeconds += (Environment.CpuUsage.TotalTime - upsertCpu).TotalSeconds;
                if ((start / upsertBatch) % 100 == 99)
                {
                    Console.WriteLine($"  {start + count:N0} rows, {Stopwatch.GetElapsedTime(fillStart).TotalSeconds:0.0} s");
                }
            }

            fillSeconds = Stopwatch.GetElapsedTime(fillStart).TotalSeconds;
            fillCpuSeconds = (Environment.CpuUsage.TotalTime - fillCpu).TotalSeconds;
        }
        finally
        {
            var closeStart = Stopwatch.GetTimestamp();
            store.Dispose();
            closeSeconds = Stopwatch.GetElapsedTime(closeStart).TotalSeconds;
        }

        return new FillTimes(upsertSeconds, upsertCpuSeconds, fillSeconds, fillCpuSeconds, closeSeconds);
    }

    private static async Task FillAndServeAsync(int rows, int dim, int queries, int topK, int upsertBatch, string metadataKind, string data, LocalIndexKind[] modes, bool keep, Report report)
    {
        var ct = CancellationToken.None;
        var dataDir = Directory.CreateTempSubdirectory("bench-search-").FullName;
        try
        {
            // The queries come from the generator after the rows.
            var random = new Random(42);
            var generate = Generator(data, dim);
            var fill = await FillStoreAsync(dataDir, rows, dim, upsertBatch, metadataKind, random, generate);
            var (upsertSeconds, fillSeconds, fillCpuSeconds, closeSeconds) = (fill.UpsertSeconds, fill.FillSeconds, fill.FillCpuSeconds, fill.CloseSeconds);
            var queryFile = Path.Combine(dataDir, "queries.f32");
            await using (var file = File.Create(queryFile))
            {
                for (var q = 0; q < queries; q++)
                {
                    file.Write(MemoryMarshal.AsBytes(generate(random).AsSpan()));
                }
            }

            var dbBytes = Directory.EnumerateFiles(Path.Combine(dataDir, "vectors"), "bench.db*").Sum(f => new FileInfo(f).Length);
            var vecBytes = new FileInfo(Path.Combine(dataDir, "vectors", "bench.vec")).Length;
            var served = new Dictionary<LocalIndexKind, JsonObject>();
            foreach (var mode in modes.OrderBy(m => m == LocalIndexKind.Exact ? 0 : 1))
            {
                served[mode] = await ServeInChildAsync(dataDir, mode, queryFile, dim, topK, ct);
            }

            var truth = Ids(served[LocalIndexKind.Exact]);
            var rawFp32Mib = (double)rows * dim * sizeof(float) / (1 << 20);
            foreach (var mode in modes)
            {
                var result = served[mode];
                var ids = Ids(result);
                var hits = 0;
                var wanted = 0;
                for (var q = 0; q < truth.Count; q++)
                {
                    wanted += truth[q].Count;
                    hits += ids[q].Count(truth[q].Contains);
                }

                var peakRss = result["peak_rss_mib"]!.GetValue<double>();
                report.Row(new()
                {
                    ["rows"] = rows,
                    ["dim"] = dim,
                    ["mode"] = mode.ToString().ToLowerInvariant(),
                    ["p50_ms"] = result["p50_ms"]!.GetValue<double>(),
                    ["p95_ms"] = result["p95_ms"]!.GetValue<double>(),
                    ["recall_at_10"] = (double)hits / wanted,
                    ["reopen_s"] = result["reopen_s"]!.GetValue<double>(),
                    ["reopen_cpu_s"] = result["reopen_cpu_s"]!.GetValue<double>(),
                    ["fill_rows_per_s"] = rows / upsertSeconds,
                    ["fill_wall_rows_per_s"] = rows / fillSeconds,
                    ["upsert_s"] = upsertSeconds,
                    ["upsert_cpu_s"] = fill.UpsertCpuSeconds,
                    ["peak_rss_mib"] = peakRss,
                    ["rss_over_fp32"] = peakRss / rawFp32Mib,
                    ["raw_fp32_mib"] = rawFp32Mib,
                    ["rss_after_open_mib"] = result["rss_after_open_mib"]!.GetValue<double>(),
                    ["loaded_from"] = result["loaded_from"]!.GetValue<string>(),
                    ["queries_per_s"] = result["queries_per_s"]!.GetValue<double>(),
                    ["fill_s"] = fillSeconds,
                    ["fill_cpu_s"] = fillCpuSeconds,
                    ["close_s"] = closeSeconds,
                    ["db_mib"] = dbBytes / (1024.0 * 1024.0),
                    ["vec_mib"] = vecBytes / (1024.0 * 1024.0),
                    ["topk"] = topK,
                    ["queries"] = queries,
                    ["upsert_batch"] = upsertBatch,
                    ["metadata"] = metadataKind,
                    ["data"] = data,
                });
            }
        }
        finally
        {
            if (keep)
            {
                Console.WriteLine($"  kept {dataDir} (--keep true)");
            }
            else
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    /// <summary>`search-serve`: the child's side. Opens the store, times the queries, prints one JSON object.</summary>
    public static async Task<int> ServeAsync(BenchOptions options)
    {
        var ct = CancellationToken.None;
        var dataDir = options.Get("data", "");
        var mode = Enum.Parse<LocalIndexKind>(options.Get("index", "Quantized"), ignoreCase: true);
        var dim = options.GetInt("dim", 768);
        var topK = options.GetInt("topk", 10);
        var bytes = await File.ReadAllBytesAsync(options.Get("queries", ""), ct);
        var queries = MemoryMarshal.Cast<byte, float>(bytes).ToArray().Chunk(dim).ToArray();

        var openStart = Stopwatch.GetTimestamp();
        var openCpu = Environment.CpuUsage.TotalTime;
        using var store = Open(dataDir, mode);
        var count = await store.CountAsync(ct);
        var reopenSeconds = Stopwatch.GetElapsedTime(openStart).TotalSeconds;
        var reopenCpuSeconds = (Environment.CpuUsage.TotalTime - openCpu).TotalSeconds;
        var rssAfterOpen = Memory("VmRSS");

        for (var w = 0; w < 10; w++)
        {
            await store.QueryAsync(new VectorQuery(queries[w % queries.Length], topK), ct);
        }

        var latencies = new Samples();
        var ids = new JsonArray();
        var wall = Stopwatch.GetTimestamp();
        foreach (var q in queries)
        {
            var t = Stopwatch.GetTimestamp();
            var hits = await store.QueryAsync(new VectorQuery(q, topK), ct);
            latencies.Add(Timing.Ms(t));
            if (hits.Count != Math.Min(topK, count))
            {
                throw new InvalidOperationException($"expected {topK} hits, got {hits.Count}");
            }

            ids.Add(new JsonArray(hits.Select(h => (JsonNode)h.Record.Id).ToArray()));
        }

        var result = new JsonObject
        {
            ["reopen_s"] = reopenSeconds,
            ["reopen_cpu_s"] = reopenCpuSeconds,
            ["count"] = count,
            ["loaded_from"] = store.LoadedFrom,
            ["p50_ms"] = latencies.Percentile(50),
            ["p95_ms"] = latencies.Percentile(95),
            ["queries_per_s"] = queries.Length / Stopwatch.GetElapsedTime(wall).TotalSeconds,
            ["rss_after_open_mib"] = rssAfterOpen,
            ["peak_rss_mib"] = Memory("VmHWM"),
            ["ids"] = ids,
        };
        await File.WriteAllTextAsync(options.Get("out", ""), result.ToJsonString(), ct);
        return 0;
    }

    private static async Task<JsonObject> ServeInChildAsync(string dataDir, LocalIndexKind mode, string queryFile, int dim, int topK, CancellationToken ct)
    {
        var output = Path.Combine(dataDir, $"served-{mode}.json");
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(SearchBench).Assembly.Location);
        }

        foreach (var arg in new[] { "search-serve", "--data", dataDir, "--index", mode.ToString(), "--queries", queryFile, "--dim", dim.ToString(CultureInfo.InvariantCulture), "--topk", topK.ToString(CultureInfo.InvariantCulture), "--out", output })
        {
            start.ArgumentList.Add(arg);
        }

        // The Host is an ASP.NET Core app, which runs the server GC; the child serves the store the same way.
        start.Environment["DOTNET_gcServer"] = "1";

        // A profiler attached to this process must not hold the child suspended at start-up.
        start.Environment.Remove("DOTNET_DiagnosticPorts");
        Console.WriteLine($"  serving {mode} in a child process ...");
        using var child = Process.Start(start)!;
        await child.WaitForExitAsync(ct);
        if (child.ExitCode != 0)
        {
            throw new InvalidOperationException($"search-serve ({mode}) exited with {child.ExitCode}");
        }

        return JsonNode.Parse(await File.ReadAllTextAsync(output, ct))!.AsObject();
    }

    private static List<HashSet<string>> Ids(JsonObject result) =>
        result["ids"]!.AsArray().Select(q => q!.AsArray().Select(id => id!.GetValue<string>()).ToHashSet(StringComparer.Ordinal)).ToList();

    private static LocalVectorStore Open(string dataDir, LocalIndexKind mode) => new(
        Options.Create(new ServiceOptions { DataPath = dataDir }),
        Options.Create(new VectorStoreOptions { Collection = "bench" }),
        Options.Create(new LocalVectorStoreOptions { Index = mode }),
        NullLogger<LocalVectorStore>.Instance);

    /// <summary>A line of /proc/self/status in MiB (VmRSS now, VmHWM the peak); the working set elsewhere.</summary>
    private static double Memory(string field)
    {
        if (File.Exists("/proc/self/status"))
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    return double.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
                }
            }
        }

        using var self = Process.GetCurrentProcess();
        return (field == "VmHWM" ? self.PeakWorkingSet64 : self.WorkingSet64) / (1024.0 * 1024.0);
    }

    /// <summary>What the service stores per image (<see cref="StoredImage.ToVectorMetadata"/>) plus two user fields, or nothing.</summary>
    private static Dictionary<string, JsonElement> Metadata(string kind, string id, int n, DateTimeOffset created)
    {
        if (kind == "none")
        {
            return [];
        }

        var user = new Dictionary<string, JsonElement>
        {
            ["album"] = JsonSerializer.SerializeToElement($"album-{n % 100}"),
            ["tags"] = JsonSerializer.SerializeToElement(new[] { $"t{n % 7}", $"t{n % 11}" }),
        };
        return new StoredImage(id, id, "image/jpeg", 640 + (n % 1000), 480 + (n % 700), 50_000 + n, created.AddSeconds(n), $"images/{id[..2]}/{id}.jpg", user).ToVectorMetadata();
    }

    private const int ClusterCount = 1000;

    /// <summary>
    /// A generator of clustered unit vectors: a shared offset (embeddings are not zero-mean), one of
    /// <see cref="ClusterCount"/> random centres and noise whose spread differs per dimension.
    /// </summary>
    private static Func<Random, float[]> Clusters(Random seed, int dim)
    {
        var offset = RandomUnit(seed, dim);
        var centres = Enumerable.Range(0, ClusterCount).Select(_ => RandomUnit(seed, dim)).ToArray();
        var spread = Enumerable.Range(0, dim).Select(d => (float)((0.3 + (1.4 * d / dim)) / Math.Sqrt(dim))).ToArray();
        return random =>
        {
            var centre = centres[random.Next(ClusterCount)];
            var v = new float[dim];
            for (var i = 0; i < dim; i++)
            {
                var gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                v[i] = (0.6f * offset[i]) + centre[i] + (float)(0.8 * spread[i] * gaussian);
            }

            return LocalVectorIndex.Normalize(v, "bench vector");
        };
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
