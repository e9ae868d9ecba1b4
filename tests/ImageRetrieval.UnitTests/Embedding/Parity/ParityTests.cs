using System.Numerics.Tensors;
using System.Text.Json;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Infrastructure.Onnx;
using ImageRetrieval.Tests;

namespace ImageRetrieval.UnitTests.Embedding.Parity;

/// <summary>
/// Our decode + preprocess + ONNX Runtime path against references that scripts/parity/make_reference.py
/// computed with Pillow and PyTorch (the Hugging Face image processor's steps) on the same photos.
/// </summary>
public sealed class ParityTests
{
    // The pooling by name: PoolingMode is internal to the Embedding module, and a theory's parameters are public.
    public static TheoryData<string, string, string> Cases => new()
    {
        { "vit-tiny", "vit-tiny", nameof(PoolingMode.Cls) },
        { "vit-tiny", "vit-tiny", nameof(PoolingMode.Mean) },
        { "vit-tiny-crop", "vit-tiny-crop", nameof(PoolingMode.Cls) },
        { "vit-tiny-crop", "vit-tiny-crop", nameof(PoolingMode.Pooler) },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Given_the_shared_photos_When_embedded_Then_cosine_to_the_reference_is_at_least_0_999_on_average_and_0_995_each(string model, string reference, string pooling)
    {
        var cosines = Compare(model, reference, Enum.Parse<PoolingMode>(pooling), RepositoryPaths.OriginalPhotos);
        Assert.Equal(29, cosines.Count);
        Assert.True(cosines.Values.Min() >= 0.995, $"min {cosines.MinBy(c => c.Value)}");
        Assert.True(cosines.Values.Average() >= 0.999, $"mean {cosines.Values.Average()}");
    }

    [Theory]
    [InlineData("vit-tiny")]
    [InlineData("vit-tiny-crop")]
    public void Given_the_shared_photos_When_JPEGs_are_shrunk_on_load_as_by_default_Then_cosine_to_the_reference_still_is_at_least_0_999_on_average_and_0_995_each(string model)
    {
        // The rule for the default: shrink-on-load stays on only while this holds.
        Assert.True(new EmbeddingOptions().ShrinkOnLoad);
        var cosines = Compare(model, model, PoolingMode.Cls, RepositoryPaths.OriginalPhotos, shrinkOnLoad: true, shrunk: out var shrunk);
        Assert.Equal(29, cosines.Count);
        Assert.NotEmpty(shrunk);
        Assert.True(cosines.Values.Min() >= 0.995, $"min {cosines.MinBy(c => c.Value)}");
        Assert.True(cosines.Values.Average() >= 0.999, $"mean {cosines.Values.Average()}");
    }

    [Fact]
    public void Given_grayscale_palette_alpha_and_exif_rotated_images_When_embedded_Then_they_match_the_reference()
    {
        var cosines = Compare("vit-tiny", "vit-tiny-hard", PoolingMode.Cls, Path.Combine(RepositoryPaths.Fixtures, "photos", "hard"));
        // CMYK is excluded: Pillow converts CMYK naively, libvips through a colour profile; both are defensible.
        cosines.Remove("cmyk.jpg");
        Assert.Equal(["exif-rotated.jpg", "grayscale.jpg", "palette.png", "rgba.png"], cosines.Keys.Order(StringComparer.Ordinal));
        Assert.All(cosines, c => Assert.True(c.Value >= 0.999, $"{c.Key}: {c.Value}"));
    }

    private static Dictionary<string, double> Compare(string modelName, string referenceName, PoolingMode pooling, string photos) =>
        Compare(modelName, referenceName, pooling, photos, shrinkOnLoad: false, out _);

    private static Dictionary<string, double> Compare(string modelName, string referenceName, PoolingMode pooling, string photos, bool shrinkOnLoad, out List<string> shrunk)
    {
        shrunk = [];
        using var reference = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepositoryPaths.Fixtures, "parity", referenceName + ".json")));
        var key = pooling.ToString().ToLowerInvariant();
        var files = ModelFiles.FromDirectory(RepositoryPaths.Model(modelName), modelName, quantized: false);
        using var model = new LoadedModel(InferenceSessionFactory.Create(files.OnnxPath, 1),
            new PixelTensorWriter(PreprocessorConfig.Load(files.PreprocessorConfigPath)), pooling, modelName, "test");
        var cosines = new Dictionary<string, double>();
        foreach (var entry in reference.RootElement.GetProperty("pooling").GetProperty(key).EnumerateObject())
        {
            using var rgb = TestDecoder.Default.Decode(File.ReadAllBytes(Path.Combine(photos, entry.Name)), model.Writer, shrinkOnLoad);
            if (rgb.Width < rgb.SourceWidth)
            {
                shrunk.Add(entry.Name);
            }

            var pixels = new float[model.Writer.Length];
            model.Writer.Write(rgb, pixels);
            var vector = model.RunBatch(pixels, 1)[0];
            var expected = entry.Value.EnumerateArray().Select(v => v.GetSingle()).ToArray();
            cosines[entry.Name] = TensorPrimitives.CosineSimilarity(vector, expected);
        }

        return cosines;
    }
}
