using ImageRetrieval.Embedding.Preprocessing;

namespace ImageRetrieval.UnitTests.Embedding.Preprocessing;

/// <summary>
/// The vector passes of the Pillow-exact resample against the scalar ones (which PixelExactnessTests
/// pin to Pillow's bytes on real photos): random samples, random taps of either sign and any count,
/// and rows that end at the very end of the buffer, where the vector form must not read past it.
/// </summary>
public sealed class ResampleKernelTests
{
    [Fact]
    public void Given_random_rows_and_taps_Then_the_vector_horizontal_pass_equals_the_scalar_one()
    {
        var random = new Random(20261203);
        for (var trial = 0; trial < 500; trial++)
        {
            var inWidth = random.Next(1, 120);
            var outWidth = random.Next(1, 60);
            var stride = random.Next(1, 40);
            var origin = random.Next(0, 5);
            var first = new int[outWidth];
            var count = new int[outWidth];
            var weights = new int[outWidth * stride];
            for (var x = 0; x < outWidth; x++)
            {
                count[x] = random.Next(1, Math.Min(stride, inWidth) + 1);
                first[x] = origin + random.Next(0, inWidth - count[x] + 1);
                for (var i = 0; i < count[x]; i++)
                {
                    // Around the 22-bit scale of real taps, negative ones included (bicubic, Lanczos), and
                    // now and then large enough to saturate either way.
                    weights[(x * stride) + i] = random.Next(-(1 << 21), 1 << 23);
                }
            }

            // The row is the last one of its buffer half the time: nothing after it may be read.
            var rows = random.Next(1, 4);
            var last = random.Next(2) == 0;
            var buffer = new byte[inWidth * 3 * rows];
            random.NextBytes(buffer);
            var rowStart = last ? (rows - 1) * inWidth * 3 : 0;
            var row = buffer.AsSpan(rowStart);

            var expected = new byte[outWidth * 3];
            var actual = new byte[outWidth * 3];
            ResampleKernels.HorizontalScalar(row[..(inWidth * 3)], origin, first, count, weights, stride, expected);
            var pairs = ResampleKernels.PairWeights(count, weights, stride, out var pairsStride);
            ResampleKernels.HorizontalVector(row, origin, first, count, weights, stride, pairs, pairsStride, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"trial {trial}: {inWidth} -> {outWidth}, stride {stride}, last row {last}");
        }
    }

    [Fact]
    public void Given_random_rows_and_taps_Then_the_vector_vertical_pass_equals_the_scalar_one()
    {
        var random = new Random(20261204);
        for (var trial = 0; trial < 500; trial++)
        {
            var rowBytes = random.Next(1, 200);
            var ringRows = random.Next(1, 12);
            var taps = random.Next(1, ringRows + 1);
            var ring = new byte[ringRows * rowBytes];
            random.NextBytes(ring);
            var offsets = Enumerable.Range(0, taps).Select(_ => random.Next(0, ringRows) * rowBytes).ToArray();
            var weights = Enumerable.Range(0, taps).Select(_ => random.Next(-(1 << 21), 1 << 23)).ToArray();

            var expected = new byte[rowBytes];
            var actual = new byte[rowBytes];
            ResampleKernels.Vertical(ring, offsets, weights, expected, vectorised: false);
            ResampleKernels.Vertical(ring, offsets, weights, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"trial {trial}: {rowBytes} bytes, {taps} taps");
        }
    }

    [Fact]
    public void Given_a_horizontal_row_that_would_read_past_the_buffer_Then_it_is_finished_by_the_scalar_pass_with_the_same_bytes()
    {
        // One row of 5 pixels, the last output pixel reads taps 3-4 (a pair needs 8 bytes from pixel 3,
        // i.e. 2 past the end).
        var row = new byte[] { 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150 };
        var first = new[] { 0, 3 };
        var count = new[] { 2, 2 };
        var weights = new[] { 1 << 21, 1 << 21, 1 << 22, 0 };
        var pairs = ResampleKernels.PairWeights(count, weights, 2, out var pairsStride);
        var actual = new byte[6];
        ResampleKernels.HorizontalVector(row, 0, first, count, weights, 2, pairs, pairsStride, actual);
        Assert.Equal(new byte[] { 25, 35, 45, 100, 110, 120 }, actual);
    }
}
