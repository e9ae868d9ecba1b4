using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// Integer dot products of int8 codes in [-127, 127]. On AVX2 it uses the sign trick: |q| (unsigned)
/// times sign(q)·x (signed) through <c>vpmaddubsw</c>, whose pair sums stay within 2·127·127 and so never
/// saturate, then <c>vpmaddwd</c> widens to 32 bits. Elsewhere a widening Vector128 loop.
/// </summary>
internal static class Int8Dot
{
    /// <param name="codes">One stored row.</param>
    /// <param name="query">The quantized query.</param>
    /// <param name="queryMagnitude">|query| element-wise, precomputed once per query.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Dot(ReadOnlySpan<sbyte> codes, ReadOnlySpan<sbyte> query, ReadOnlySpan<byte> queryMagnitude)
    {
        var length = codes.Length;
        var i = 0;
        var sum = 0;
        ref var c = ref MemoryMarshal.GetReference(codes);
        ref var q = ref MemoryMarshal.GetReference(query);
        if (Avx2.IsSupported && length >= 32)
        {
            ref var m = ref MemoryMarshal.GetReference(queryMagnitude);
            var ones = Vector256.Create((short)1);
            var acc0 = Vector256<int>.Zero;
            var acc1 = Vector256<int>.Zero;
            for (; i + 64 <= length; i += 64)
            {
                var x0 = Avx2.Sign(Vector256.LoadUnsafe(ref c, (nuint)i), Vector256.LoadUnsafe(ref q, (nuint)i));
                var x1 = Avx2.Sign(Vector256.LoadUnsafe(ref c, (nuint)(i + 32)), Vector256.LoadUnsafe(ref q, (nuint)(i + 32)));
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.LoadUnsafe(ref m, (nuint)i), x0), ones));
                acc1 = Avx2.Add(acc1, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.LoadUnsafe(ref m, (nuint)(i + 32)), x1), ones));
            }

            if (i + 32 <= length)
            {
                var x0 = Avx2.Sign(Vector256.LoadUnsafe(ref c, (nuint)i), Vector256.LoadUnsafe(ref q, (nuint)i));
                acc0 = Avx2.Add(acc0, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.LoadUnsafe(ref m, (nuint)i), x0), ones));
                i += 32;
            }

            sum = Vector256.Sum(Avx2.Add(acc0, acc1));
        }
        else if (Vector128.IsHardwareAccelerated && length >= 16)
        {
            var acc = Vector128<int>.Zero;
            for (; i + 16 <= length; i += 16)
            {
                var (cl, ch) = Vector128.Widen(Vector128.LoadUnsafe(ref c, (nuint)i));
                var (ql, qh) = Vector128.Widen(Vector128.LoadUnsafe(ref q, (nuint)i));

                // 127·127 fits a short; the sums are widened before they can overflow.
                var (p0, p1) = Vector128.Widen(cl * ql);
                var (p2, p3) = Vector128.Widen(ch * qh);
                acc += p0 + p1 + p2 + p3;
            }

            sum = Vector128.Sum(acc);
        }

        for (; i < length; i++)
        {
            sum += Unsafe.Add(ref c, i) * Unsafe.Add(ref q, i);
        }

        return sum;
    }
}
