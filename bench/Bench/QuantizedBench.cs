using System.Numerics.Tensors;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Infrastructure.Onnx;

namespace ImageRetrieval.Bench;

/// <summary>
/// fp32 model.onnx against its int8 onnx/model_quantized.onnx in one process: CLS agreement on the
/// real photos, then throughput per batch size with the two sessions timed alternately.
/// </summary>
internal static class QuantizedBench
{
    public static void Run(BenchOptions options, Report report)
    {
        // DIR (holding both files) or FP32_DIR:INT8_DIR (e.g. a committed fixture and its quantized copy).
        var (models, batches, threads, seconds, warmup, photos) = InferenceSweep.Read(options, batches: "1,8", seconds: 5);
        if (options.Get("variants", "") is { Length: > 0 } variantSpec)
        {
            VariantBench.Run(options, report, variantSpec, photos, batches, threads, seconds, warmup);
            return;
        }

        var rounds = Math.Max(1, options.GetInt("rounds", 2));
        if (options.Get("profile", "") is { Length: > 0 } profileOnnx)
        {
            Profile(profileOnnx, options.Get("preprocessor", Fixtures.DefaultModel), photos, threads, batches[0]);
            return;
        }

        report.Column("model").Column("precision").Column("batch").Column("images_per_s", "0.00").Column("int8_over_fp32", "0.00")
            .Column("p50_ms", "0.0").Column("p95_ms", "0.0").Column("runs").Column("cpu_of_threads", "0%")
            .Column("cos_min", "0.00000").Column("cos_mean", "0.00000").Column("top1_agree");
        foreach (var spec in models)
        {
            var parts = spec.Split(':', 2);
            var fp32Files = ModelFiles.FromDirectory(parts[0], Path.GetFileName(Path.TrimEndingDirectorySeparator(parts[0])), quantized: false);
            var int8Files = ModelFiles.FromDirectory(parts.Length > 1 ? parts[1] : parts[0], fp32Files.Name, quantized: true);
            var preprocessor = PreprocessorConfig.Load(fp32Files.PreprocessorConfigPath);
            using var fp32 = Fixtures.LoadModel(fp32Files.OnnxPath, preprocessor, threads, fp32Files.Name);
            using var int8 = Fixtures.LoadModel(int8Files.OnnxPath, preprocessor, threads, fp32Files.Name + "-int8");

            // Accuracy: every photo, batch 1, raw CLS rows of last_hidden_state.
            var allPixels = Fixtures.PixelTensors(fp32.Writer, photos, photos.Count);
            var a = Embed(fp32, allPixels, photos.Count);
            var b = Embed(int8, allPixels, photos.Count);
            var cos = a.Zip(b, (x, y) => (double)TensorPrimitives.CosineSimilarity(x, y)).ToArray();
            var crossFp32 = new List<double>();
            var top1 = 0;
            for (var i = 0; i < a.Length; i++)
            {
                var best = -1;
                var bestCos = double.NegativeInfinity;
                for (var j = 0; j < a.Length; j++)
                {
                    var c = TensorPrimitives.CosineSimilarity(b[i], a[j]);
                    if (c > bestCos)
                    {
                        (best, bestCos) = (j, c);
                    }

                    if (j > i)
                    {
                        crossFp32.Add(TensorPrimitives.CosineSimilarity(a[i], a[j]));
                    }
                }

                top1 += best == i ? 1 : 0;
            }

            report.Note($"{fp32Files.Name}: int8 vs fp32 CLS cosine over {photos.Count} photos min {cos.Min():0.00000} mean {cos.Average():0.00000}; " +
                $"fp32 CLS cosine between different photos min {crossFp32.Min():0.0000} mean {crossFp32.Average():0.0000} max {crossFp32.Max():0.0000}; " +
                $"int8 query's nearest fp32 photo is itself for {top1}/{photos.Count}. int8 file: {int8Files.OnnxPath}");

            var pixels = Fixtures.PixelTensors(fp32.Writer, photos, batches.Max());
            foreach (var batch in batches)
            {
                var variants = new[] { (Name: "fp32", Model: fp32), (Name: "int8", Model: int8) };
                var latencies = variants.Select(_ => new List<double>()).ToArray();
                var wall = new double[2];
                var cpu = new double[2];
                for (var v = 0; v < 2; v++)
                {
                    var m = variants[v].Model;
                    Timing.WarmUp(() => m.RunBatch(pixels, batch), warmup);
                }

                // Alternate fp32 / int8 in rounds so slow drift in machine load hits both alike.
                for (var r = 0; r < rounds; r++)
                {
                    for (var v = 0; v < 2; v++)
                    {
                        var m = variants[v].Model;
                        var (samples, w, c) = Timing.ForBudget(() => m.RunBatch(pixels, batch), seconds / rounds);
                        for (var k = 0; k < samples.Count; k++)
                        {
                            latencies[v].Add(samples.Percentile(100.0 * (k + 1) / samples.Count));
                        }

                        wall[v] += w;
                        cpu[v] += c;
                    }
                }

                var throughput = new double[2];
                for (var v = 0; v < 2; v++)
                {
                    throughput[v] = latencies[v].Count * batch / wall[v];
                    var row = new Dictionary<string, object>
                    {
                        ["model"] = fp32Files.Name,
                        ["precision"] = variants[v].Name,
                        ["batch"] = batch,
                        ["images_per_s"] = throughput[v],
                        ["p50_ms"] = Percentile(latencies[v], 50),
                        ["p95_ms"] = Percentile(latencies[v], 95),
                        ["runs"] = latencies[v].Count,
                        ["cpu_of_threads"] = cpu[v] / (wall[v] * threads),
                        ["intra_op_threads"] = threads,
                        ["budget_s"] = seconds,
                        ["onnx"] = v == 0 ? fp32Files.OnnxPath : int8Files.OnnxPath,
                    };
                    if (v == 1)
                    {
                        row["int8_over_fp32"] = throughput[1] / throughput[0];
                        row["cos_min"] = cos.Min();
                        row["cos_mean"] = cos.Average();
                        row["top1_agree"] = $"{top1}/{photos.Count}";
                    }

                    report.Row(row);
                }
            }
        }

        report.Note($"ONNX Runtime CPU, sessions from InferenceSessionFactory (ORT_ENABLE_ALL, sequential, {threads} intra-op threads); per batch size each session gets {warmup:0.#} s warm-up, then fp32 and int8 are timed alternately in {rounds} rounds of {seconds / rounds:0.#} s each ({seconds:0.#} s per setting). cos_* = cosine(fp32 CLS, int8 CLS) per photo, raw last_hidden_state[:,0].");
    }

