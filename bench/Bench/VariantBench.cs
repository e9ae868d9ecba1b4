using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Infrastructure.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.Bench;

/// <summary>
/// `Bench quant --variants ...`: several graphs and/or session settings of one model timed alternately in
/// one process (so the shared machine's load hits all alike; read the ratios), each compared with a
/// reference graph on the photos, optionally profiled by op type and with its optimised graph saved.
/// </summary>
/// <remarks>
/// A variant is <c>label=FILE.onnx</c> followed by <c>|key=value</c> settings: <c>threads</c>, <c>spin</c>
/// (on, off, Nus; default 1000us as the service), <c>arena</c> (0/1, the CPU memory arena), <c>mempattern</c> (0/1), <c>opt</c> (disable,
/// basic, extended, all) or any ONNX Runtime session config key (it has a dot, e.g.
/// <c>session.x64quantprecision=1</c>). Variants are separated by commas.
/// </remarks>
internal static class VariantBench
{
    private sealed record Variant(string Label, string Onnx, int Threads, int Spin, Action<SessionOptions> Configure, string Settings);

    public static void Run(BenchOptions options, Report report, string spec, List<Photo> photos, int[] batches, int threads, double seconds, double warmup)
    {
        var variants = spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => Parse(s, threads)).ToList();
        var reference = options.Get("ref", variants[0].Onnx);
        var preprocessor = PreprocessorConfig.Load(Path.Combine(options.Get("preprocessor", Fixtures.DefaultModel), "preprocessor_config.json"));
        var rounds = Math.Max(1, options.GetInt("rounds", 3));
        var optimizedDir = options.Get("optimized", "");
        var profileRuns = options.GetInt("profile-runs", 0);

        report.Column("variant").Column("batch").Column("images_per_s", "0.00").Column("vs_first", "0.000").Column("cpu_ms_per_image", "0.0")
            .Column("cpu_vs_first", "0.000").Column("p50_ms", "0.0").Column("runs").Column("cpu_of_threads", "0%")
            .Column("cos_min", "0.00000").Column("cos_mean", "0.00000").Column("top1_agree").Column("settings");

        // Reference vectors first (one photo at a time), then each variant's, so nothing else runs beside them.
        var writer = new PixelTensorWriter(preprocessor);
        var allPixels = Fixtures.PixelTensors(writer, photos, photos.Count);
        float[][] refVectors;
        using (var refModel = new LoadedModel(InferenceSessionFactory.Create(reference, threads), writer, PoolingMode.Cls, "reference", "bench"))
        {
            refVectors = QuantizedBench.Embed(refModel, allPixels, photos.Count);
        }

