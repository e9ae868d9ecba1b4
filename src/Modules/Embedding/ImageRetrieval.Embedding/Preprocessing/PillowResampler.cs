using System.Buffers;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>A rectangle of an image in pixels.</summary>
internal readonly record struct PixelWindow(int X, int Y, int Width, int Height)
{
    public int Right => X + Width;

    public int Bottom => Y + Height;

    public bool Contains(PixelWindow other) =>
        other.X >= X && other.Y >= Y && other.Right <= Right && other.Bottom <= Bottom;

    public override string ToString() => $"{Width}x{Height}+{X}+{Y}";
}

/// <summary>
/// Resizes 8-bit RGB exactly as Pillow's <c>Image.resize</c> does (libImaging/Resample.c): separable
/// convolution whose filter support widens with the downscale factor (so it antialiases), fixed-point
/// coefficients with 22 fractional bits, horizontal pass first, rounding to 8 bits between passes.
/// Hugging Face image processors resize through Pillow, so matching it bit for bit is what makes our
/// embeddings match the reference pipeline.
/// </summary>
internal static class PillowResampler
{
    /// <summary>The whole resized image; what Pillow returns.</summary>
    public static byte[] Resize(ReadOnlySpan<byte> rgb, int width, int height, int outWidth, int outHeight, ResampleFilter filter)
    {
        var plan = ResizePlan.Create(width, height, outWidth, outHeight, filter, new PixelWindow(0, 0, outWidth, outHeight));
        return plan.Execute(rgb, new PixelWindow(0, 0, width, height));
    }
}

