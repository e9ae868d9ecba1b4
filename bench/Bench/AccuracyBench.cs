using System.Globalization;
using System.Numerics.Tensors;
using System.Text;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Infrastructure.Onnx;
using ImageRetrieval.ModelTools;
using NetVips;

namespace ImageRetrieval.Bench;

/// <summary>
/// Real-weight accuracy of int8 against fp32 (the ImageNet ResNet-18 by default): the photos plus
/// three generated copies of each (JPEG q=70, centre crop 80%, half size), embedded by both
/// precisions through the service's decode/preprocess/inference code; agreement, neighbour overlap
/// and copy-detection recall@1 per precision, then fp32/int8 throughput in the same process.
/// </summary>
internal static class AccuracyBench
{
    private static readonly string[] CopyKinds = ["jpeg-q70", "crop-80", "half-size"];

    public static void Run(BenchOptions options, Report report)
    {
        var directory = options.Get("model", "");
        if (directory.Length == 0)
        {
            directory = ModelCache.ResNet18(Path.Combine(".cache", "models"), Path.Combine("tests", "fixtures", "photos"));
        }

        var photosDirectory = options.Get("photos", Fixtures.DefaultPhotos);
        var threads = options.GetInt("threads", 2);
        var batches = options.GetInts("batch", "1,8");
        var seconds = options.GetDouble("seconds", 6);
        var output = options.Get("out", Path.Combine(options.Get("results", Path.Combine("bench", "results")), "real-weights-accuracy.md"));

        var photos = Fixtures.LoadPhotos(photosDirectory);
        var images = new List<(string Name, string Kind, int Original, byte[] Bytes)>();
        for (var i = 0; i < photos.Count; i++)
        {
            images.Add((photos[i].Name, "original", i, photos[i].Bytes));
            foreach (var kind in CopyKinds)
            {
                images.Add((photos[i].Name, kind, i, MakeCopy(photos[i].Bytes, kind)));
            }
        }

        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(directory));
        var fp32Files = ModelFiles.FromDirectory(directory, name, quantized: false);
        var int8Files = ModelFiles.FromDirectory(directory, name, quantized: true);
        var preprocessor = PreprocessorConfig.Load(fp32Files.PreprocessorConfigPath);
        using var fp32 = Fixtures.LoadModel(fp32Files.OnnxPath, preprocessor, threads, name);
        using var int8 = Fixtures.LoadModel(int8Files.OnnxPath, preprocessor, threads, name + "-int8");

        var decoder = Fixtures.Decoder();
        var pixels = new float[images.Count * fp32.Writer.Length];
        for (var i = 0; i < images.Count; i++)
        {
            fp32.Writer.Write(decoder.Decode(images[i].Bytes), pixels.AsSpan(i * fp32.Writer.Length, fp32.Writer.Length));
        }

        var a = Normalised(Embed(fp32, pixels, images.Count));
        var b = Normalised(Embed(int8, pixels, images.Count));
        var agreement = a.Zip(b, (x, y) => (double)TensorPrimitives.Dot(x, y)).ToArray();
        var originals = images.Select((m, i) => (m, i)).Where(t => t.m.Kind == "original").Select(t => t.i).ToArray();

        // Top-10 neighbours of every image among all the others, fp32 against int8.
        var overlaps = new double[images.Count];
        for (var q = 0; q < images.Count; q++)
        {
            var fp32Top = TopK(a, q, Enumerable.Range(0, images.Count), 10);
            var int8Top = TopK(b, q, Enumerable.Range(0, images.Count), 10);
            overlaps[q] = fp32Top.Intersect(int8Top).Count() / 10.0;
        }

