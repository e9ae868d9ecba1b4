using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Infrastructure.Onnx;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Bench;

internal sealed record Photo(string Name, byte[] Bytes);

/// <summary>
/// What the inference benches (embed, quant) sweep: model folders, batch sizes, intra-op threads, seconds
/// timed and warmed up per point, and the photos (read into memory up front).
/// </summary>
internal sealed record InferenceSweep(string[] Models, int[] Batches, int Threads, double Seconds, double Warmup, List<Photo> Photos)
{
    public static InferenceSweep Read(BenchOptions options, string batches, double seconds) => new(
        options.GetList("model", "bench/models/vit-s16,bench/models/vit-b16"),
        options.GetInts("batch", batches),
        options.GetInt("threads", 2),
        options.GetDouble("seconds", seconds),
        options.GetDouble("warmup", 2),
        Fixtures.LoadPhotos(options.Get("photos", Fixtures.DefaultPhotos)));
}

internal static class Fixtures
{
    public const string DefaultPhotos = "../shared/data/photos";
    public const string DefaultModel = "bench/models/vit-b16";

    public static ImageDecoder Decoder() => new(Options.Create(new ImageLimitsOptions()));

    /// <summary>Every file of the folder, read into memory up front so disk reads are not timed.</summary>
    public static List<Photo> LoadPhotos(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new ArgumentException($"photo folder '{directory}' does not exist");
        }

        var photos = Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal)
            .Select(p => new Photo(Path.GetFileName(p), File.ReadAllBytes(p))).ToList();
        return photos.Count > 0 ? photos : throw new ArgumentException($"photo folder '{directory}' is empty");
    }

    /// <summary>
    /// A model folder in the Hugging Face layout, or a bare .onnx file (then the preprocessor comes
    /// from <paramref name="preprocessorFallback"/>, e.g. for the anchor's own export).
    /// </summary>
    public static (string Onnx, string Preprocessor, string Label) ResolveModel(string path, string preprocessorFallback)
    {
        if (File.Exists(path) && path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            return (path, Path.Combine(preprocessorFallback, "preprocessor_config.json"), Path.GetFileNameWithoutExtension(path));
        }

        var onnx = Path.Combine(path, "model.onnx");
        if (!File.Exists(onnx))
        {
            throw new ArgumentException($"'{path}' is neither an .onnx file nor a folder with model.onnx (recreate with: /usr/bin/python3 scripts/models/export_bench_models.py bench/models)");
        }

        return (onnx, Path.Combine(path, "preprocessor_config.json"), Path.GetFileName(Path.TrimEndingDirectorySeparator(path)));
    }

    /// <summary>Loads the model the way the service's ModelLoader does: one session, CLS pooling.</summary>
    public static LoadedModel LoadModel(string onnx, PreprocessorConfig preprocessor, int intraOpThreads, string label, int spinMicroseconds = 0)
    {
        var session = InferenceSessionFactory.Create(onnx, intraOpThreads, spinMicroseconds);
        try
        {
            return new LoadedModel(session, new PixelTensorWriter(preprocessor), PoolingMode.Cls, label, "bench");
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Real photos decoded and preprocessed into <paramref name="count"/> consecutive tensors (photos reused cyclically).</summary>
    public static float[] PixelTensors(PixelTensorWriter writer, IReadOnlyList<Photo> photos, int count)
    {
        var decoder = Decoder();
        var pixels = new float[count * writer.Length];
        for (var i = 0; i < count; i++)
        {
            using var rgb = decoder.Decode(photos[i % photos.Count].Bytes, writer);
            writer.Write(rgb, pixels.AsSpan(i * writer.Length, writer.Length));
        }

        return pixels;
    }

    /// <summary>`--spin` values: on (or 1) = ONNX Runtime's unbounded default, off (or 0) = none, 250us = spin up to 250 microseconds.</summary>
    public static int ParseSpin(string value) => value switch
    {
        "on" or "1" => InferenceSessionFactory.UnboundedSpin,
        "off" or "0" => 0,
        _ when value.EndsWith("us", StringComparison.Ordinal) => int.Parse(value[..^2], System.Globalization.CultureInfo.InvariantCulture),
        _ => throw new ArgumentException($"--spin takes on, off or <n>us, not '{value}'"),
    };

    public static string SpinLabel(int spinMicroseconds) => spinMicroseconds switch
    {
        InferenceSessionFactory.UnboundedSpin => "on",
        0 => "off",
        _ => $"{spinMicroseconds}us",
    };
}
