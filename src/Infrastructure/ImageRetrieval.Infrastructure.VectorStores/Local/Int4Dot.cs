using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// 4-bit codes: every dimension of a row as an unsigned level in [0, 15] (8 is the dimension's mean),
/// two to a byte, in blocks of 64 dimensions: byte <c>j</c> of a 32-byte block holds dimension
/// <c>j</c> in its low nibble and dimension <c>j + 32</c> in its high one, so one AND and one shift
/// split a block into two vectors of 32 levels in dimension order. A row is
/// <see cref="Stride"/> bytes, padded with level 8 past the last dimension; the query is an int8 vector
/// of <c>2 x Stride</c> values, zero past the last dimension.
/// </summary>
internal static class Int4Dot
{
    /// <summary>Bytes a row's codes take: 32 per started block of 64 dimensions.</summary>
    public static int Stride(int dimension) => ((dimension + 63) / 64) * 32;

    /// <summary>
    /// Σ level·query over the row. The levels are offset by 8 from the signed codes, which adds
    /// 8·Σquery to every row's sum alike, so a ranking by it is a ranking by the signed codes. On AVX2
    /// <c>vpmaddubsw</c> multiplies the unsigned levels by the signed query; a pair sum is at most
    /// 2·15·127 and never saturates.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Dot(ReadOnlySpan<byte> codes, ReadOnlySpan<sbyte> query)
    {
        ref var c = ref MemoryMarshal.GetReference(codes);
        ref var q = ref MemoryMarshal.GetReference(query);
        var length = codes.Length;
        if (Avx2.IsSupported)
        {
            var mask = Vector256.Create((byte)0x0F);
            var ones = Vector256.Create((short)1);
            var acc0 = Vector256<int>.Zero;
            var acc1 = Vector256<int>.Zero;
            var i = 0;
            for (; i + 64 <= length; i += 64)
            {
                var a = Vector256.LoadUnsafe(ref c, (nuint)i);
                var b = Vector256.LoadUnsafe(ref c, (nuint)(i + 32));
                var aLow = Avx2.MultiplyAddAdjacent(a & mask, Vector256.LoadUnsafe(ref q, (nuint)(2 * i)));
                var aHigh = Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(a.AsUInt16(), 4).AsByte() & mask, Vector256.LoadUnsafe(ref q, (nuint)((2 * i) + 32)));
                var bLow = Avx2.MultiplyAddAdjacent(b & mask, Vector256.LoadUnsafe(ref q, (nuint)((2 * i) + 64)));
                var bHigh = Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & mask, Vector256.LoadUnsafe(ref q, (nuint)((2 * i) + 96)));

                // Two pair sums (each at most 3810 in magnitude) still fit a short before widening.
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(Avx2.Add(aLow, aHigh), ones));
                acc1 = Avx2.Add(acc1, Avx2.MultiplyAddAdjacent(Avx2.Add(bLow, bHigh), ones));
            }

            if (i < length)
            {
                var a = Vector256.LoadUnsafe(ref c, (nuint)i);
                var aLow = Avx2.MultiplyAddAdjacent(a & mask, Vector256.LoadUnsafe(ref q, (nuint)(2 * i)));
                var aHigh = Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(a.AsUInt16(), 4).AsByte() & mask, Vector256.LoadUnsafe(ref q, (nuint)((2 * i) + 32)));
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(Avx2.Add(aLow, aHigh), ones));
            }

            return Vector256.Sum(Avx2.Add(acc0, acc1));
        }

        var sum = 0;
        for (var block = 0; block < length; block += 32)
        {
            for (var j = 0; j < 32; j++)
            {
                var packed = Unsafe.Add(ref c, block + j);
                sum += ((packed & 0x0F) * Unsafe.Add(ref q, (2 * block) + j)) + ((packed >> 4) * Unsafe.Add(ref q, (2 * block) + 32 + j));
            }
        }

        return sum;
    }

    /// <summary>
    /// levels = clamp(round((vector - means) x inverseSteps), -8, 7) + 8, packed as <see cref="Dot"/> reads them.
    /// Whole blocks of 32 dimensions are coded with vectors (the scalar loop was a sixth of a bulk fill,
    /// and a re-calibration codes every row again); the same float operations in the same order and
    /// round-half-to-even give the scalar loop's levels exactly.
    /// </summary>
    public static void Encode(ReadOnlySpan<float> vector, Span<byte> codes, ReadOnlySpan<float> means, ReadOnlySpan<float> inverseSteps)
    {
        var dimension = vector.Length;
        Span<byte> levels = stackalloc byte[2 * codes.Length];
        levels.Fill(8);
        var d = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var v = ref MemoryMarshal.GetReference(vector);
            ref var m = ref MemoryMarshal.GetReference(means);
            ref var s = ref MemoryMarshal.GetReference(inverseSteps);
            ref var l = ref MemoryMarshal.GetReference(levels);
            for (; d + 32 <= dimension; d += 32)
            {
                var a = Level(ref v, ref m, ref s, d);
                var b = Level(ref v, ref m, ref s, d + 8);
                var c = Level(ref v, ref m, ref s, d + 16);
                var e = Level(ref v, ref m, ref s, d + 24);
                Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, e)).AsByte().StoreUnsafe(ref l, (nuint)d);
            }
        }

        for (; d < dimension; d++)
        {
            levels[d] = (byte)((int)Math.Clamp(MathF.Round((vector[d] - means[d]) * inverseSteps[d]), -8f, 7f) + 8);
        }

        for (var block = 0; block < codes.Length; block += 32)
        {
            var low = levels.Slice(2 * block, 32);
            var high = levels.Slice((2 * block) + 32, 32);
            if (Vector256.IsHardwareAccelerated)
            {
                (Vector256.Create<byte>(low) | Vector256.ShiftLeft(Vector256.Create<byte>(high), 4)).CopyTo(codes[block..]);
                continue;
            }

            for (var j = 0; j < 32; j++)
            {
                codes[block + j] = (byte)(low[j] | (high[j] << 4));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Level(ref float vector, ref float means, ref float inverseSteps, int at)
    {
        var scaled = (Vector256.LoadUnsafe(ref vector, (nuint)at) - Vector256.LoadUnsafe(ref means, (nuint)at)) * Vector256.LoadUnsafe(ref inverseSteps, (nuint)at);
        var clamped = Vector256.Min(Vector256.Max(Vector256.Round(scaled), Vector256.Create(-8f)), Vector256.Create(7f));
        return Vector256.ConvertToInt32(clamped) + Vector256.Create(8);
    }

    /// <summary>The query laid out as <see cref="Dot"/> reads it: dimension order, zero-padded to whole blocks.</summary>
    public static sbyte[] LayOut(ReadOnlySpan<sbyte> query)
    {
        var padded = new sbyte[2 * Stride(query.Length)];
        query.CopyTo(padded);
        return padded;
    }
}
