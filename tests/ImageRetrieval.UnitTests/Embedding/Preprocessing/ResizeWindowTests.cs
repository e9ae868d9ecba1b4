using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Tests;

namespace ImageRetrieval.UnitTests.Embedding.Preprocessing;

/// <summary>
/// Computing only a window of the resized image (what survives the centre crop) must give the very
/// bytes of that window in the full resize, and decoding only the input pixels the window reads must
/// not change the tensor.
/// </summary>
public sealed class ResizeWindowTests
{
    [Fact]
    public void Given_random_sizes_filters_and_windows_Then_the_window_equals_that_part_of_the_full_resize()
    {
        var random = new Random(20261201);
        for (var trial = 0; trial < 300; trial++)
        {
            var (width, height) = (random.Next(1, 60), random.Next(1, 60));
            var (outWidth, outHeight) = (random.Next(1, 80), random.Next(1, 80));
            var filter = (ResampleFilter)random.Next(0, 6);
            var pixels = new byte[width * height * 3];
            random.NextBytes(pixels);
            var x = random.Next(0, outWidth);
            var y = random.Next(0, outHeight);
            var window = new PixelWindow(x, y, random.Next(1, outWidth - x + 1), random.Next(1, outHeight - y + 1));

            var full = PillowResampler.Resize(pixels, width, height, outWidth, outHeight, filter);
            var plan = ResizePlan.Create(width, height, outWidth, outHeight, filter, window);
            var fromRegion = plan.Execute(Crop(pixels, width, plan.Source), plan.Source);

            var expected = Crop(full, outWidth, window);
            Assert.True(expected.AsSpan().SequenceEqual(fromRegion), $"{width}x{height} -> {outWidth}x{outHeight} {filter}, window {window}, source {plan.Source}");
        }
    }

    [Fact]
    public void Given_random_sizes_and_filters_When_the_rows_are_resized_in_parts_Then_the_bytes_equal_one_whole_run()
    {
        var random = new Random(20261202);
        for (var trial = 0; trial < 200; trial++)
        {
            var (width, height) = (random.Next(1, 90), random.Next(1, 90));
            var (outWidth, outHeight) = (random.Next(1, 70), random.Next(1, 70));
            var filter = (ResampleFilter)random.Next(0, 6);
            var pixels = new byte[width * height * 3];
            random.NextBytes(pixels);
            var plan = ResizePlan.Create(width, height, outWidth, outHeight, filter, new PixelWindow(0, 0, outWidth, outHeight));
            var whole = plan.Execute(pixels, new PixelWindow(0, 0, width, height));

            // Uneven cuts, one of them possibly empty, in an order other than top to bottom.
            var cuts = new[] { 0, random.Next(0, outHeight + 1), random.Next(0, outHeight + 1), outHeight }.Order().ToArray();
            var parts = new byte[plan.OutputLength];
            foreach (var i in new[] { 2, 0, 1 })
            {
                plan.Execute(pixels, new PixelWindow(0, 0, width, height), parts, cuts[i], cuts[i + 1]);
            }

            Assert.True(whole.AsSpan().SequenceEqual(parts), $"{width}x{height} -> {outWidth}x{outHeight} {filter}, cuts {string.Join(',', cuts)}");
        }
    }

    [Theory]
    [InlineData("vit-tiny-crop")]
    [InlineData("vit-tiny")]
    public void Given_real_photos_When_the_resize_runs_on_several_threads_Then_the_tensor_is_identical(string modelName)
    {
        var writer = new PixelTensorWriter(PreprocessorConfig.Load(Path.Combine(RepositoryPaths.Model(modelName), "preprocessor_config.json")));
        foreach (var photo in Directory.GetFiles(RepositoryPaths.Photos).Where(f => f.EndsWith(".jpg", StringComparison.Ordinal)))
        {
            using var rgb = TestDecoder.Default.Decode(File.ReadAllBytes(photo), writer);
            var one = new float[writer.Length];
            var several = new float[writer.Length];
            writer.Write(rgb, one);
            writer.Write(rgb, several, parallelism: 3);
            Assert.True(one.AsSpan().SequenceEqual(several), Path.GetFileName(photo));
        }
    }

    [Theory]
    [InlineData("vit-tiny-crop")]
    [InlineData("vit-tiny")]
    public void Given_real_photos_When_only_the_needed_window_is_decoded_Then_the_tensor_is_identical(string modelName)
    {
        var writer = new PixelTensorWriter(PreprocessorConfig.Load(Path.Combine(RepositoryPaths.Model(modelName), "preprocessor_config.json")));
        var photos = Directory.GetFiles(RepositoryPaths.Photos).Concat(Directory.GetFiles(Path.Combine(RepositoryPaths.Photos, "hard")))
            .Where(f => f.EndsWith(".jpg", StringComparison.Ordinal) || f.EndsWith(".png", StringComparison.Ordinal))
            .Where(f => !f.Contains("not-an-image", StringComparison.Ordinal) && !f.Contains("truncated", StringComparison.Ordinal))
            .ToList();
        Assert.True(photos.Count >= 10);
        foreach (var photo in photos)
        {
            var bytes = File.ReadAllBytes(photo);
            var whole = TestDecoder.Default.Decode(bytes);
            var part = TestDecoder.Default.Decode(bytes, writer);
            Assert.Equal((whole.Width, whole.Height), (part.Width, part.Height));
            var expected = new float[writer.Length];
            var actual = new float[writer.Length];
            writer.Write(whole, expected);
            writer.Write(part, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), Path.GetFileName(photo));
            if (modelName == "vit-tiny-crop")
            {
                Assert.True(part.Pixels.Length < whole.Pixels.Length, $"{Path.GetFileName(photo)}: decoded {part.Region} of {whole.Width}x{whole.Height}");
            }
        }
    }

    [Theory]
    [InlineData(1, 4000)]
    [InlineData(12000, 1)]
    [InlineData(3, 100)]
    [InlineData(90, 7)]
    public void Given_a_thin_strip_When_resized_by_shortest_edge_and_cropped_Then_only_the_crop_is_computed_and_it_matches_the_full_resize(int width, int height)
    {
        var pixels = new byte[width * height * 3];
        new Random(width + height).NextBytes(pixels);
        var (w, h) = PixelTensorWriter.ShortestEdgeSize(width, height, 256);
        var window = new PixelWindow((w - 224) / 2, (h - 224) / 2, 224, 224);
        var plan = ResizePlan.Create(width, height, w, h, ResampleFilter.Bicubic, window);
        Assert.True((long)plan.Source.Width * plan.Source.Height <= 64 * 3, $"source window {plan.Source}");
        var fromRegion = plan.Execute(Crop(pixels, width, plan.Source), plan.Source);
        if ((long)w * h <= 8_000_000)
        {
            Assert.Equal(Crop(PillowResampler.Resize(pixels, width, height, w, h, ResampleFilter.Bicubic), w, window), fromRegion);
        }
        else
        {
            Assert.Equal(224 * 224 * 3, fromRegion.Length);
        }
    }

    private static byte[] Crop(byte[] pixels, int width, PixelWindow window)
    {
        var result = new byte[window.Width * window.Height * 3];
        for (var row = 0; row < window.Height; row++)
        {
            pixels.AsSpan(((window.Y + row) * width + window.X) * 3, window.Width * 3).CopyTo(result.AsSpan(row * window.Width * 3));
        }

        return result;
    }
}
