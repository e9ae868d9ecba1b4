using System.Numerics.Tensors;
using System.Text.Json;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Embedding.Text;
using ImageRetrieval.Infrastructure.Onnx;
using ImageRetrieval.Tests;
using Xunit.Abstractions;

namespace ImageRetrieval.UnitTests.Embedding.Parity;

/// <summary>
/// The CLIP path against references made outside .NET on the random-weight fixture: token ids from
/// Hugging Face's tokenizers (scripts/parity/make_clip_tokens.mjs) and embeddings from PyTorch on the
/// same weights (scripts/parity/make_clip_reference.py).
/// </summary>
public sealed class ClipParityTests(ITestOutputHelper output)
{
    private sealed record TokenCase(string Text, int[] Ids, int[] Truncated);

    private static List<TokenCase> TokenCases()
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepositoryPaths.Fixtures, "parity", "clip-tiny-tokens.json")));
        return document.RootElement.GetProperty("items").EnumerateArray().Select(i => new TokenCase(
            i.GetProperty("text").GetString()!,
            i.GetProperty("ids").EnumerateArray().Select(v => v.GetInt32()).ToArray(),
            i.GetProperty("truncated").EnumerateArray().Select(v => v.GetInt32()).ToArray())).ToList();
    }

    private static Dictionary<string, float[]> Reference(string section)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepositoryPaths.Fixtures, "parity", "clip-tiny.json")));
        return document.RootElement.GetProperty(section).EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(v => v.GetSingle()).ToArray());
    }

    private static ModelFiles Files(string model, bool quantized = false) => ModelFiles.FromDirectory(RepositoryPaths.Model(model), model, quantized);

    [Fact]
    public void Given_the_reference_corpus_When_tokenized_Then_ids_equal_hugging_face_tokenizers_including_truncation_to_the_context()
    {
        var cases = TokenCases();
        using var tokenizer = TextTokenizer.Load(Path.Combine(RepositoryPaths.Model("clip-tiny"), "tokenizer.json"), 77);
        Assert.Equal(20, cases.Count);
        Assert.True(cases.Count(c => c.Ids.Length > 77) >= 3, "the corpus must have texts longer than the context");
        Assert.All(cases, c => Assert.Equal(c.Truncated, tokenizer.Encode(c.Text)));
        Assert.All(cases.Where(c => c.Ids.Length <= 77), c => Assert.Equal(c.Ids, tokenizer.Encode(c.Text)));
        Assert.All(cases.Where(c => c.Ids.Length > 77), c =>
        {
            var ids = tokenizer.Encode(c.Text);
            Assert.Equal(77, ids.Length);
            Assert.Equal(c.Ids[..76], ids[..76]);
            Assert.Equal(c.Ids[^1], ids[^1]);
        });

        // One tokenizer serves concurrent requests.
        var parallel = cases.AsParallel().WithDegreeOfParallelism(4).Select(c => (c, ids: tokenizer.Encode(c.Text))).ToList();
        Assert.All(parallel, p => Assert.Equal(p.c.Truncated, p.ids));
    }

    [Fact]
    public void Given_a_tokenizer_config_naming_the_pad_token_Then_fixed_length_inputs_are_padded_with_its_id()
    {
        using var tokenizer = TextTokenizer.Load(Path.Combine(RepositoryPaths.Model("clip-tiny-immich"), "textual", "tokenizer.json"), 77);
        var endOfText = tokenizer.Encode(string.Empty)[^1];
        Assert.Equal(endOfText, tokenizer.PadId);
    }

    public static TheoryData<string, bool, double> TextCases => new()
    {
        { "clip-tiny", false, 0.999 },
        { "clip-tiny-immich", false, 0.999 },
        { "clip-tiny", true, 0.999 },
    };

    [Theory]
    [MemberData(nameof(TextCases))]
    public async Task Given_the_corpus_When_embedded_by_the_text_tower_Then_cosine_to_pytorch_meets_the_bar(string modelName, bool quantized, double bar)
    {
        var reference = Reference("text");
        using var model = await TextModelLoader.LoadAsync(Files(modelName, quantized), 1, CancellationToken.None);
        var texts = reference.Keys.ToList();
        var single = texts.Select(t => model.Run([model.Tokenizer.Encode(t)])[0]).ToList();
        var cosines = texts.Select((t, i) => (double)TensorPrimitives.CosineSimilarity(single[i], reference[t])).ToList();
        output.WriteLine($"{modelName}{(quantized ? " quantized" : "")}: {texts.Count} texts, mean cosine {cosines.Average():F7}, min {cosines.Min():F7}");
        Assert.True(cosines.Average() >= bar, $"mean {cosines.Average()}");
        Assert.True(cosines.Min() >= bar - 0.005, $"min {cosines.Min()} for '{texts[cosines.IndexOf(cosines.Min())]}'");

        // Batched runs pad to the longest text (or the graph's fixed length); padding must not change any vector.
        var batched = texts.Chunk(Math.Min(model.MaxBatch, 8)).SelectMany(chunk => model.Run(chunk.Select(model.Tokenizer.Encode).ToList())).ToList();
        Assert.All(batched.Zip(single), p => Assert.True(TensorPrimitives.CosineSimilarity(p.First, p.Second) > 0.99999f));
    }

    [Theory]
    [InlineData("clip-tiny")]
    [InlineData("clip-tiny-immich")]
    public void Given_the_fixture_photos_When_embedded_by_the_vision_tower_Then_image_embeds_match_pytorch(string modelName)
    {
        var reference = Reference("images");
        var files = Files(modelName);
        var config = files.Layout == ModelLayout.Immich ? OpenClipPreprocessConfig.Load(files.PreprocessorConfigPath) : PreprocessorConfig.Load(files.PreprocessorConfigPath);
        using var model = new LoadedModel(InferenceSessionFactory.Create(files.OnnxPath, 1), new PixelTensorWriter(config), PoolingMode.Cls, modelName, "test");
        Assert.Contains(files.Layout == ModelLayout.Immich ? "#embedding@" : "#image_embeds@", model.ModelId, StringComparison.Ordinal);
        var cosines = new List<double>();
        var pixels = new float[model.Writer.Length * 2];
        foreach (var (name, expected) in reference)
        {
            var rgb = TestDecoder.Default.Decode(File.ReadAllBytes(Path.Combine(RepositoryPaths.Photos, name)));
            model.Writer.Write(rgb, pixels);
            pixels.AsSpan(0, model.Writer.Length).CopyTo(pixels.AsSpan(model.Writer.Length));

            // A batch of two also runs on Immich's graphs, whose batch is fixed at one.
            var vectors = model.RunBatch(pixels, 2);
            cosines.Add(TensorPrimitives.CosineSimilarity(vectors[0], expected));
            Assert.Equal(vectors[0], vectors[1]);
        }

        output.WriteLine($"{modelName} vision: {cosines.Count} photos, mean cosine {cosines.Average():F7}, min {cosines.Min():F7}");
        Assert.True(cosines.Average() >= 0.999, $"mean {cosines.Average()}");
    }
}
