namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>
/// Turns decoded RGB into the model's <c>pixel_values</c> (channels first), following the Hugging
/// Face processor's steps in order: resize, centre crop, rescale, normalise.
/// </summary>
internal sealed class PixelTensorWriter(PreprocessorConfig config)
{
    public (int Height, int Width) OutputSize { get; } = config.OutputSize;

    public int Length => 3 * OutputSize.Height * OutputSize.Width;

    public void Write(RgbImage image, Span<float> destination)
    {
        var (pixels, width, height) = Resize(image);
        var (outHeight, outWidth) = OutputSize;

        // transformers' center_crop: top/left by integer halving; areas outside the image are zero-padded.
        var top = config.CenterCrop ? (height - outHeight) / 2 : 0;
        var left = config.CenterCrop ? (width - outWidth) / 2 : 0;
        var plane = outHeight * outWidth;
        Span<float> scale = stackalloc float[3];
        Span<float> offset = stackalloc float[3];
        for (var c = 0; c < 3; c++)
        {
            var rescale = config.DoRescale ? config.RescaleFactor : 1f;
            var (mean, std) = config.DoNormalize ? (config.Mean[c], config.Std[c]) : (0f, 1f);
            scale[c] = rescale / std;
            offset[c] = -mean / std;
        }

        for (var y = 0; y < outHeight; y++)
        {
            var sy = y + top;
            for (var x = 0; x < outWidth; x++)
            {
                var sx = x + left;
                var inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
                var index = (sy * width + sx) * 3;
                for (var c = 0; c < 3; c++)
                {
                    var value = inside ? pixels[index + c] : (byte)0;
                    destination[c * plane + y * outWidth + x] = value * scale[c] + offset[c];
                }
            }
        }
    }

    private (byte[] Pixels, int Width, int Height) Resize(RgbImage image)
    {
        var (width, height) = config.Resize switch
        {
            ResizeMode.Exact => (config.ResizeWidth, config.ResizeHeight),
            ResizeMode.ShortestEdge => ShortestEdgeSize(image.Width, image.Height, config.ShortestEdge),
            _ => (image.Width, image.Height),
        };
        return (PillowResampler.Resize(image.Pixels, image.Width, image.Height, width, height, config.Resample), width, height);
    }

    /// <summary>transformers' get_resize_output_image_size with default_to_square=False: the long side is truncated, not rounded.</summary>
    internal static (int Width, int Height) ShortestEdgeSize(int width, int height, int shortest)
    {
        var (shortSide, longSide) = width <= height ? (width, height) : (height, width);
        var newLong = (int)(shortest * (double)longSide / shortSide);
        return width <= height ? (shortest, newLong) : (newLong, shortest);
    }
}
