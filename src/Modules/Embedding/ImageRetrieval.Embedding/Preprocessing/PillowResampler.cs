using System.Buffers;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>
/// Resizes 8-bit RGB exactly as Pillow's <c>Image.resize</c> does (libImaging/Resample.c): separable
/// convolution whose filter support widens with the downscale factor (so it antialiases), fixed-point
/// coefficients with 22 fractional bits, horizontal pass first, rounding to 8 bits between passes.
/// Hugging Face image processors resize through Pillow, so matching it bit for bit is what makes our
/// embeddings match the reference pipeline.
/// </summary>
internal static class PillowResampler
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const int Channels = 3;

    public static byte[] Resize(ReadOnlySpan<byte> rgb, int width, int height, int outWidth, int outHeight, ResampleFilter filter)
    {
        if (outWidth == width && outHeight == height)
        {
            return rgb.ToArray();
        }

        if (filter == ResampleFilter.Nearest)
        {
            return Nearest(rgb, width, height, outWidth, outHeight);
        }

        var (support, kernel) = Filter(filter);
        var horizontal = Coefficients.Compute(width, outWidth, support, kernel);
        var vertical = Coefficients.Compute(height, outHeight, support, kernel);

        // Only the source rows the vertical pass will read need a horizontal pass.
        var firstRow = vertical.Bounds[0];
        var lastRow = vertical.Bounds[(outHeight - 1) * 2] + vertical.Bounds[(outHeight - 1) * 2 + 1];
        var needHorizontal = outWidth != width;
        var needVertical = outHeight != height;

        byte[]? rented = null;
        ReadOnlySpan<byte> source = rgb;
        var sourceWidth = width;
        var rowOffset = 0;
        try
        {
            if (needHorizontal)
            {
                var rows = lastRow - firstRow;
                rented = ArrayPool<byte>.Shared.Rent(rows * outWidth * Channels);
                var temp = rented.AsSpan(0, rows * outWidth * Channels);
                ResampleHorizontal(rgb, width, firstRow, rows, temp, outWidth, horizontal);
                source = temp;
                sourceWidth = outWidth;
                rowOffset = firstRow;
            }

            if (!needVertical)
            {
                return source.ToArray();
            }

            var output = new byte[outWidth * outHeight * Channels];
            ResampleVertical(source, sourceWidth, rowOffset, output, outHeight, vertical);
            return output;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static void ResampleHorizontal(ReadOnlySpan<byte> src, int srcWidth, int firstRow, int rows, Span<byte> dst, int outWidth, Coefficients k)
    {
        for (var y = 0; y < rows; y++)
        {
            var srcRow = src.Slice((firstRow + y) * srcWidth * Channels, srcWidth * Channels);
            var dstRow = dst.Slice(y * outWidth * Channels, outWidth * Channels);
            for (var x = 0; x < outWidth; x++)
            {
                var min = k.Bounds[x * 2];
                var count = k.Bounds[x * 2 + 1];
                var weights = k.Weights.AsSpan(x * k.Size, count);
                int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                var p = srcRow.Slice(min * Channels, count * Channels);
                for (var i = 0; i < count; i++)
                {
                    var w = weights[i];
                    s0 += p[i * 3] * w;
                    s1 += p[i * 3 + 1] * w;
                    s2 += p[i * 3 + 2] * w;
                }

                dstRow[x * 3] = Clip8(s0);
                dstRow[x * 3 + 1] = Clip8(s1);
                dstRow[x * 3 + 2] = Clip8(s2);
            }
        }
    }

    private static void ResampleVertical(ReadOnlySpan<byte> src, int width, int rowOffset, Span<byte> dst, int outHeight, Coefficients k)
    {
        var stride = width * Channels;
        for (var y = 0; y < outHeight; y++)
        {
            var min = k.Bounds[y * 2] - rowOffset;
            var count = k.Bounds[y * 2 + 1];
            var weights = k.Weights.AsSpan(y * k.Size, count);
            var dstRow = dst.Slice(y * stride, stride);
            for (var x = 0; x < stride; x++)
            {
                var sum = 1 << (PrecisionBits - 1);
                for (var i = 0; i < count; i++)
                {
                    sum += src[(min + i) * stride + x] * weights[i];
                }

                dstRow[x] = Clip8(sum);
            }
        }
    }

    private static byte Clip8(int value) =>
        value >= 255 << PrecisionBits ? (byte)255 : value <= 0 ? (byte)0 : (byte)(value >> PrecisionBits);

    private sealed class Coefficients
    {
        public required int Size { get; init; }

        /// <summary>Per output pixel: first source index and number of taps.</summary>
        public required int[] Bounds { get; init; }

        public required int[] Weights { get; init; }

        public static Coefficients Compute(int inSize, int outSize, double filterSupport, Func<double, double> filter)
        {
            var scale = (double)inSize / outSize;
            var filterScale = Math.Max(scale, 1.0);
            var support = filterSupport * filterScale;
            var size = (int)Math.Ceiling(support) * 2 + 1;
            var bounds = new int[outSize * 2];
            var weights = new int[outSize * size];
            var taps = new double[size];
            for (var xx = 0; xx < outSize; xx++)
            {
                var center = (xx + 0.5) * scale;
                var inverse = 1.0 / filterScale;
                var min = Math.Max((int)(center - support + 0.5), 0);
                var max = Math.Min((int)(center + support + 0.5), inSize) - min;
                var total = 0.0;
                for (var x = 0; x < max; x++)
                {
                    var w = filter((x + min - center + 0.5) * inverse);
                    taps[x] = w;
                    total += w;
                }

                for (var x = 0; x < max; x++)
                {
                    var normalised = total != 0.0 ? taps[x] / total : taps[x];
                    weights[xx * size + x] = normalised < 0
                        ? (int)(-0.5 + normalised * (1 << PrecisionBits))
                        : (int)(0.5 + normalised * (1 << PrecisionBits));
                }

                bounds[xx * 2] = min;
                bounds[xx * 2 + 1] = max;
            }

            return new Coefficients { Size = size, Bounds = bounds, Weights = weights };
        }
    }

    private static (double Support, Func<double, double> Kernel) Filter(ResampleFilter filter) => filter switch
    {
        ResampleFilter.Box => (0.5, x => x > -0.5 && x <= 0.5 ? 1.0 : 0.0),
        ResampleFilter.Bilinear => (1.0, x =>
        {
            x = Math.Abs(x);
            return x < 1.0 ? 1.0 - x : 0.0;
        }),
        ResampleFilter.Hamming => (1.0, x =>
        {
            x = Math.Abs(x);
            if (x == 0.0)
            {
                return 1.0;
            }

            if (x >= 1.0)
            {
                return 0.0;
            }

            x *= Math.PI;
            return Math.Sin(x) / x * (0.54 + 0.46 * Math.Cos(x));
        }),
        ResampleFilter.Bicubic => (2.0, x =>
        {
            const double a = -0.5;
            x = Math.Abs(x);
            if (x < 1.0)
            {
                return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
            }

            return x < 2.0 ? (((x - 5) * x + 8) * x - 4) * a : 0.0;
        }),
        ResampleFilter.Lanczos => (3.0, x => x >= -3.0 && x < 3.0 ? Sinc(x) * Sinc(x / 3.0) : 0.0),
        _ => throw new ArgumentOutOfRangeException(nameof(filter), filter, null),
    };

    private static double Sinc(double x)
    {
        if (x == 0.0)
        {
            return 1.0;
        }

        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    /// <summary>Pillow's nearest neighbour: the source pixel under each output pixel's centre.</summary>
    private static byte[] Nearest(ReadOnlySpan<byte> rgb, int width, int height, int outWidth, int outHeight)
    {
        var output = new byte[outWidth * outHeight * Channels];
        for (var y = 0; y < outHeight; y++)
        {
            var sy = Math.Min((int)((y + 0.5) * height / outHeight), height - 1);
            for (var x = 0; x < outWidth; x++)
            {
                var sx = Math.Min((int)((x + 0.5) * width / outWidth), width - 1);
                rgb.Slice((sy * width + sx) * Channels, Channels).CopyTo(output.AsSpan((y * outWidth + x) * Channels));
            }
        }

        return output;
    }
}
