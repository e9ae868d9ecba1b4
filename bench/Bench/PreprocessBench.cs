using System.Diagnostics;
using ImageRetrieval.Embedding.Preprocessing;

namespace ImageRetrieval.Bench;

/// <summary>Decode (libvips) + resize (Pillow-exact) + rescale/normalise into a pixel tensor, one photo at a time, one thread.</summary>
internal static class PreprocessBench
{
    public static void Run(BenchOptions options, Report report)
    {
        var photos = Fixtures.LoadPhotos(options.Get("photos", Fixtures.DefaultPhotos));
        var modelDir = options.Get("model", Fixtures.DefaultModel);
        var config = PreprocessorConfig.Load(Path.Combine(modelDir, "preprocessor_config.json"));
        var writer = new PixelTensorWriter(config);
        var decoder = Fixtures.Decoder();
        var tensor = new float[writer.Length];
        var seconds = options.GetDouble("seconds", 3);

        // Warm-up: one pass over every photo (JIT, libvips init).
        foreach (var photo in photos)
        {
            writer.Write(decoder.Decode(photo.Bytes), tensor);
        }

        var total = new Samples();
        var decode = new Samples();
        var resize = new Samples();
        long megapixels = 0;
        var start = Stopwatch.GetTimestamp();
        var passes = 0;
        do
        {
            foreach (var photo in photos)
            {
                var t0 = Stopwatch.GetTimestamp();
                var image = decoder.Decode(photo.Bytes);
                var t1 = Stopwatch.GetTimestamp();
                writer.Write(image, tensor);
                var t2 = Stopwatch.GetTimestamp();
                decode.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
                resize.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
                total.Add(Stopwatch.GetElapsedTime(t0, t2).TotalMilliseconds);
                megapixels += (long)image.Width * image.Height;
            }

            passes++;
        }
        while (Stopwatch.GetElapsedTime(start).TotalSeconds < seconds);
        var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;

        report.Column("step").Column("images").Column("images_per_s", "0.0").Column("p50_ms", "0.00").Column("p95_ms", "0.00").Column("mean_ms", "0.00");
        report.Row(new() { ["step"] = "decode+resize+normalise", ["images"] = total.Count, ["images_per_s"] = total.Count / wall, ["p50_ms"] = total.Percentile(50), ["p95_ms"] = total.Percentile(95), ["mean_ms"] = total.Mean, ["photos"] = photos.Count, ["passes"] = passes, ["threads"] = 1, ["model"] = modelDir });
        report.Row(new() { ["step"] = "  decode (libvips, to RGB)", ["images"] = decode.Count, ["p50_ms"] = decode.Percentile(50), ["p95_ms"] = decode.Percentile(95), ["mean_ms"] = decode.Mean });
        report.Row(new() { ["step"] = "  resize+normalise (PixelTensorWriter)", ["images"] = resize.Count, ["p50_ms"] = resize.Percentile(50), ["p95_ms"] = resize.Percentile(95), ["mean_ms"] = resize.Mean });
        report.Note($"{photos.Count} photos from {options.Get("photos", Fixtures.DefaultPhotos)} ({photos.Sum(p => p.Bytes.Length) / 1024} KiB, mean {megapixels / 1e6 / total.Count:0.00} MP decoded), {passes} passes, photo bytes in memory; output {config.OutputSize.Height}x{config.OutputSize.Width}, resample {config.Resample}.");
    }
}