/// <summary>
/// How to compute one window of a resized image, and which input pixels that takes. Each output pixel
/// of a separable resample depends only on its own coordinate, so computing a sub-rectangle gives
/// exactly the pixels Pillow would have there: the horizontal pass runs only for the output columns
/// in the window and the input rows the window's vertical taps read, the vertical pass only for the
/// window's rows. A centre crop therefore costs its own size, not the size of the resized image
/// (1x4000 resized to a 256 shortest edge would be 256x1024000 otherwise).
/// </summary>
internal sealed class ResizePlan
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const int Channels = 3;

    private readonly ResampleFilter filter;
    private readonly int inWidth;
    private readonly int inHeight;
    private readonly int outWidth;
    private readonly int outHeight;

    /// <summary>Null when that pass is skipped (same size), as Pillow skips it.</summary>
    private readonly Coefficients? horizontal;
    private readonly Coefficients? vertical;

    private ResizePlan(ResampleFilter filter, int inWidth, int inHeight, int outWidth, int outHeight, PixelWindow output,
        Coefficients? horizontal, Coefficients? vertical, PixelWindow source)
    {
        this.filter = filter;
        this.inWidth = inWidth;
        this.inHeight = inHeight;
        this.outWidth = outWidth;
        this.outHeight = outHeight;
        this.horizontal = horizontal;
        this.vertical = vertical;
        Output = output;
        Source = source;
    }

    /// <summary>The part of the resized image this plan computes.</summary>
    public PixelWindow Output { get; }

    /// <summary>The input pixels the output window depends on.</summary>
    public PixelWindow Source { get; }

    public static ResizePlan Create(int inWidth, int inHeight, int outWidth, int outHeight, ResampleFilter filter, PixelWindow output)
    {
        if (inWidth <= 0 || inHeight <= 0 || outWidth <= 0 || outHeight <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(inWidth), $"Sizes must be positive: {inWidth}x{inHeight} to {outWidth}x{outHeight}.");
        }

        if (output.Width <= 0 || output.Height <= 0 || !new PixelWindow(0, 0, outWidth, outHeight).Contains(output))
        {
            throw new ArgumentOutOfRangeException(nameof(output), $"Window {output} is not inside {outWidth}x{outHeight}.");
        }

        if (filter == ResampleFilter.Nearest)
        {
            var x0 = NearestSource(output.X, inWidth, outWidth);
            var y0 = NearestSource(output.Y, inHeight, outHeight);
            var source = new PixelWindow(x0, y0,
                NearestSource(output.Right - 1, inWidth, outWidth) - x0 + 1,
                NearestSource(output.Bottom - 1, inHeight, outHeight) - y0 + 1);
            return new ResizePlan(filter, inWidth, inHeight, outWidth, outHeight, output, null, null, source);
        }

        var (support, kernel) = Filter(filter);
        var h = outWidth == inWidth ? null : Coefficients.Compute(inWidth, outWidth, output.X, output.Width, support, kernel);
        h?.PrepareVector();
        var v = outHeight == inHeight ? null : Coefficients.Compute(inHeight, outHeight, output.Y, output.Height, support, kernel);
        var (left, right) = h?.Span ?? (output.X, output.Right);
        var (top, bottom) = v?.Span ?? (output.Y, output.Bottom);
        return new ResizePlan(filter, inWidth, inHeight, outWidth, outHeight, output, h, v, new PixelWindow(left, top, right - left, bottom - top));
    }

    /// <summary>Bytes of RGB that <see cref="Output"/> takes.</summary>
    public int OutputLength => checked(Output.Width * Output.Height * Channels);

    /// <summary>Computes <see cref="Output"/> from <paramref name="rgb"/>, which holds the input's <paramref name="region"/> (it must contain <see cref="Source"/>).</summary>
    public byte[] Execute(ReadOnlySpan<byte> rgb, PixelWindow region)
    {
        var output = new byte[OutputLength];
        Execute(rgb, region, output);
        return output;
    }

    /// <summary>As <see cref="Execute(ReadOnlySpan{byte}, PixelWindow)"/>, into the first <see cref="OutputLength"/> bytes of <paramref name="output"/> (e.g. a pooled buffer).</summary>
    public void Execute(ReadOnlySpan<byte> rgb, PixelWindow region, Span<byte> output) => Execute(rgb, region, output, 0, Output.Height);

    /// <summary>
    /// Output rows [<paramref name="firstRow"/>, <paramref name="endRow"/>) only, into their place in
    /// <paramref name="output"/>: disjoint row ranges can run on different threads, each computing the
    /// horizontal rows its vertical taps read (the few a boundary shares are computed on both sides), and
    /// together give exactly the bytes of one whole run.
    /// </summary>
    public void Execute(ReadOnlySpan<byte> rgb, PixelWindow region, Span<byte> output, int firstRow, int endRow)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(endRow, Output.Height);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(firstRow, endRow);
        if (!region.Contains(Source) || rgb.Length < (long)region.Width * region.Height * Channels)
        {
            throw new ArgumentException($"The pixels cover {region}; the plan needs {Source}.", nameof(rgb));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(output.Length, OutputLength, nameof(output));
        if (filter == ResampleFilter.Nearest)
        {
            Nearest(rgb, region, output, firstRow, endRow);
            return;
        }

        // Horizontal rows are made on demand into a ring as tall as the widest vertical support: the
        // vertical taps move down monotonically, so a row is never needed again once passed.
        var rowBytes = Output.Width * Channels;
        var ringRows = vertical?.MaxTaps ?? 1;
        var ring = ArrayPool<byte>.Shared.Rent(checked(ringRows * rowBytes));
        var offsets = ArrayPool<int>.Shared.Rent(ringRows);
        try
        {
            var nextRow = int.MinValue;
            for (var j = firstRow; j < endRow; j++)
            {
                var (first, taps) = vertical is null ? (Output.Y + j, 1) : (vertical.First[j], vertical.Count[j]);
                for (var row = Math.Max(nextRow, first); row < first + taps; row++)
                {
                    HorizontalRow(rgb, region, row, ring.AsSpan(row % ringRows * rowBytes, rowBytes));
                }

                nextRow = Math.Max(nextRow, first + taps);
                var destination = output.Slice(j * rowBytes, rowBytes);
                if (vertical is null)
                {
                    ring.AsSpan(first % ringRows * rowBytes, rowBytes).CopyTo(destination);
                    continue;
                }

                for (var i = 0; i < taps; i++)
                {
                    offsets[i] = (first + i) % ringRows * rowBytes;
                }

                ResampleKernels.Vertical(ring.AsSpan(0, ringRows * rowBytes), offsets.AsSpan(0, taps), vertical.WeightsOf(j), destination);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(ring);
            ArrayPool<int>.Shared.Return(offsets);
        }
    }

    /// <summary>One input row through the horizontal pass, for the window's columns only.</summary>
    private void HorizontalRow(ReadOnlySpan<byte> rgb, PixelWindow region, int row, Span<byte> destination)
    {
        var rowStart = (row - region.Y) * region.Width * Channels;
        if (horizontal is null)
        {
            rgb.Slice(rowStart + ((Output.X - region.X) * Channels), Output.Width * Channels).CopyTo(destination);
            return;
        }

        // The vector form may read a few bytes past this row (into the next one, with weight 0), so it
        // is given the rest of the buffer; the scalar form reads only the row.
        if (horizontal.Pairs is { } pairs)
        {
            ResampleKernels.HorizontalVector(rgb[rowStart..], region.X, horizontal.First, horizontal.Count, horizontal.Weights, horizontal.Stride,
                pairs, horizontal.PairsStride, destination);
        }
        else
        {
            ResampleKernels.HorizontalScalar(rgb.Slice(rowStart, region.Width * Channels), region.X, horizontal.First, horizontal.Count,
                horizontal.Weights, horizontal.Stride, destination);
        }
    }

    /// <summary>Pillow's nearest neighbour: the source pixel under each output pixel's centre.</summary>
    private void Nearest(ReadOnlySpan<byte> rgb, PixelWindow region, Span<byte> output, int firstRow, int endRow)
    {
        for (var j = firstRow; j < endRow; j++)
        {
            var sy = NearestSource(Output.Y + j, inHeight, outHeight) - region.Y;
            for (var i = 0; i < Output.Width; i++)
            {
                var sx = NearestSource(Output.X + i, inWidth, outWidth) - region.X;
                rgb.Slice((sy * region.Width + sx) * Channels, Channels).CopyTo(output.Slice(((j * Output.Width) + i) * Channels));
            }
        }
    }

    private static int NearestSource(int index, int inSize, int outSize) => Math.Min((int)((index + 0.5) * inSize / outSize), inSize - 1);

    /// <summary>Pillow's precompute_coeffs for the output indices [first, first + count) only.</summary>
    private sealed class Coefficients
    {
        private int[] weights = [];

        private int size;

        /// <summary>Per output index in the window: first input index and number of taps.</summary>
        public int[] First { get; private init; } = [];

        public int[] Count { get; private init; } = [];

        /// <summary>Taps of output index i at [i * Stride, i * Stride + Count[i]).</summary>
        public ReadOnlySpan<int> Weights => weights;

        public int Stride => size;

        /// <summary>The taps in the layout of <see cref="ResampleKernels.HorizontalVector"/>, when that runs here.</summary>
        public int[]? Pairs { get; private set; }

        public int PairsStride { get; private set; }

        public int MaxTaps => Count.Max();

        /// <summary>Input indices [start, end) the window reads.</summary>
        public (int Start, int End) Span => (First[0], First[^1] + Count[^1]);

        public ReadOnlySpan<int> WeightsOf(int index) => weights.AsSpan(index * size, Count[index]);

        /// <summary>Lays the taps out for the vector horizontal pass, if this CPU has it.</summary>
        public void PrepareVector()
        {
            if (ResampleKernels.Vectorised)
            {
                Pairs = ResampleKernels.PairWeights(Count, weights, size, out var stride);
                PairsStride = stride;
            }
        }

        public static Coefficients Compute(int inSize, int outSize, int first, int count, double filterSupport, Func<double, double> filter)
        {
            var scale = (double)inSize / outSize;
            var filterScale = Math.Max(scale, 1.0);
            var support = filterSupport * filterScale;
            var size = checked((int)Math.Ceiling(support) * 2 + 1);
            var result = new Coefficients { First = new int[count], Count = new int[count] };
            result.size = size;
            result.weights = new int[checked(count * size)];
            var taps = new double[size];
            for (var i = 0; i < count; i++)
            {
                var xx = first + i;
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
                    result.weights[i * size + x] = normalised < 0
                        ? (int)(-0.5 + normalised * (1 << PrecisionBits))
                        : (int)(0.5 + normalised * (1 << PrecisionBits));
                }

                result.First[i] = min;
                result.Count[i] = max;
            }

            return result;
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
}
