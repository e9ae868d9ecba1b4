using System.Diagnostics;
using System.Runtime.InteropServices;
using ImageRetrieval.Infrastructure.VectorStores.Local;

namespace ImageRetrieval.Bench;

/// <summary>
/// The Local index's scan alone, in one process, without SQLite or a vector file: fills a
/// <see cref="LocalVectorIndex"/> of the default kind with random unit vectors (the generator of
/// <c>search</c>, so the same rows for the same seed), then, in interleaved rounds, times the 4-bit
/// search at several first-pass candidate counts against the exact answers, and two bare scans of the
/// same codes (the packed 4-bit codes, the high plane alone) that show what the memory traffic costs.
/// For A/B figures on a shared machine: compare rows of one run, not runs.
/// </summary>
internal static class ScanBench
{
    public static void Run(BenchOptions options, Report report)
    {
        var rows = options.GetInt("rows", 1_000_000);
        var dim = options.GetInt("dim", 768);
        var queries = options.GetInt("queries", 50);
        var topK = options.GetInt("topk", 10);
        var rounds = options.GetInt("rounds", 2);
        var firstPasses = options.GetInts("first-pass", "0,2000,4000,8000");
        var sampleBare = options.GetInt("bare-every", 5);
        var serial = options.Get("serial", "false") == "true";

        var random = new Random(42);
        var index = new LocalVectorIndex(dim, LocalIndexKind.Int4, rows);
        var metadata = "{}"u8.ToArray();
        var fill = Stopwatch.GetTimestamp();
        for (var r = 0; r < rows; r++)
        {
            index.Upsert("r" + r, r, SearchBench.RandomUnit(random, dim), metadata, default);
        }

        Console.WriteLine($"scan: {rows:N0} x {dim} filled in {Stopwatch.GetElapsedTime(fill).TotalSeconds:0.0} s");
        var probes = Enumerable.Range(0, queries).Select(_ => SearchBench.RandomUnit(random, dim)).ToArray();
        var truth = probes.Select(q => index.Search(q, topK, null, null, null, kind: LocalIndexKind.Exact).Select(h => h.Record.Id).ToHashSet()).ToArray();

        // The same codes in both layouts, copied out for the bare scans.
        var packed = new List<byte[]>();
        index.ForEachChunk((codes, _, _, _, _) => packed.Add(MemoryMarshal.AsBytes(codes.Span).ToArray()));
        var stride = Int4Dot.Stride(dim);
        var planeStride = Int4Dot.PlaneStride(dim);
        var split = Stopwatch.GetTimestamp();
        var high = packed.Select(p =>
        {
            var plane = new byte[p.Length / stride * planeStride];
            Int4Dot.ToPlanes(p, plane, new byte[plane.Length], p.Length / stride);

            return plane;
        }).ToList();
        Console.WriteLine($"scan: packed codes split into planes in {Stopwatch.GetElapsedTime(split).TotalMilliseconds:0} ms (one core; what a reopen adds)");
        var query = Enumerable.Range(0, 4 * planeStride).Select(i => (sbyte)(i < dim ? random.Next(-127, 128) : 0)).ToArray();

        report.Column("variant").Column("p50_ms", "0.00").Column("p95_ms", "0.00").Column("cpu_ms", "0.00").Column("gb_per_s", "0.0").Column("recall_at_10", "0.0000");
        var results = new Dictionary<string, (Samples Wall, double Cpu, int Runs, double Bytes, int Hits)>();
        void Add(string variant, double ms, double cpuMs, double bytes, int hits)
        {
            var (wall, cpu, runs, total, found) = results.TryGetValue(variant, out var v) ? v : (new Samples(), 0, 0, 0, 0);
            wall.Add(ms);
            results[variant] = (wall, cpu + cpuMs, runs + 1, total + bytes, found + hits);
        }

        for (var round = 0; round < rounds; round++)
        {
            for (var q = 0; q < probes.Length; q++)
            {
                foreach (var firstPass in firstPasses)
                {
                    var cpu = Environment.CpuUsage.TotalTime;
                    var t = Stopwatch.GetTimestamp();
                    var hits = index.Search(probes[q], topK, null, null, null, firstPass: firstPass == 0 ? null : firstPass);
                    Add(firstPass == 0 ? "search default" : $"search first-pass {firstPass}", Timing.Ms(t), (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds, (double)rows * planeStride, hits.Count(h => truth[q].Contains(h.Record.Id)));
                }

                if (q % sampleBare == 0)
                {
                    Bare("bare packed 4-bit scan", packed, stride, (c, o) => Int4Dot.Dot(c.AsSpan(o, stride), query));
                    Bare("bare high-plane scan", high, planeStride, (c, o) => Int4Dot.PlaneDot(c.AsSpan(o, planeStride), query));
                }

                if (serial)
                {
                    var cpu = Environment.CpuUsage.TotalTime;
                    var t = Stopwatch.GetTimestamp();
                    var hits = index.Search(probes[q], topK, null, null, null, parallel: false);
                    Add("search default, one core", Timing.Ms(t), (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds, (double)rows * planeStride, hits.Count(h => truth[q].Contains(h.Record.Id)));
                }
            }
        }

        void Bare(string variant, List<byte[]> arrays, int width, Func<byte[], int, int> dot)
        {
            var cpu = Environment.CpuUsage.TotalTime;
            var t = Stopwatch.GetTimestamp();
            var best = new int[arrays.Count];
            Parallel.For(0, arrays.Count, c =>
            {
                var max = int.MinValue;
                var chunk = arrays[c];
                for (var o = 0; o < chunk.Length; o += width)
                {
                    max = Math.Max(max, dot(chunk, o));
                }

                best[c] = max;
            });
            Add(variant, Timing.Ms(t), (Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds, arrays.Sum(a => (double)a.Length), 0);
        }

        foreach (var (variant, (wall, cpu, runs, bytes, hits)) in results)
        {
            var row = new Dictionary<string, object>
            {
                ["variant"] = variant,
                ["rows"] = rows,
                ["dim"] = dim,
                ["p50_ms"] = wall.Percentile(50),
                ["p95_ms"] = wall.Percentile(95),
                ["cpu_ms"] = cpu / runs,
                ["gb_per_s"] = bytes / runs / (wall.Percentile(50) * 1e6),
                ["runs"] = runs,
            };
            if (!variant.StartsWith("bare", StringComparison.Ordinal))
            {
                row["recall_at_10"] = (double)hits / (runs * topK);
            }

            report.Row(row);
        }

        report.Note($"{rows:N0} random unit rows x {dim} in one LocalVectorIndex (Int4, no store), {queries} random queries x {rounds} rounds, top-{topK}; recall against the exact scan of the same index. cpu_ms = process CPU per query (both cores). gb_per_s = bytes the first pass reads (search: the high plane) / p50. Bare scans: every row's dot product and a max, 2 workers per chunk list, a 1-in-{sampleBare} sample of the queries.");
    }
}
