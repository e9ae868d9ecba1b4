using System.Diagnostics;
using ImageRetrieval.Embedding.Preprocessing;

namespace ImageRetrieval.Bench;

/// <summary>Photo bytes to embeddings without the mediator or HTTP: decode, preprocess, RunBatch, one batch after another.</summary>
internal static class EndToEndBench
{
    public static void Run(BenchOptions options, Report report)
    {
        var modelDir = options.Get("model", Fixtures.DefaultModel);
        var batch = options.GetInt("batch", 8);
        var threads = options.GetInt("threads", 2);
        var seconds = options.GetDouble("seconds", 8);
        var warmup = options.GetDouble("warmup", 2);
        var photos = Fixtures.LoadPhotos(options.Get("photos", Fixtures.DefaultPhotos));
        var (onnx, preprocessorPath, label) = Fixtures.ResolveModel(modelDir, modelDir);
        using var model = Fixtures.LoadModel(onnx, PreprocessorConfig.Load(preprocessorPath), threads, label);
        var decoder = Fixtures.Decoder();
        var length = model.Writer.Length;
        var pixels = new float[batch * length];
        var next = 0;
        var preprocessMs = new Samples();
        var inferMs = new Samples();

        void OneBatch()
        {
            var t0 = Stopwatch.GetTimestamp();
            for (var i = 0; i < batch; i++)
            {
                var photo = photos[next++ % photos.Count];
                using var rgb = decoder.Decode(photo.Bytes, model.Writer);
                model.Writer.Write(rgb, pixels.AsSpan(i * length, length));
            }

            var t1 = Stopwatch.GetTimestamp();
            var vectors = model.RunBatch(pixels, batch);
            preprocessMs.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
            inferMs.Add(Timing.Ms(t1));
            if (vectors.Length != batch)
            {
                throw new InvalidOperationException("the model returned a wrong number of vectors");
            }
        }

        Timing.WarmUp(OneBatch, warmup);
        var warmRuns = preprocessMs.Count;
        preprocessMs = new Samples();
        inferMs = new Samples();
        var (latencies, wall, cpu) = Timing.ForBudget(OneBatch, seconds);
        var images = latencies.Count * batch;
        report.Column("model").Column("batch").Column("images_per_s", "0.00").Column("p50_ms", "0.0").Column("p95_ms", "0.0").Column("preprocess_share", "0%").Column("cpu_of_threads", "0%").Column("images");
        report.Row(new()
        {
            ["model"] = label,
            ["batch"] = batch,
            ["images_per_s"] = images / wall,
            ["p50_ms"] = latencies.Percentile(50),
            ["p95_ms"] = latencies.Percentile(95),
            ["preprocess_share"] = preprocessMs.Total / latencies.Total,
            ["images"] = images,
            ["cpu_of_threads"] = cpu / (wall * threads),
            ["preprocess_ms_per_image"] = preprocessMs.Total / images,
            ["inference_ms_per_image"] = inferMs.Total / images,
            ["intra_op_threads"] = threads,
            ["warmup_runs"] = warmRuns,
        });
        report.Note($"{photos.Count} real photos cycled from memory; per batch: decode+preprocess {batch} photos on one thread, then one RunBatch (ORT intra-op threads = {threads}); no overlap between the two, no mediator/HTTP/queue. p50/p95 per batch of {batch}.");
    }
}