        // Copy detection: each copy queries the originals; a hit when its own original ranks first.
        var recall = new Dictionary<(string Kind, string Precision), double>();
        var misses = new List<string>();
        foreach (var kind in CopyKinds)
        {
            foreach (var (precision, vectors) in new[] { ("fp32", a), ("int8", b) })
            {
                var queries = images.Select((m, i) => (m, i)).Where(t => t.m.Kind == kind).ToList();
                var hits = 0;
                foreach (var (m, i) in queries)
                {
                    var best = TopK(vectors, i, originals, 1)[0];
                    if (images[best].Original == m.Original)
                    {
                        hits++;
                    }
                    else
                    {
                        misses.Add($"{precision} {kind} {m.Name} -> {images[best].Name}");
                    }
                }

                recall[(kind, precision)] = (double)hits / queries.Count;
            }
        }

        // Other views of one scene against unrelated photos (fp32), as a sanity check of the semantics.
        var byName = originals.ToDictionary(i => images[i].Name, i => i, StringComparer.Ordinal);
        var pairs = new[] { ("opencv-leuvenA.jpg", "opencv-leuvenB.jpg"), ("opencv-aero1.jpg", "opencv-aero3.jpg") }
            .Where(p => byName.ContainsKey(p.Item1) && byName.ContainsKey(p.Item2))
            .Select(p => (p, Fp32: TensorPrimitives.Dot(a[byName[p.Item1]], a[byName[p.Item2]]), Int8: TensorPrimitives.Dot(b[byName[p.Item1]], b[byName[p.Item2]])))
            .ToList();
        var unrelated = new List<double>();
        foreach (var i in originals)
        {
            foreach (var j in originals.Where(j => j > i))
            {
                if (!pairs.Any(p => (p.p.Item1 == images[i].Name && p.p.Item2 == images[j].Name) || (p.p.Item2 == images[i].Name && p.p.Item1 == images[j].Name)))
                {
                    unrelated.Add(TensorPrimitives.Dot(a[i], a[j]));
                }
            }
        }

        var throughput = Throughput(fp32, int8, pixels, images.Count, batches, seconds, threads, report);

        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine(inv, $"# Real-weight accuracy: {name} fp32 vs int8").AppendLine()
            .AppendLine(inv, $"- command: `{report.Command}`")
            .AppendLine(inv, $"- date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC; CPU: {Machine.CpuModel}, {Environment.ProcessorCount} logical cores; load average {Machine.LoadAverage()}")
            .AppendLine(inv, $"- fp32: `{fp32Files.OnnxPath}`; int8: `{int8Files.OnnxPath}`")
            .AppendLine(inv, $"- images: {photos.Count} photos from `{photosDirectory}` + 3 copies each ({string.Join(", ", CopyKinds)}) = {images.Count}, decoded and preprocessed by the service's code (Pillow-exact resize), vectors L2-normalised (Cls pooling of last_hidden_state)")
            .AppendLine()
            .AppendLine("| figure | fp32 | int8 |")
            .AppendLine("| --- | --- | --- |")
            .AppendLine(inv, $"| cosine(fp32, int8) over all {images.Count} images: mean / min | - | {agreement.Average():0.0000} / {agreement.Min():0.0000} |")
            .AppendLine(inv, $"| top-10 neighbour overlap with fp32 (each image queries the other {images.Count - 1}): mean / min | 1 | {overlaps.Average():0.000} / {overlaps.Min():0.0} |");
        foreach (var kind in CopyKinds)
        {
            md.AppendLine(inv, $"| copy detection recall@1, {kind} copy queries the {originals.Length} originals | {recall[(kind, "fp32")]:0.000} | {recall[(kind, "int8")]:0.000} |");
        }

        foreach (var (p, f, q) in pairs)
        {
            md.AppendLine(inv, $"| cosine {p.Item1} / {p.Item2} (two views of one scene) | {f:0.000} | {q:0.000} |");
        }

        md.AppendLine(inv, $"| cosine between unrelated originals: mean / max | {unrelated.Average():0.000} / {unrelated.Max():0.000} | |");
        md.AppendLine().AppendLine(inv, $"Throughput, ONNX Runtime CPU, {threads} intra-op threads, fp32 and int8 timed alternately in one process ({seconds:0.#} s per setting):").AppendLine()
            .AppendLine("| batch | fp32 img/s | int8 img/s | int8 / fp32 |").AppendLine("| --- | --- | --- | --- |");
        foreach (var (batch, f, q) in throughput)
        {
            md.AppendLine(inv, $"| {batch} | {f:0.0} | {q:0.0} | {q / f:0.00} |");
        }

