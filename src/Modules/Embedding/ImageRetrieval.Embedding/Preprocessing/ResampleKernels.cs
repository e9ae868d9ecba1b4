using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>
/// The two passes of the Pillow-exact resample (<see cref="ResizePlan"/>) on 8-bit RGB, in a scalar
/// form and an AVX2 form that give the same bytes. Both multiply each 8-bit sample by the same 22-bit
/// integer tap and add in 32-bit integers, and integer addition does not depend on its order (even
/// when it wraps, as Pillow's C does in practice), so summing eight lanes at a time and folding them
/// at the end changes nothing; the final shift and clamp to 0..255 is Pillow's clip8. The scalar form
/// is what runs without AVX2, and the reference the vector form is tested against.
/// </summary>
internal static class ResampleKernels
{
    public const int PrecisionBits = 32 - 8 - 2;
    private const int Half = 1 << (PrecisionBits - 1);

    public static bool Vectorised => Avx2.IsSupported;

    /// <summary>
    /// The horizontal taps laid out for <see cref="HorizontalVector"/>: per output pixel, per pair of
    /// taps, eight lanes <c>w0 w0 w0 w1 w1 w1 0 0</c> that line up with eight bytes read at the pair's
    /// first pixel (<c>r0 g0 b0 r1 g1 b1 r2 g2</c>); a missing odd tap has weight 0.
    /// </summary>
    public static int[] PairWeights(ReadOnlySpan<int> count, ReadOnlySpan<int> weights, int stride, out int pairsStride)
    {
        var maxTaps = 0;
        foreach (var c in count)
        {
            maxTaps = Math.Max(maxTaps, c);
        }

        pairsStride = (maxTaps + 1) / 2;
        var expanded = new int[checked(count.Length * pairsStride * 8)];
        for (var x = 0; x < count.Length; x++)
        {
            for (var i = 0; i < count[x]; i++)
            {
                var lane = (((x * pairsStride) + (i / 2)) * 8) + (i % 2 * 3);
                expanded[lane] = expanded[lane + 1] = expanded[lane + 2] = weights[(x * stride) + i];
            }
        }

        return expanded;
    }

    /// <summary>
    /// One row of the horizontal pass, scalar: output pixel x sums <paramref name="count"/>[x] taps
    /// (<paramref name="weights"/>, <paramref name="stride"/> a pixel) from input pixel <paramref name="first"/>[x];
    /// <paramref name="row"/> starts at input pixel <paramref name="origin"/>.
    /// </summary>
    public static void HorizontalScalar(ReadOnlySpan<byte> row, int origin, ReadOnlySpan<int> first, ReadOnlySpan<int> count,
        ReadOnlySpan<int> weights, int stride, Span<byte> destination, int fromPixel = 0)
    {
        for (var x = fromPixel; x < count.Length; x++)
        {
            var taps = count[x];
            var w = weights.Slice(x * stride, taps);
            int s0 = Half, s1 = Half, s2 = Half;
            var p = row.Slice((first[x] - origin) * 3, taps * 3);
            for (var i = 0; i < taps; i++)
            {
                s0 += p[i * 3] * w[i];
                s1 += p[(i * 3) + 1] * w[i];
                s2 += p[(i * 3) + 2] * w[i];
            }

            destination[x * 3] = Clip8(s0);
            destination[(x * 3) + 1] = Clip8(s1);
            destination[(x * 3) + 2] = Clip8(s2);
        }
    }