        var models = new List<LoadedModel>();
        var accuracy = new List<(double Min, double Mean, int Top1)>();
        try
        {
            foreach (var v in variants)
            {
                var configure = v.Configure;
                if (optimizedDir.Length > 0)
                {
                    Directory.CreateDirectory(optimizedDir);
                    var path = Path.Combine(optimizedDir, v.Label + ".onnx");
                    configure = o =>
                    {
                        v.Configure(o);
                        o.OptimizedModelFilePath = path;
                    };
                }

                var model = new LoadedModel(InferenceSessionFactory.Create(v.Onnx, v.Threads, v.Spin, configure), writer, PoolingMode.Cls, v.Label, "bench");
                models.Add(model);
                var vectors = QuantizedBench.Embed(model, allPixels, photos.Count);
                var cos = vectors.Zip(refVectors, (x, y) => (double)TensorPrimitives.CosineSimilarity(x, y)).ToArray();
                var top1 = Enumerable.Range(0, vectors.Length).Count(i =>
                    Enumerable.Range(0, refVectors.Length).MaxBy(j => TensorPrimitives.CosineSimilarity(vectors[i], refVectors[j])) == i);
                accuracy.Add((cos.Min(), cos.Average(), top1));
            }

            var pixels = Fixtures.PixelTensors(writer, photos, batches.Max());
            foreach (var batch in batches)
            {
                var runs = new int[models.Count];
                var wall = new double[models.Count];
                var cpu = new double[models.Count];
                var latencies = models.Select(_ => new Samples()).ToArray();
                foreach (var m in models)
                {
                    Timing.WarmUp(() => m.RunBatch(pixels, batch), warmup);
                }

                // Round robin so slow drift in the machine's load hits every variant alike.
                for (var r = 0; r < rounds; r++)
                {
                    for (var i = 0; i < models.Count; i++)
                    {
                        var m = models[i];
                        var (samples, w, c) = Timing.ForBudget(() => m.RunBatch(pixels, batch), seconds / rounds, minRuns: 1);
                        samples.CopyTo(latencies[i]);
                        runs[i] += samples.Count;
                        wall[i] += w;
                        cpu[i] += c;
                    }
                }

                for (var i = 0; i < models.Count; i++)
                {
                    var ips = runs[i] * batch / wall[i];
                    var cpuPerImage = cpu[i] * 1000 / (runs[i] * batch);
                    var firstIps = runs[0] * batch / wall[0];
                    var firstCpu = cpu[0] * 1000 / (runs[0] * batch);
                    report.Row(new()
                    {
                        ["variant"] = variants[i].Label,
                        ["batch"] = batch,
                        ["images_per_s"] = ips,
                        ["vs_first"] = ips / firstIps,
                        ["cpu_ms_per_image"] = cpuPerImage,
                        ["cpu_vs_first"] = firstCpu / cpuPerImage,
                        ["p50_ms"] = latencies[i].Percentile(50),
                        ["runs"] = runs[i],
                        ["cpu_of_threads"] = cpu[i] / (wall[i] * variants[i].Threads),
                        ["cos_min"] = accuracy[i].Min,
                        ["cos_mean"] = accuracy[i].Mean,
                        ["top1_agree"] = $"{accuracy[i].Top1}/{photos.Count}",
                        ["settings"] = variants[i].Settings,
                        ["onnx"] = variants[i].Onnx,
                        ["budget_s"] = seconds,
                    });
                }
            }
        }
        finally
        {
            models.ForEach(m => m.Dispose());
        }

        report.Note($"Variants timed round robin in one process ({rounds} rounds per batch size, {seconds:0.#} s per variant and batch, {warmup:0.#} s warm-up each); vs_first = images/s over the first variant's, cpu_vs_first = the first variant's process CPU per image over this one's (higher is faster). cos_* = cosine(reference CLS, variant CLS) per photo over {photos.Count} photos, batch 1; reference {reference}.");

