using System.IO.Compression;

namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>Distinct small PNGs made on the spot (seeded noise), for tests that need more images than the fixture photos.</summary>
public static class TestImages
{
    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++)
        {
            c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }

        return c;
    }).ToArray();

    /// <summary>An 8-bit RGB PNG of <paramref name="size"/> x <paramref name="size"/> pixels, different for every seed.</summary>
    public static byte[] Png(int seed, int size = 48)
    {
        var random = new Random(seed);
        var raw = new byte[size * ((size * 3) + 1)];
        for (var row = 0; row < size; row++)
        {
            var start = row * ((size * 3) + 1);
            raw[start] = 0; // filter: none
            random.NextBytes(raw.AsSpan(start + 1, size * 3));
        }

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            zlib.Write(raw);
        }

        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, size);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), size);
        header[8] = 8; // bit depth
        header[9] = 2; // colour type: RGB
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>Writes <paramref name="count"/> PNGs into <paramref name="directory"/> and returns their paths.</summary>
    public static IReadOnlyList<string> WritePngs(string directory, int count, int firstSeed = 1)
    {
        Directory.CreateDirectory(directory);
        return Enumerable.Range(firstSeed, count).Select(seed =>
        {
            var path = Path.Combine(directory, $"generated-{seed:D4}.png");
            File.WriteAllBytes(path, Png(seed));
            return path;
        }).ToList();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        png.Write(typeBytes);
        png.Write(data);
        var crc = 0xFFFFFFFFu;
        foreach (var b in typeBytes.Concat(data))
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        Span<byte> crcBytes = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crcBytes, crc ^ 0xFFFFFFFFu);
        png.Write(crcBytes);
    }
}
