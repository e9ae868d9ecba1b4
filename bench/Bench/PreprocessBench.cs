using System.Diagnostics;
using ImageRetrieval.Embedding.Preprocessing;

namespace ImageRetrieval.Bench;

/// <summary>Decode (libvips) + resize (Pillow-exact) + rescale/normalise into a pixel tensor, one photo at a time, one thread.</summary>
internal static class PreprocessBench
{
    public static void Run(BenchOptions options, Report report)
    {
        var photos = Fixtures.LoadPhotos(options.Get("photos", Fixtures.DefaultPhotos));
        if (options.Get("camera", "0") == "1")
        {
            photos = ServiceBench.CameraSizedJpegs(photos);
        }

        var modelDir = options.Get("model", Fixtures.DefaultModel);
        var config = PreprocessorConfig.Load(Path.Combine(modelDir, "preprocessor_config.json"));
        var writer = new PixelTensorWriter(config);
        var decoder = Fixtures.Decoder();
        var tensor = new float[writer.Length];
        var seconds = options.GetDouble("seconds", 3);
        report.Column("step").Column("shrink_on_load").Column("images").Column("images_per_s", "0.0").Column("p50_ms", "0.00").Column("p95_ms", "0.00").Column("mean_ms", "0.00").Column("cpu_ms_per_image", "0.00").Column("alloc_kib_per_image", "0");
        foreach (var shrink in options.GetList("shrink", "0,1").Select(s => s == "1"))
        {
            // Warm-up: one pass over every photo (JIT, libvips init).
            foreach (var photo in photos)
            {
                using var image = decoder.Decode(photo.Bytes, writer, shrink);
                writer.Write(image, tensor);
            }

            var total = new Samples();
            var decode = new Samples();
            var resize = new Samples();
            var decodeCpu = new Samples();
            var resizeCpu = new Samples();
            using var threadCpu = new ThreadCpu();
            long megapixels = 0;
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var cpuStart = Environment.CpuUsage.TotalTime;
            var start = Stopwatch.GetTimestamp();
            var passes = 0;
            do
            {
                foreach (var photo in photos)
                {
                    var c0 = threadCpu.Milliseconds();
                    var t0 = Stopwatch.GetTimestamp();
                    using var image = decoder.Decode(photo.Bytes, writer, shrink);
                    var t1 = Stopwatch.GetTimestamp();
                    var c1 = threadCpu.Milliseconds();
                    writer.Write(image, tensor);
                    var t2 = Stopwatch.GetTimestamp();
                    var c2 = threadCpu.Milliseconds();
                    decodeCpu.Add(c1 - c0);
                    resizeCpu.Add(c2 - c1);
                    decode.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
                    resize.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
                    total.Add(Stopwatch.GetElapsedTime(t0, t2).TotalMilliseconds);
                    megapixels += (long)image.Width * image.Height;
                }

                passes++;
            }
            while (Stopwatch.GetElapsedTime(start).TotalSeconds < seconds);
            var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
            var allocKib = (GC.GetAllocatedBytesForCurrentThread() - allocated) / 1024.0 / total.Count;
            var cpuMs = (Environment.CpuUsage.TotalTime - cpuStart).TotalMilliseconds / total.Count;

            report.Row(new() { ["step"] = "decode+resize+normalise", ["shrink_on_load"] = shrink, ["images"] = total.Count, ["images_per_s"] = total.Count / wall, ["p50_ms"] = total.Percentile(50), ["p95_ms"] = total.Percentile(95), ["mean_ms"] = total.Mean, ["alloc_kib_per_image"] = allocKib, ["cpu_ms_per_image"] = cpuMs, ["photos"] = photos.Count, ["passes"] = passes, ["threads"] = 1, ["model"] = modelDir, ["decoded_mp_mean"] = megapixels / 1e6 / total.Count });
            report.Row(new() { ["step"] = "  decode (libvips, to RGB)", ["shrink_on_load"] = shrink, ["images"] = decode.Count, ["p50_ms"] = decode.Percentile(50), ["p95_ms"] = decode.Percentile(95), ["mean_ms"] = decode.Mean, ["cpu_ms_per_image"] = decodeCpu.Mean });
            report.Row(new() { ["step"] = "  resize+normalise (PixelTensorWriter)", ["shrink_on_load"] = shrink, ["images"] = resize.Count, ["p50_ms"] = resize.Percentile(50), ["p95_ms"] = resize.Percentile(95), ["mean_ms"] = resize.Mean, ["cpu_ms_per_image"] = resizeCpu.Mean });
            report.Note($"shrink_on_load={shrink}: {photos.Count} photos ({photos.Sum(p => p.Bytes.Length) / 1024} KiB{(options.Get("camera", "0") == "1" ? ", camera-sized copies 0.3-2.5 MP" : "")}), mean {megapixels / 1e6 / total.Count:0.00} MP decoded, {passes} passes, photo bytes in memory; output {config.OutputSize.Height}x{config.OutputSize.Width}, resample {config.Resample}. cpu = process CPU time per image (robust to other tenants, unlike the wall-clock columns; on the decode and resize rows this thread's own run time per image); alloc = managed bytes allocated on this thread per image.");
        }
    }
}
