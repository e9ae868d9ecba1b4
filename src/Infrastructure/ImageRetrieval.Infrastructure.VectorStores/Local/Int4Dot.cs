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
    /// </summary>
    public static void Encode(ReadOnlySpan<float> vector, Span<byte> codes, ReadOnlySpan<float> means, ReadOnlySpan<float> inverseSteps)
    {
        var dimension = vector.Length;
        codes.Fill(0x88);
        for (var d = 0; d < dimension; d++)
        {
            var level = (int)Math.Clamp(MathF.Round((vector[d] - means[d]) * inverseSteps[d]), -8f, 7f) + 8;
            var block = d >> 6;
            var within = d & 63;
            var at = (block * 32) + (within & 31);
            codes[at] = within < 32
                ? (byte)((codes[at] & 0xF0) | level)
                : (byte)((codes[at] & 0x0F) | (level << 4));
        }
    }

    /// <summary>The query laid out as <see cref="Dot"/> reads it: dimension order, zero-padded to whole blocks.</summary>
    public static sbyte[] LayOut(ReadOnlySpan<sbyte> query)
    {
        var padded = new sbyte[2 * Stride(query.Length)];
        query.CopyTo(padded);
        return padded;
    }
}
