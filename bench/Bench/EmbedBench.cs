using System.Diagnostics;
using ImageRetrieval.Embedding.Preprocessing;

namespace ImageRetrieval.Bench;

/// <summary>ONNX Runtime inference alone: LoadedModel.RunBatch over pre-made pixel tensors.</summary>
internal static class EmbedBench
{
    public static void Run(BenchOptions options, Report report)
    {
        var (models, batches, threads, seconds, warmup, photos) = InferenceSweep.Read(options, batches: "1,4,8", seconds: 8);
        var spinning = options.GetList("spin", "on").Select(Fixtures.ParseSpin).ToArray();

        report.Column("model").Column("batch").Column("spinning").Column("images_per_s", "0.00").Column("p50_ms", "0.0").Column("p95_ms", "0.0").Column("runs").Column("cpu_of_threads", "0%").Column("dim");
        foreach (var path in models)
        {
            var (onnx, preprocessorPath, label) = Fixtures.ResolveModel(path, options.Get("preprocessor", Fixtures.DefaultModel));
            label = options.Get("label", label);
            var preprocessor = PreprocessorConfig.Load(preprocessorPath);
            var loadStart = Stopwatch.GetTimestamp();
            var variants = spinning.Select(spin => (Spin: spin, Model: Fixtures.LoadModel(onnx, preprocessor, threads, label, spin))).ToList();
            var loadMs = Timing.Ms(loadStart) / variants.Count;
            var pixels = Fixtures.PixelTensors(variants[0].Model.Writer, photos, batches.Max());
            foreach (var (batch, spin, model) in batches.SelectMany(b => variants.Select(v => (b, v.Spin, v.Model))))
            {
                Timing.WarmUp(() => model.RunBatch(pixels, batch), warmup);
                var (latencies, wall, cpu) = Timing.ForBudget(() => model.RunBatch(pixels, batch), seconds);
                report.Row(new()
                {
                    ["model"] = label,
                    ["spinning"] = Fixtures.SpinLabel(spin),
                    ["batch"] = batch,
                    ["images_per_s"] = latencies.Count * batch / wall,
                    ["p50_ms"] = latencies.Percentile(50),
                    ["p95_ms"] = latencies.Percentile(95),
                    ["runs"] = latencies.Count,
                    ["dim"] = model.Dimension,
                    ["cpu_of_threads"] = cpu / (wall * threads),
                    ["intra_op_threads"] = threads,
                    ["budget_s"] = seconds,
                    ["load_ms"] = loadMs,
                    ["onnx"] = onnx,
                });
            }

            variants.ForEach(v => v.Model.Dispose());
        }

        report.Note($"ONNX Runtime CPU, fp32, intra-op threads = {threads}, spinning = {options.Get("spin", "on")} (--spin on,off,250us times each, alternating per batch size; 250us = idle threads spin up to 250 microseconds, then sleep), sequential execution, graph optimisation ALL (InferenceSessionFactory); {warmup:0.#} s warm-up then a {seconds:0.#} s budget per batch size; inputs are real photos preprocessed once; p50/p95 are per batch run. cpu_of_threads = process CPU time / (wall time x intra-op threads): well below 100% means other processes took the cores.");
    }
}
