using System.Buffers;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.SharedKernel;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>
/// Turns decoded RGB into the model's <c>pixel_values</c> (channels first), following the Hugging
/// Face processor's steps in order: resize, centre crop, rescale, normalise. Only the resized pixels
/// that survive the crop are computed (<see cref="ResizePlan"/>), so the cost follows the crop size
/// and the input's size, never the size of the resized image.
/// </summary>
internal sealed class PixelTensorWriter(PreprocessorConfig config)
{
    public (int Height, int Width) OutputSize { get; } = config.OutputSize;

    public int Length => 3 * OutputSize.Height * OutputSize.Width;

    /// <summary>
    /// The pixels of a decoded grid (<paramref name="width"/> x <paramref name="height"/>, upright) that
    /// the tensor needs, for an image that is <paramref name="sourceWidth"/> x <paramref name="sourceHeight"/>
    /// in its file (larger when it was shrunk on load).
    /// </summary>
    public PixelWindow SourceWindow(int width, int height, int sourceWidth, int sourceHeight) =>
        Plan(width, height, sourceWidth, sourceHeight).Resize.Source;

    /// <summary>
    /// The largest JPEG shrink-on-load factor (8, 4, 2, else 1) that leaves the decoded image at least
    /// twice the resize target in both directions, so the antialiasing resize still averages over at
    /// least 2x2 decoded pixels per output pixel and the result stays close to resizing the full image.
    /// </summary>
    public int ShrinkFactor(int sourceWidth, int sourceHeight)
    {
        if (config.Resize == ResizeMode.None)
        {
            return 1;
        }

        var (resizedWidth, resizedHeight) = ResizedSize(sourceWidth, sourceHeight);
        foreach (var factor in (ReadOnlySpan<int>)[8, 4, 2])
        {
            // libjpeg's scaled output is ceil(size / factor).
            if ((sourceWidth + factor - 1) / factor >= 2L * resizedWidth && (sourceHeight + factor - 1) / factor >= 2L * resizedHeight)
            {
                return factor;
            }
        }

        return 1;
    }

    /// <param name="parallelism">
    /// Threads the resize may use (the calling one and thread-pool ones): a lone query's resize then takes
    /// a fraction of its time on an otherwise idle machine. The bytes are the same for any value. Bulk
    /// work passes 1: it runs on niced threads of its own and must not spill onto the thread pool.
    /// </param>
    public void Write(RgbImage image, Span<float> destination, int parallelism = 1)
    {
        var plan = Plan(image.Width, image.Height, image.SourceWidth, image.SourceHeight);

        // Pooled: the resized window is ~150 KB at 224x224, a large-object-heap allocation per image otherwise.
        var resized = ArrayPool<byte>.Shared.Rent(plan.Resize.OutputLength);
        try
        {
            var parts = Math.Min(parallelism, plan.Resize.Output.Height / MinRowsPerPart);
            if (parts > 1)
            {
                ResizeInParts(plan.Resize, image, resized, parts);
            }
            else
            {
                plan.Resize.Execute(image.Pixels, image.Region, resized);
            }

            WriteTensor(plan, resized, destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(resized);
        }
    }

    // Each part recomputes the horizontal rows its first vertical taps share with the part above; below
    // this many output rows a part costs more in that and in the hand-off than it saves.
    private const int MinRowsPerPart = 32;

    private static unsafe void ResizeInParts(ResizePlan resize, RgbImage image, byte[] output, int parts)
    {
        var pixels = image.Pixels;
        var region = image.Region;
        var rows = resize.Output.Height;
        fixed (byte* start = pixels)
        {
            // Spans cannot cross into the lambda; the pixels stay put (native, or pinned here) until every part has returned.
            var (address, length) = ((IntPtr)start, pixels.Length);
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
                resize.Execute(new ReadOnlySpan<byte>((void*)address, length), region, output, rows * part / parts, rows * (part + 1) / parts));
        }
    }

    private void WriteTensor(Layout plan, ReadOnlySpan<byte> pixels, Span<float> destination)
    {
        var window = plan.Resize.Output;
        var (outHeight, outWidth) = OutputSize;
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
            var sy = y + plan.Top - window.Y;
            for (var x = 0; x < outWidth; x++)
            {
                var sx = x + plan.Left - window.X;
                var inside = sy >= 0 && sy < window.Height && sx >= 0 && sx < window.Width;
                var index = (sy * window.Width + sx) * 3;
                for (var c = 0; c < 3; c++)
                {
                    var value = inside ? pixels[index + c] : (byte)0;
                    destination[c * plane + y * outWidth + x] = value * scale[c] + offset[c];
                }
            }
        }
    }

    /// <summary>transformers' get_resize_output_image_size with default_to_square=False: the long side is truncated, not rounded.</summary>
    internal static (int Width, int Height) ShortestEdgeSize(int width, int height, int shortest)
    {
        var (shortSide, longSide) = width <= height ? (width, height) : (height, width);
        var newLong = Math.Floor(shortest * (double)longSide / shortSide);
        if (newLong > int.MaxValue)
        {
            throw ImageRejectedException.Because(ProblemTypes.ImageTooLarge,
                $"A {width}x{height} image would be resized to a {shortest}-pixel short side and a long side of {newLong} pixels, more than can be represented.");
        }

        return width <= height ? (shortest, (int)newLong) : ((int)newLong, shortest);
    }

    private sealed record Layout(ResizePlan Resize, int Top, int Left);

    /// <summary>The resized size follows the image's size in its file, so shrinking on load does not move the crop.</summary>
    private (int Width, int Height) ResizedSize(int sourceWidth, int sourceHeight) => config.Resize switch
    {
        ResizeMode.Exact => (config.ResizeWidth, config.ResizeHeight),
        ResizeMode.ShortestEdge => ShortestEdgeSize(sourceWidth, sourceHeight, config.ShortestEdge),
        _ => (sourceWidth, sourceHeight),
    };

    private Layout Plan(int width, int height, int sourceWidth, int sourceHeight)
    {
        // Without a resize there is nothing to shrink into: the decoded grid is the source.
        var (resizedWidth, resizedHeight) = config.Resize == ResizeMode.None ? (width, height) : ResizedSize(sourceWidth, sourceHeight);

        // transformers' center_crop: top/left by floor division; areas outside the image are zero-padded.
        var (outHeight, outWidth) = OutputSize;
        var top = config.CenterCrop ? FloorHalf(resizedHeight - outHeight) : 0;
        var left = config.CenterCrop ? FloorHalf(resizedWidth - outWidth) : 0;
        var x0 = Math.Max(left, 0);
        var y0 = Math.Max(top, 0);
        var window = new PixelWindow(x0, y0, Math.Min(left + outWidth, resizedWidth) - x0, Math.Min(top + outHeight, resizedHeight) - y0);
        return new Layout(ResizePlan.Create(width, height, resizedWidth, resizedHeight, config.Resample, window), top, left);
    }

    private static int FloorHalf(int value) => (int)Math.Floor(value / 2.0);
}
