using System.Text.Json;
using ImageRetrieval.Embedding.Preprocessing;

namespace ImageRetrieval.UnitTests.Embedding.Preprocessing;

public sealed class PreprocessingTests
{
    [Fact]
    public void Given_a_vit_config_Then_it_resizes_to_height_by_width_bilinear_without_crop()
    {
        var config = Parse("""{"do_resize":true,"size":{"height":224,"width":224},"resample":2,"image_mean":[0.485,0.456,0.406],"image_std":[0.229,0.224,0.225]}""");
        Assert.Equal(ResizeMode.Exact, config.Resize);
        Assert.Equal(ResampleFilter.Bilinear, config.Resample);
        Assert.False(config.CenterCrop);
        Assert.Equal((224, 224), config.OutputSize);
        Assert.Equal(1f / 255f, config.RescaleFactor);
    }

    [Fact]
    public void Given_a_dinov2_config_Then_it_resizes_the_shortest_edge_bicubic_and_centre_crops()
    {
        var config = Parse("""{"do_resize":true,"size":{"shortest_edge":256},"do_center_crop":true,"crop_size":{"height":224,"width":224},"resample":3}""");
        Assert.Equal(ResizeMode.ShortestEdge, config.Resize);
        Assert.Equal(256, config.ShortestEdge);
        Assert.Equal(ResampleFilter.Bicubic, config.Resample);
        Assert.Equal((224, 224), config.OutputSize);
        Assert.Equal([0.5f, 0.5f, 0.5f], config.Mean);
    }

    [Theory]
    [InlineData("""{"size":224}""", "Exact")]
    [InlineData("""{"size":224,"do_center_crop":true,"crop_size":224}""", "ShortestEdge")]
    public void Given_an_int_size_Then_it_is_a_square_unless_the_processor_crops(string json, string mode) =>
        Assert.Equal(mode, Parse(json).Resize.ToString());

    [Theory]
    [InlineData("""{"do_resize":true}""")]
    [InlineData("""{"size":{"shortest_edge":224}}""")]
    [InlineData("""{"size":{"height":224,"width":224},"resample":9}""")]
    [InlineData("""{"do_resize":false}""")]
    [InlineData("""{"size":224,"image_mean":[0.5,0.5]}""")]
    public void Given_an_unusable_config_Then_loading_fails_with_a_reason(string json) =>
        Assert.ThrowsAny<Exception>(() => Parse(json));

    [Theory]
    [InlineData(640, 480, 256, 341, 256)]
    [InlineData(480, 640, 256, 256, 341)]
    [InlineData(300, 300, 224, 224, 224)]
    public void Given_shortest_edge_resizing_Then_the_long_side_is_truncated_like_transformers(int w, int h, int shortest, int ew, int eh) =>
        Assert.Equal((ew, eh), PixelTensorWriter.ShortestEdgeSize(w, h, shortest));

    [Fact]
    public void Given_a_uniform_image_When_resized_with_any_filter_Then_the_colour_is_preserved_exactly()
    {
        var pixels = Enumerable.Repeat(new byte[] { 10, 128, 250 }, 97 * 61).SelectMany(p => p).ToArray();
        foreach (var filter in Enum.GetValues<ResampleFilter>())
        {
            var resized = PillowResampler.Resize(pixels, 97, 61, 40, 23, filter);
            Assert.Equal(40 * 23 * 3, resized.Length);
            Assert.All(resized.Chunk(3), p => Assert.Equal([10, 128, 250], p));
        }
    }

    [Fact]
    public void Given_known_pixels_When_writing_the_tensor_Then_values_are_rescaled_normalised_and_channels_first()
    {
        var config = Parse("""{"size":{"height":2,"width":2},"image_mean":[0.5,0.5,0.5],"image_std":[0.5,0.5,0.5]}""");
        var writer = new PixelTensorWriter(config);
        var rgb = new RgbImage([0, 255, 51, 0, 255, 51, 0, 255, 51, 0, 255, 51], 2, 2, "image/png");
        var tensor = new float[writer.Length];
        writer.Write(rgb, tensor);
        Assert.All(tensor[..4], v => Assert.Equal(-1f, v, 5));
        Assert.All(tensor[4..8], v => Assert.Equal(1f, v, 5));
        Assert.All(tensor[8..], v => Assert.Equal(-0.6f, v, 5));
    }

    [Fact]
    public void Given_a_crop_larger_than_the_image_Then_it_is_zero_padded_with_the_image_placed_like_transformers()
    {
        // transformers pads by ceil((crop - size) / 2) before cropping: a 1x1 image in a 4x4 crop lands at (2, 2), not (1, 1).
        var writer = new PixelTensorWriter(Parse("""{"do_resize":false,"do_center_crop":true,"crop_size":4,"do_rescale":false,"do_normalize":false}"""));
        var tensor = new float[writer.Length];
        writer.Write(new RgbImage([7, 8, 9], 1, 1, "image/png"), tensor);
        Assert.Equal([2 * 4 + 2], tensor[..16].Select((v, i) => (v, i)).Where(p => p.v != 0).Select(p => p.i));
        Assert.Equal(7f, tensor[10]);
        Assert.Equal(9f, tensor[32 + 10]);
    }

    private static PreprocessorConfig Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return PreprocessorConfig.Parse(document.RootElement, "test");
    }
}
