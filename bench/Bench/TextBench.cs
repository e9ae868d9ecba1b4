using System.Diagnostics;
using System.Numerics.Tensors;
using System.Security.Cryptography;
using System.Text.Json;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Embedding.Text;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.Onnx;
using ImageRetrieval.Infrastructure.VectorStores.Local;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Bench;

/// <summary>
/// A CLIP model's text side: text-embedding throughput (tokenize + text tower) at batch 1 and 32, and
/// the server-side work of a search by text against a Local store of --rows random vectors
/// (tokenize, embed, normalise, exact top-k scan) beside the same for a query image's tensor
/// (vision tower, normalise, scan; decode excluded, measured by `preprocess`).
/// </summary>
internal static class TextBench
{
    private static readonly string[] Corpus =
    [
        "a photo of a cat", "a dog running on the beach at sunset", "a red car parked in the street",
        "a group of people standing in a park", "a plate of food on a wooden table", "the city skyline at night",
        "a boat on the river under a bridge", "a snowy forest in winter", "a close up of a flower in the garden",
        "a black and white photo of an old building with many windows and a clock tower",
    ];

    public static async Task RunAsync(BenchOptions options, Report report)
    {
        var modelDir = options.Get("model", "bench/models/clip-b32");
        var threads = options.GetInt("threads", 2);
        var seconds = options.GetDouble("seconds", 5);
        var rows = options.GetInt("rows", 100_000);
        var queries = options.GetInt("queries", 100);
        var files = ModelFiles.FromDirectory(modelDir, Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDir)), quantized: false);
        if (files.TextOnnxPath is null)
        {
            throw new ArgumentException($"'{modelDir}' has no text tower (recreate with: /usr/bin/python3 scripts/models/make_clip_fixture.py --bench bench/models/clip-b32)");
        }

        using var text = await TextModelLoader.LoadAsync(files, threads, CancellationToken.None);
        using var vision = Fixtures.LoadModel(files.OnnxPath, PreprocessorConfig.Load(files.PreprocessorConfigPath), threads, "vision");
        report.Column("what").Column("batch").Column("per_s", "0.0").Column("p50_ms", "0.00").Column("p95_ms", "0.00");

        foreach (var batch in new[] { 1, 32 })
        {
            var texts = Enumerable.Range(0, batch).Select(i => Corpus[i % Corpus.Length]).ToList();
            text.Run(texts.Select(text.Tokenizer.Encode).ToList());
            var samples = new Samples();
            var start = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(start).TotalSeconds < seconds)
            {
                var t = Stopwatch.GetTimestamp();
                text.Run(texts.Select(text.Tokenizer.Encode).ToList());
                samples.Add(Timing.Ms(t));
            }

            report.Row(new() { ["what"] = "text embedding", ["batch"] = batch, ["per_s"] = samples.Count * batch / (samples.Total / 1000.0), ["p50_ms"] = samples.Percentile(50), ["p95_ms"] = samples.Percentile(95), ["threads"] = threads, ["model"] = modelDir });
        }

        var dataDir = Directory.CreateTempSubdirectory("bench-text-").FullName;
        try
        {
            using var store = new LocalVectorStore(Options.Create(new ServiceOptions { DataPath = dataDir }), Options.Create(new VectorStoreOptions { Collection = "bench" }), Options.Create(new LocalVectorStoreOptions()), NullLogger<LocalVectorStore>.Instance);
            await store.EnsureCollectionAsync(new CollectionDescriptor("bench", "bench-random", text.Dimension), CancellationToken.None);
            var random = new Random(42);
            var metadata = new Dictionary<string, JsonElement>();
            Console.WriteLine($"text: filling {rows:N0} x {text.Dimension} ...");
            var idBytes = new byte[4];
            for (var s = 0; s < rows; s += 1000)
            {
                var records = Enumerable.Range(s, Math.Min(1000, rows - s)).Select(r =>
                {
                    BitConverter.TryWriteBytes(idBytes, r);
                    return new VectorRecord(Convert.ToHexStringLower(SHA256.HashData(idBytes)), SearchBench.RandomUnit(random, text.Dimension), metadata);
                }).ToList();
                await store.UpsertAsync(records, CancellationToken.None);
            }

            var pixels = new float[vision.Writer.Length];
            var photoDir = options.Get("photos", Path.Combine("tests", "fixtures", "photos"));
            var photo = Fixtures.LoadPhotos(photoDir).First(p => p.Name.EndsWith(".jpg", StringComparison.Ordinal));
            vision.Writer.Write(Fixtures.Decoder().Decode(photo.Bytes), pixels);

            async Task<Samples> TimeAsync(Func<int, float[]> embed)
            {
                var samples = new Samples();
                for (var i = -5; i < queries; i++)
                {
                    var t = Stopwatch.GetTimestamp();
                    var vector = embed(i);
                    TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
                    var hits = await store.QueryAsync(new VectorQuery(vector, 10), CancellationToken.None);
                    if (i >= 0)
                    {
                        samples.Add(Timing.Ms(t));
                    }

                    if (hits.Count != 10)
                    {
                        throw new InvalidOperationException($"expected 10 hits, got {hits.Count}");
                    }
                }

                return samples;
            }

            var byText = await TimeAsync(i => text.Run([text.Tokenizer.Encode(Corpus[(i + 10) % Corpus.Length])])[0]);
            var byImage = await TimeAsync(_ => vision.RunBatch(pixels, 1)[0]);
            foreach (var (what, samples) in new[] { ("text query (tokenize+embed+scan)", byText), ("image query (embed+scan, decode excluded)", byImage) })
            {
                report.Row(new() { ["what"] = what, ["batch"] = 1, ["per_s"] = samples.Count / (samples.Total / 1000.0), ["p50_ms"] = samples.Percentile(50), ["p95_ms"] = samples.Percentile(95), ["rows"] = rows, ["dim"] = text.Dimension, ["threads"] = threads, ["model"] = modelDir });
            }
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }

        report.Note($"Model {modelDir} ({text.Description}); ONNX Runtime intra-op threads {threads}. Text embedding = tokenize (HF tokenizers via Tokenizers.DotNet) + one text-tower run, for {seconds} s per batch size. Queries: {queries} (after 5 warm-up) top-10 exact scans of a Local store of {rows:N0} random unit vectors of the model's dimension; the text query is what the server times as tookMs for POST /search with `text` minus the record lookup of the 10 hits, the image query the same for `file` minus decode and resize.");
    }
}