    /// <summary>
    /// One row of the horizontal pass with AVX2. Each pair of taps reads eight bytes, two more than it
    /// uses (their weights are 0), so <paramref name="row"/> may extend past the row into the next one:
    /// output pixels whose reads would pass its end fall back to the scalar form.
    /// </summary>
    public static unsafe void HorizontalVector(ReadOnlySpan<byte> row, int origin, ReadOnlySpan<int> first, ReadOnlySpan<int> count,
        ReadOnlySpan<int> weights, int stride, ReadOnlySpan<int> pairWeights, int pairsStride, Span<byte> destination)
    {
        if (!Avx2.IsSupported)
        {
            HorizontalScalar(row, origin, first, count, weights, stride, destination);
            return;
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(count.Length * 3, destination.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(pairWeights.Length, count.Length * pairsStride * 8);
        var rounding = Vector256.Create(Half, Half, Half, 0, 0, 0, 0, 0);
        var fold = Vector256.Create(3, 4, 5, 7, 7, 7, 7, 7);
        var width = count.Length;
        fixed (byte* source = &MemoryMarshal.GetReference(row))
        fixed (int* weightsStart = &MemoryMarshal.GetReference(pairWeights))
        fixed (byte* output = &MemoryMarshal.GetReference(destination))
        {
            for (var x = 0; x < width; x++)
            {
                var pairs = (count[x] + 1) / 2;
                var start = (first[x] - origin) * 3;
                if (start < 0 || start + (pairs * 6) + 2 > row.Length)
                {
                    HorizontalScalar(row, origin, first, count, weights, stride, destination, x);
                    return;
                }

                var p = source + start;
                var w = weightsStart + (x * pairsStride * 8);
                var sum = rounding;
                for (var i = 0; i < pairs; i++)
                {
                    var pixels = Avx2.ConvertToVector256Int32(p + (i * 6));
                    sum = Avx2.Add(sum, Avx2.MultiplyLow(pixels, Avx.LoadVector256(w + (i * 8))));
                }

                // Lanes 0-2: even taps' R G B, 3-5: odd taps' (6-7 are zero): fold into 0-2.
                sum = Avx2.Add(sum, Avx2.PermuteVar8x32(sum, fold));
                var shifted = Avx2.ShiftRightArithmetic(sum, PrecisionBits).GetLower();
                var words = Sse2.PackSignedSaturate(shifted, shifted);
                var bytes = Sse2.PackUnsignedSaturate(words, words).AsUInt32().ToScalar();
                if (x + 1 < width)
                {
                    // The fourth byte lands on the next pixel's first, which is written next.
                    Unsafe.WriteUnaligned(output + (x * 3), bytes);
                }
                else
                {
                    output[x * 3] = (byte)bytes;
                    output[(x * 3) + 1] = (byte)(bytes >> 8);
                    output[(x * 3) + 2] = (byte)(bytes >> 16);
                }
            }
        }
    }

    /// <summary>
    /// One output row of the vertical pass: byte x of the row is the sum over taps i of
    /// <paramref name="rows"/>(i)[x] x <paramref name="weights"/>[i], rounded and clamped.
    /// </summary>
    public static unsafe void Vertical(ReadOnlySpan<byte> ring, ReadOnlySpan<int> rowOffsets, ReadOnlySpan<int> weights, Span<byte> destination, bool vectorised = true)
    {
        var length = destination.Length;
        var taps = weights.Length;
        ArgumentOutOfRangeException.ThrowIfNotEqual(rowOffsets.Length, taps);
        foreach (var offset in rowOffsets)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(offset + length, ring.Length);
            ArgumentOutOfRangeException.ThrowIfNegative(offset);
        }

        var x = 0;
        fixed (byte* rows = &MemoryMarshal.GetReference(ring))
        fixed (byte* output = &MemoryMarshal.GetReference(destination))
        {
            if (vectorised && Avx2.IsSupported)
            {
                var rounding = Vector256.Create(Half);
                for (; x + 32 <= length; x += 32)
                {
                    var (a, b, c, d) = (rounding, rounding, rounding, rounding);
                    for (var i = 0; i < taps; i++)
                    {
                        var w = Vector256.Create(weights[i]);
                        var p = rows + rowOffsets[i] + x;
                        a = Avx2.Add(a, Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p), w));
                        b = Avx2.Add(b, Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p + 8), w));
                        c = Avx2.Add(c, Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p + 16), w));
                        d = Avx2.Add(d, Avx2.MultiplyLow(Avx2.ConvertToVector256Int32(p + 24), w));
                    }

                    Avx.Store(output + x, PackToBytes(a, b, c, d));
                }
            }

            for (; x < length; x++)
            {
                var sum = Half;
                for (var i = 0; i < taps; i++)
                {
                    sum += rows[rowOffsets[i] + x] * weights[i];
                }

                output[x] = Clip8(sum);
            }
        }
    }

    /// <summary>Four vectors of 32-bit sums to 32 bytes, in lane order, each shifted and clamped as clip8 does.</summary>
    private static Vector256<byte> PackToBytes(Vector256<int> a, Vector256<int> b, Vector256<int> c, Vector256<int> d)
    {
        // The packs work within each 128-bit half: a|b gives a0-3 b0-3 a4-7 b4-7, and so on; the final
        // permute puts the 32-bit groups back in order.
        var ab = Avx2.PackSignedSaturate(Avx2.ShiftRightArithmetic(a, PrecisionBits), Avx2.ShiftRightArithmetic(b, PrecisionBits));
        var cd = Avx2.PackSignedSaturate(Avx2.ShiftRightArithmetic(c, PrecisionBits), Avx2.ShiftRightArithmetic(d, PrecisionBits));
        var bytes = Avx2.PackUnsignedSaturate(ab, cd);
        return Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsByte();
    }

    public static byte Clip8(int value) =>
        value >= 255 << PrecisionBits ? (byte)255 : value <= 0 ? (byte)0 : (byte)(value >> PrecisionBits);
}