        md.AppendLine().AppendLine(misses.Count == 0 ? "No copy-detection misses." : "Copy-detection misses: " + string.Join("; ", misses) + ".");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllText(output, md.ToString());
        Console.WriteLine(md.ToString());
        report.Note($"wrote {output}; int8 vs fp32 cosine mean {agreement.Average():0.0000} min {agreement.Min():0.0000}, top-10 overlap {overlaps.Average():0.000}");
    }

    /// <summary>The three kinds of near-duplicate the table reports, made with libvips.</summary>
    private static byte[] MakeCopy(byte[] original, string kind)
    {
        using var image = Image.NewFromBuffer(original).Autorot();
        using var rgb = image.HasAlpha() ? image.Flatten(background: [255]) : image.Copy();
        switch (kind)
        {
            case "jpeg-q70":
                return rgb.JpegsaveBuffer(q: 70);
            case "crop-80":
                var (w, h) = ((int)(rgb.Width * 0.8), (int)(rgb.Height * 0.8));
                using (var crop = rgb.ExtractArea((rgb.Width - w) / 2, (rgb.Height - h) / 2, w, h))
                {
                    return crop.PngsaveBuffer();
                }

            default:
                using (var half = rgb.Resize(0.5))
                {
                    return half.PngsaveBuffer();
                }
        }
    }

    private static float[][] Embed(LoadedModel model, float[] pixels, int count)
    {
        var length = model.Writer.Length;
        return Enumerable.Range(0, count).Select(i => model.RunBatch(pixels[(i * length)..((i + 1) * length)], 1)[0]).ToArray();
    }

    private static float[][] Normalised(float[][] vectors)
    {
        foreach (var v in vectors)
        {
            TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
        }

        return vectors;
    }

    private static int[] TopK(float[][] vectors, int query, IEnumerable<int> candidates, int k) =>
        candidates.Where(c => c != query).OrderByDescending(c => TensorPrimitives.Dot(vectors[query], vectors[c])).ThenBy(c => c).Take(k).ToArray();

    private static List<(int Batch, double Fp32, double Int8)> Throughput(LoadedModel fp32, LoadedModel int8, float[] pixels, int available, int[] batches, double seconds, int threads, Report report)
    {
        report.Column("precision").Column("batch").Column("images_per_s", "0.0").Column("p50_ms", "0.0");
        var results = new List<(int, double, double)>();
        foreach (var batch in batches.Where(b => b <= available))
        {
            var rates = new double[2];
            var models = new[] { fp32, int8 };
            foreach (var m in models)
            {
                Timing.WarmUp(() => m.RunBatch(pixels, batch), 1);
            }

            // Two alternating rounds so drift in the machine's load hits both precisions alike.
            var runs = new int[2];
            var wall = new double[2];
            var latencies = new[] { new Samples(), new Samples() };
            for (var round = 0; round < 2; round++)
            {
                for (var v = 0; v < 2; v++)
                {
                    var m = models[v];
                    var (samples, w, _) = Timing.ForBudget(() => m.RunBatch(pixels, batch), seconds / 2);
                    runs[v] += samples.Count;
                    wall[v] += w;
                    for (var k = 0; k < samples.Count; k++)
                    {
                        latencies[v].Add(samples.Percentile(100.0 * (k + 1) / samples.Count));
                    }
                }
            }

            for (var v = 0; v < 2; v++)
            {
                rates[v] = runs[v] * batch / wall[v];
                report.Row(new Dictionary<string, object>
                {
                    ["model"] = "resnet18",
                    ["precision"] = v == 0 ? "fp32" : "int8",
                    ["batch"] = batch,
                    ["images_per_s"] = rates[v],
                    ["p50_ms"] = latencies[v].Percentile(50),
                    ["intra_op_threads"] = threads,
                });
            }

            results.Add((batch, rates[0], rates[1]));
        }

        return results;
    }
}
