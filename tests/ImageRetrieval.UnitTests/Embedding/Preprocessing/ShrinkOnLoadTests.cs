using System.Numerics.Tensors;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Infrastructure.Onnx;
using ImageRetrieval.Tests;
using NetVips;

namespace ImageRetrieval.UnitTests.Embedding.Preprocessing;

/// <summary>
/// JPEG shrink-on-load: how far it shrinks, that it reports the file's own size, and that on
/// camera-sized photos (where it actually shrinks) the embedding stays next to the exact path's.
/// </summary>
public sealed class ShrinkOnLoadTests
{
    [Theory]
    [InlineData("vit-tiny", 447, 2000, 1)]
    [InlineData("vit-tiny", 896, 896, 2)]
    [InlineData("vit-tiny", 897, 894, 1)]
    [InlineData("vit-tiny", 1792, 1792, 4)]
    [InlineData("vit-tiny", 4000, 3000, 4)]
    [InlineData("vit-tiny", 3584, 3584, 8)]
    [InlineData("vit-tiny-crop", 1024, 1024, 2)]
    [InlineData("vit-tiny-crop", 1021, 4000, 1)]
    [InlineData("vit-tiny-crop", 4000, 2048, 4)]
    public void Given_a_source_size_Then_the_shrink_keeps_at_least_twice_the_resize_target(string model, int width, int height, int expected)
    {
        // vit-tiny resizes to 224x224; vit-tiny-crop to a 256 shortest edge before its crop.
        Assert.Equal(expected, Writer(model).ShrinkFactor(width, height));
    }

    [Fact]
    public void Given_a_large_JPEG_When_shrunk_on_load_Then_it_decodes_fewer_pixels_and_reports_the_files_own_size()
    {
        var writer = Writer("vit-tiny");
        var jpeg = Upscaled(Path.Combine(RepositoryPaths.Photos, "opencv-aero1.jpg"), 1000, 900);
        using var exact = TestDecoder.Default.Decode(jpeg, writer, shrinkOnLoad: false);
        using var shrunk = TestDecoder.Default.Decode(jpeg, writer, shrinkOnLoad: true);
        Assert.Equal((1000, 900, 1000, 900), (exact.Width, exact.Height, exact.SourceWidth, exact.SourceHeight));
        Assert.Equal((500, 450, 1000, 900), (shrunk.Width, shrunk.Height, shrunk.SourceWidth, shrunk.SourceHeight));
        Assert.Equal(500 * 450 * 3, shrunk.Pixels.Length);
    }

    [Fact]
    public void Given_a_PNG_When_shrink_on_load_is_asked_Then_every_pixel_is_decoded()
    {
        var writer = Writer("vit-tiny");
        using var source = Image.NewFromFile(Path.Combine(RepositoryPaths.Photos, "opencv-aero1.jpg"));
        using var large = source.Resize(1000.0 / source.Width, vscale: 900.0 / source.Height);
        using var rgb = TestDecoder.Default.Decode(large.PngsaveBuffer(), writer, shrinkOnLoad: true);
        Assert.Equal((1000, 900), (rgb.Width, rgb.Height));
    }

    [Theory]
    [InlineData("vit-tiny")]
    [InlineData("vit-tiny-crop")]
    public void Given_camera_sized_copies_of_the_photos_When_shrunk_on_load_Then_the_embedding_stays_within_0_995_of_the_exact_path(string modelName)
    {
        var files = ModelFiles.FromDirectory(RepositoryPaths.Model(modelName), modelName, quantized: false);
        using var model = new LoadedModel(InferenceSessionFactory.Create(files.OnnxPath, 1),
            new PixelTensorWriter(PreprocessorConfig.Load(files.PreprocessorConfigPath)), PoolingMode.Cls, modelName, "test");
        var cosines = new List<double>();
        var shrunkCount = 0;
        foreach (var photo in Directory.GetFiles(RepositoryPaths.Photos, "*.jpg").Order(StringComparer.Ordinal))
        {
            // 4-10x the fixture's size: 1.2-2 MP, what a phone or camera upload is after a first resize.
            using var probe = Image.NewFromFile(photo);
            var scale = Math.Sqrt(1.6e6 / ((double)probe.Width * probe.Height));
            var jpeg = Upscaled(photo, (int)(probe.Width * scale), (int)(probe.Height * scale));
            var exact = Embed(model, jpeg, shrink: false, out _);
            var shrunk = Embed(model, jpeg, shrink: true, out var wasShrunk);
            shrunkCount += wasShrunk ? 1 : 0;
            cosines.Add(TensorPrimitives.CosineSimilarity(exact, shrunk));
        }

        Assert.True(shrunkCount >= cosines.Count / 2, $"only {shrunkCount} of {cosines.Count} were shrunk");
        Assert.True(cosines.Min() >= 0.995, $"min {cosines.Min()}");
        Assert.True(cosines.Average() >= 0.999, $"mean {cosines.Average()}");
    }

    private static float[] Embed(LoadedModel model, byte[] jpeg, bool shrink, out bool wasShrunk)
    {
        using var rgb = TestDecoder.Default.Decode(jpeg, model.Writer, shrink);
        wasShrunk = rgb.Width < rgb.SourceWidth;
        var pixels = new float[model.Writer.Length];
        model.Writer.Write(rgb, pixels);
        return model.RunBatch(pixels, 1)[0];
    }

    private static byte[] Upscaled(string path, int width, int height)
    {
        using var source = Image.NewFromFile(path);
        using var resized = source.Resize((double)width / source.Width, vscale: (double)height / source.Height, kernel: Enums.Kernel.Lanczos3);
        return resized.JpegsaveBuffer(q: 90);
    }

    private static PixelTensorWriter Writer(string model) =>
        new(PreprocessorConfig.Load(Path.Combine(RepositoryPaths.Model(model), "preprocessor_config.json")));
}