        if (profileRuns > 0)
        {
            var profileBatch = batches.Max();
            foreach (var v in variants)
            {
                ProfileByOp(v, writer, pixels: Fixtures.PixelTensors(writer, photos, profileBatch), profileBatch, profileRuns);
            }
        }
    }

    /// <summary>ORT's profiler over <paramref name="runs"/> runs: kernel time per op type per image, as a Markdown table.</summary>
    private static void ProfileByOp(Variant v, PixelTensorWriter writer, float[] pixels, int batch, int runs)
    {
        using var session = InferenceSessionFactory.Create(v.Onnx, v.Threads, v.Spin, o =>
        {
            v.Configure(o);
            o.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "ort-variant-" + v.Label); // before EnableProfiling, which reads it
            o.EnableProfiling = true;
        });
        using var model = new LoadedModel(session, writer, PoolingMode.Cls, v.Label, "bench");
        model.RunBatch(pixels, batch); // warm-up; it and LoadedModel's probe run are left out below
        var cpuStart = Environment.CpuUsage.TotalTime;
        var wallStart = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < runs; i++)
        {
            model.RunBatch(pixels, batch);
        }

        var wallMs = Timing.Ms(wallStart);
        var cpuMs = (Environment.CpuUsage.TotalTime - cpuStart).TotalMilliseconds;
        var file = session.EndProfiling();

        // Only the timed runs: model_run events in order; skip the probe and warm-up runs.
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var events = doc.RootElement.EnumerateArray().ToList();
        var runStarts = events.Where(e => e.GetProperty("name").GetString() == "model_run").Select(e => e.GetProperty("ts").GetDouble()).Order().ToList();
        var from = runStarts.Count >= runs ? runStarts[^runs] : 0;
        var byOp = new Dictionary<string, (double Us, int Nodes)>();
        var nodesSeen = new Dictionary<string, HashSet<string>>();
        foreach (var e in events)
        {
            if (e.GetProperty("cat").GetString() != "Node" || e.GetProperty("ts").GetDouble() < from
                || !e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal)
                || !e.TryGetProperty("args", out var args) || !args.TryGetProperty("op_name", out var opElement))
            {
                continue;
            }

            var op = opElement.GetString()!;
            var (us, _) = byOp.GetValueOrDefault(op);
            var seen = nodesSeen.TryGetValue(op, out var set) ? set : nodesSeen[op] = [];
            seen.Add(e.GetProperty("name").GetString()!);
            byOp[op] = (us + e.GetProperty("dur").GetDouble(), seen.Count);
        }

        var total = byOp.Values.Sum(x => x.Us);
        var images = (double)runs * batch;
        Console.WriteLine();
        Console.WriteLine($"### {v.Label}: {v.Onnx} ({v.Settings}), batch {batch}, {runs} profiled runs");
        Console.WriteLine();
        Console.WriteLine($"wall {wallMs / images:0.0} ms/image, process CPU {cpuMs / images:0.0} ms/image, sum of kernel times {total / 1000 / images:0.0} ms/image (profiling on)");
        Console.WriteLine();
        Console.WriteLine("| op type | nodes | ms per image | share of kernel time |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var (op, (us, nodes)) in byOp.OrderByDescending(kv => kv.Value.Us))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {op} | {nodes} | {us / 1000 / images:0.00} | {us / total:0.0%} |"));
        }

        Console.WriteLine();
        Console.WriteLine($"profile: {file}");
    }

    private static Variant Parse(string spec, int defaultThreads)
    {
        var parts = spec.Split('|', StringSplitOptions.TrimEntries);
        var eq = parts[0].IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new ArgumentException($"a variant is label=FILE.onnx[|key=value...], not '{spec}'");
        }

        var label = parts[0][..eq];
        var onnx = parts[0][(eq + 1)..];
        if (!File.Exists(onnx))
        {
            throw new ArgumentException($"variant '{label}': no file '{onnx}'");
        }

        var threads = defaultThreads;
        var spin = 1000; // the service's default (Embedding:IntraOpSpinMicroseconds)
        var actions = new List<Action<SessionOptions>>();
        foreach (var setting in parts.Skip(1))
        {
            var kv = setting.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2)
            {
                throw new ArgumentException($"variant '{label}': expected key=value, got '{setting}'");
            }

            var (key, value) = (kv[0], kv[1]);
            switch (key)
            {
                case "threads":
                    threads = int.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "spin":
                    spin = Fixtures.ParseSpin(value);
                    break;
                case "arena":
                    actions.Add(o => o.EnableCpuMemArena = value == "1");
                    break;
                case "mempattern":
                    actions.Add(o => o.EnableMemoryPattern = value == "1");
                    break;
                case "opt":
                    var level = value switch
                    {
                        "disable" => GraphOptimizationLevel.ORT_DISABLE_ALL,
                        "basic" => GraphOptimizationLevel.ORT_ENABLE_BASIC,
                        "extended" => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                        "all" => GraphOptimizationLevel.ORT_ENABLE_ALL,
                        _ => throw new ArgumentException($"opt takes disable, basic, extended or all, not '{value}'"),
                    };
                    actions.Add(o => o.GraphOptimizationLevel = level);
                    break;
                case var k when k.Contains('.', StringComparison.Ordinal):
                    actions.Add(o => o.AddSessionConfigEntry(k, value));
                    break;
                default:
                    throw new ArgumentException($"variant '{label}': unknown setting '{key}'");
            }
        }

        var settings = parts.Length > 1 ? string.Join(' ', parts.Skip(1)) : "default";
        return new Variant(label, onnx, threads, spin, o => actions.ForEach(a => a(o)), $"threads={threads} {settings}");
    }
}
