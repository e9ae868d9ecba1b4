using System.Numerics.Tensors;
using System.Text.Json;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Infrastructure.Onnx;

namespace ImageRetrieval.Bench;

/// <summary>
/// Embedding parity against a reference from scripts/parity/make_reference.py (Pillow + PyTorch),
/// exact decoding against shrink-on-load, on any photo folder (e.g. camera-sized copies, where
/// shrinking actually happens; the committed references are on the small shared photos).
/// </summary>
internal static class ParityBench
{
    public static void Run(BenchOptions options, Report report)
    {
        var modelDir = options.Get("model", "tests/fixtures/models/vit-tiny");
        var referencePath = options.Get("reference", "tests/fixtures/parity/vit-tiny.json");
        var photosDir = options.Get("photos", Fixtures.DefaultPhotos);
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDir));
        var files = ModelFiles.FromDirectory(modelDir, name, quantized: false);
        using var model = new LoadedModel(InferenceSessionFactory.Create(files.OnnxPath, 2),
            new PixelTensorWriter(PreprocessorConfig.Load(files.PreprocessorConfigPath)), PoolingMode.Cls, name, "bench");
        using var reference = JsonDocument.Parse(File.ReadAllBytes(referencePath));
        var decoder = Fixtures.Decoder();
        report.Column("model").Column("shrink_on_load").Column("photos").Column("shrunk").Column("cos_min", "0.00000").Column("cos_mean", "0.00000").Column("worst");
        foreach (var shrink in new[] { false, true })
        {
            var cosines = new Dictionary<string, double>();
            var shrunk = 0;
            foreach (var entry in reference.RootElement.GetProperty("pooling").GetProperty("cls").EnumerateObject())
            {
                using var rgb = decoder.Decode(File.ReadAllBytes(Path.Combine(photosDir, entry.Name)), model.Writer, shrink);
                shrunk += rgb.Width < rgb.SourceWidth ? 1 : 0;
                var pixels = new float[model.Writer.Length];
                model.Writer.Write(rgb, pixels);
                var expected = entry.Value.EnumerateArray().Select(v => v.GetSingle()).ToArray();
                cosines[entry.Name] = TensorPrimitives.CosineSimilarity(model.RunBatch(pixels, 1)[0], expected);
            }

            var worst = cosines.MinBy(c => c.Value);
            report.Row(new()
            {
                ["model"] = name, ["shrink_on_load"] = shrink, ["photos"] = cosines.Count, ["shrunk"] = shrunk,
                ["cos_min"] = cosines.Values.Min(), ["cos_mean"] = cosines.Values.Average(), ["worst"] = worst.Key,
                ["reference"] = referencePath, ["photo_dir"] = photosDir,
            });
        }

        report.Note($"Cosine of our CLS embedding (libvips decode, Pillow-exact resize, ONNX Runtime) to the reference {referencePath} (Pillow + PyTorch) on {photosDir}; shrunk = photos the decoder shrank on load.");
    }
}