    /// <summary>ORT's own profiler over 10 runs: time per op type, to see what is left after quantization.</summary>
    private static void Profile(string onnx, string preprocessorDir, List<Photo> photos, int threads, int batch)
    {
        var writer = new PixelTensorWriter(PreprocessorConfig.Load(Path.Combine(preprocessorDir, "preprocessor_config.json")));
        var pixels = Fixtures.PixelTensors(writer, photos, batch);
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
        };
        options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "ort-quant-profile"); // before EnableProfiling, which reads it
        options.EnableProfiling = true;
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx, options);
        using var model = new LoadedModel(session, writer, PoolingMode.Cls, "profile", "bench");
        for (var i = 0; i < 12; i++)
        {
            model.RunBatch(pixels, batch);
        }

        var file = session.EndProfiling();
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        var byOp = new Dictionary<string, double>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (e.GetProperty("cat").GetString() == "Node" && e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal)
                && e.TryGetProperty("args", out var args) && args.TryGetProperty("op_name", out var op))
            {
                byOp[op.GetString()!] = byOp.GetValueOrDefault(op.GetString()!) + e.GetProperty("dur").GetDouble();
            }
        }

        var total = byOp.Values.Sum();
        foreach (var (op, us) in byOp.OrderByDescending(kv => kv.Value))
        {
            Console.WriteLine($"  {op,-28} {us / 12 / 1000,8:0.0} ms/run  {us / total,6:0.0%}");
        }

        Console.WriteLine($"  profile: {file}");
    }

    private static double Percentile(List<double> values, double p)
    {
        var all = new Samples();
        values.ForEach(all.Add);
        return all.Percentile(p);
    }

    /// <summary>One photo at a time at batch 1, so every variant embeds the same tensors the same way.</summary>
    internal static float[][] Embed(LoadedModel model, float[] pixels, int count)
    {
        var length = model.Writer.Length;
        var vectors = new float[count][];
        var one = new float[length];
        for (var i = 0; i < count; i++)
        {
            pixels.AsSpan(i * length, length).CopyTo(one);
            vectors[i] = model.RunBatch(one, 1)[0];
        }

        return vectors;
    }
}
