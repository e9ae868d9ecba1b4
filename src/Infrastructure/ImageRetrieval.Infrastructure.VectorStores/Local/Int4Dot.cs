using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// 4-bit codes: every dimension of a row as an unsigned level in [0, 15] (8 is the dimension's mean).
/// <para>
/// Packed (the vector file's layout, kind 2): two to a byte, in blocks of 64 dimensions: byte <c>j</c>
/// of a 32-byte block holds dimension <c>j</c> in its low nibble and dimension <c>j + 32</c> in its high
/// one, so one AND and one shift split a block into two vectors of 32 levels in dimension order. A row
/// is <see cref="Stride"/> bytes, padded with level 8 past the last dimension; the query is an int8
/// vector of <c>2 x Stride</c> values, zero past the last dimension.
/// </para>
/// <para>
/// Planes (memory): a level is <c>4 x high + low</c> with two 2-bit halves, and a row is two planes of
/// <see cref="PlaneStride"/> bytes, the high halves in one and the low halves in the other, so a first
/// pass that ranks by the high halves alone reads half the bytes (the scan is bound by memory
/// bandwidth). Byte <c>j</c> of a plane's 32-byte group <c>g</c> holds four dimensions of
/// <c>128 g + j + {0, 64, 32, 96}</c> in bits 0-1, 2-3, 4-5 and 6-7: the order that turns two packed
/// blocks into a plane group with a shift, two ANDs and an OR. The query for <see cref="PlaneDot"/> is
/// in dimension order, zero past the last dimension, <c>4 x PlaneStride</c> values.
/// </para>
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

    /// <summary>Bytes one plane of a row takes: 32 per started group of 128 dimensions.</summary>
    public static int PlaneStride(int dimension) => ((dimension + 127) / 128) * 32;

    /// <summary>The query laid out as <see cref="PlaneDot"/> reads it: dimension order, zero-padded to whole groups.</summary>
    public static sbyte[] LayOutForPlanes(ReadOnlySpan<sbyte> query)
    {
        var padded = new sbyte[4 * PlaneStride(query.Length)];
        query.CopyTo(padded);
        return padded;
    }

    /// <summary>
    /// Σ half·query over one plane of a row (2-bit halves in [0, 3]). A row's 4-bit sum is
    /// <c>4 x PlaneDot(high) + PlaneDot(low)</c>, which is <see cref="Dot"/> of its packed codes. On AVX2
    /// <c>vpmaddubsw</c> pair sums are at most 2·3·127, and four of them still fit a short before
    /// <c>vpmaddwd</c> widens them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int PlaneDot(ReadOnlySpan<byte> plane, ReadOnlySpan<sbyte> query)
    {
        ref var c = ref MemoryMarshal.GetReference(plane);
        ref var q = ref MemoryMarshal.GetReference(query);
        var length = plane.Length;
        if (Avx2.IsSupported)
        {
            var mask = Vector256.Create((byte)0x03);
            var ones = Vector256.Create((short)1);
            var acc0 = Vector256<int>.Zero;
            var acc1 = Vector256<int>.Zero;
            var i = 0;
            for (; i + 64 <= length; i += 64)
            {
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(Group(Vector256.LoadUnsafe(ref c, (nuint)i), ref q, 4 * i, mask), ones));
                acc1 = Avx2.Add(acc1, Avx2.MultiplyAddAdjacent(Group(Vector256.LoadUnsafe(ref c, (nuint)(i + 32)), ref q, (4 * i) + 128, mask), ones));
            }

            if (i < length)
            {
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(Group(Vector256.LoadUnsafe(ref c, (nuint)i), ref q, 4 * i, mask), ones));
            }

            return Vector256.Sum(Avx2.Add(acc0, acc1));
        }

        var sum = 0;
        for (var group = 0; group < length; group += 32)
        {
            var at = 4 * group;
            for (var j = 0; j < 32; j++)
            {
                var packed = Unsafe.Add(ref c, group + j);
                sum += ((packed & 3) * Unsafe.Add(ref q, at + j))
                    + (((packed >> 2) & 3) * Unsafe.Add(ref q, at + 64 + j))
                    + (((packed >> 4) & 3) * Unsafe.Add(ref q, at + 32 + j))
                    + ((packed >> 6) * Unsafe.Add(ref q, at + 96 + j));
            }
        }

        return sum;
    }

    /// <summary>The 16-bit pair sums of one 32-byte plane group (128 dimensions) against the query from <paramref name="at"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Group(Vector256<byte> group, ref sbyte q, int at, Vector256<byte> mask)
    {
        var words = group.AsUInt16();
        var a = Avx2.MultiplyAddAdjacent(group & mask, Vector256.LoadUnsafe(ref q, (nuint)at));
        var b = Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(words, 2).AsByte() & mask, Vector256.LoadUnsafe(ref q, (nuint)(at + 64)));
        var d = Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(words, 4).AsByte() & mask, Vector256.LoadUnsafe(ref q, (nuint)(at + 32)));
        var e = Avx2.MultiplyAddAdjacent(Avx2.ShiftRightLogical(words, 6).AsByte() & mask, Vector256.LoadUnsafe(ref q, (nuint)(at + 96)));
        return Avx2.Add(Avx2.Add(a, b), Avx2.Add(d, e));
    }

    /// <summary>
    /// Splits the packed codes of <paramref name="rows"/> rows (<see cref="Stride"/> bytes each) into the
    /// high and low planes (<see cref="PlaneStride"/> bytes a row each). Packed block pair (A, B) holds
    /// per byte <c>A = l0 | h0&lt;&lt;2 | l1&lt;&lt;4 | h1&lt;&lt;6</c> for dimensions j, j+32 and B the same
    /// for j+64, j+96; the planes want <c>h0 | h2&lt;&lt;2 | h1&lt;&lt;4 | h3&lt;&lt;6</c>. An odd last block
    /// pairs with padding level 8. When a row has an even number of blocks, rows are whole groups and
    /// one flat loop converts them all (a reopen splits every row).
    /// </summary>
    public static void ToPlanes(ReadOnlySpan<byte> packed, Span<byte> high, Span<byte> low, int rows = 1)
    {
        var stride = high.Length / rows;
        var packedStride = packed.Length / rows;
        if (packedStride == 2 * stride && Vector256.IsHardwareAccelerated)
        {
            ref var p = ref MemoryMarshal.GetReference(packed);
            ref var h = ref MemoryMarshal.GetReference(high);
            ref var l = ref MemoryMarshal.GetReference(low);
            var m33 = Vector256.Create((byte)0x33);
            var mcc = Vector256.Create((byte)0xCC);
            var total = (nuint)high.Length;
            for (nuint g = 0; g < total; g += 32)
            {
                var va = Vector256.LoadUnsafe(ref p, 2 * g);
                var vb = Vector256.LoadUnsafe(ref p, (2 * g) + 32);
                ((Vector256.ShiftRightLogical(va, 2) & m33) | (vb & mcc)).StoreUnsafe(ref h, g);
                ((va & m33) | (Vector256.ShiftLeft(vb, 2) & mcc)).StoreUnsafe(ref l, g);
            }

            return;
        }

        Span<byte> b = stackalloc byte[32];
        for (var r = 0; r < rows; r++)
        {
            var row = packed.Slice(r * packedStride, packedStride);
            for (var g = 0; g < stride / 32; g++)
            {
                var a = row.Slice(64 * g, 32);
                if ((64 * g) + 64 <= row.Length)
                {
                    row.Slice((64 * g) + 32, 32).CopyTo(b);
                }
                else
                {
                    b.Fill(0x88);
                }

                var at = (r * stride) + (32 * g);
                for (var j = 0; j < 32; j++)
                {
                    high[at + j] = (byte)(((a[j] >> 2) & 0x33) | (b[j] & 0xCC));
                    low[at + j] = (byte)((a[j] & 0x33) | ((b[j] << 2) & 0xCC));
                }
            }
        }
    }

    /// <summary>The inverse of <see cref="ToPlanes"/>: the packed codes of <paramref name="rows"/> rows from their planes.</summary>
    public static void FromPlanes(ReadOnlySpan<byte> high, ReadOnlySpan<byte> low, Span<byte> packed, int rows = 1)
    {
        var stride = high.Length / rows;
        var packedStride = packed.Length / rows;
        if (packedStride == 2 * stride && Vector256.IsHardwareAccelerated)
        {
            ref var p = ref MemoryMarshal.GetReference(packed);
            ref var h = ref MemoryMarshal.GetReference(high);
            ref var l = ref MemoryMarshal.GetReference(low);
            var m33 = Vector256.Create((byte)0x33);
            var mcc = Vector256.Create((byte)0xCC);
            var total = (nuint)high.Length;
            for (nuint g = 0; g < total; g += 32)
            {
                var vh = Vector256.LoadUnsafe(ref h, g);
                var vl = Vector256.LoadUnsafe(ref l, g);
                ((vl & m33) | Vector256.ShiftLeft(vh & m33, 2)).StoreUnsafe(ref p, 2 * g);
                (Vector256.ShiftRightLogical(vl & mcc, 2) | (vh & mcc)).StoreUnsafe(ref p, (2 * g) + 32);
            }

            return;
        }

        for (var r = 0; r < rows; r++)
        {
            var row = packed.Slice(r * packedStride, packedStride);
            for (var g = 0; g < stride / 32; g++)
            {
                var at = (r * stride) + (32 * g);
                var hasB = (64 * g) + 64 <= row.Length;
                for (var j = 0; j < 32; j++)
                {
                    row[(64 * g) + j] = (byte)((low[at + j] & 0x33) | ((high[at + j] & 0x33) << 2));
                    if (hasB)
                    {
                        row[(64 * g) + 32 + j] = (byte)(((low[at + j] & 0xCC) >> 2) | (high[at + j] & 0xCC));
                    }
                }
            }
        }
    }

    /// <summary><see cref="Encode"/> straight into the planes (same levels, same rounding).</summary>
    public static void EncodePlanes(ReadOnlySpan<float> vector, Span<byte> high, Span<byte> low, ReadOnlySpan<float> means, ReadOnlySpan<float> inverseSteps)
    {
        Span<byte> packed = stackalloc byte[Stride(vector.Length)];
        Encode(vector, packed, means, inverseSteps);
        ToPlanes(packed, high, low);
    }
}
