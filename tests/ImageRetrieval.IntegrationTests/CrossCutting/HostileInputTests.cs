using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;

namespace ImageRetrieval.IntegrationTests.CrossCutting;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuredAlone
{
    /// <summary>Tests that measure the process's memory run alone, so other tests' work does not count.</summary>
    public const string Name = "serial";
}

/// <summary>
/// Files built to cost far more than their size (thin strips, huge declared sizes with tiny data,
/// deep samples, many frames or bands, non-image formats, truncation) through the real Host, on the
/// model that resizes the shortest edge and crops. Every hostile file is a 4xx problem; odd but valid
/// files are embedded; nothing is a 5xx, every answer comes within seconds, rejected files leave the
/// store as it was, and the process's memory stays within a bound.
/// </summary>
[Collection(MeasuredAlone.Name)]
public sealed class HostileInputTests
{
    private static readonly Uri Images = new("/api/v1/images?limit=100", UriKind.Relative);
    private static readonly Uri Ingest = new("/api/v1/images", UriKind.Relative);
    private static readonly Uri Embeddings = new("/api/v1/embeddings", UriKind.Relative);
    private static readonly TimeSpan PerFile = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Given_a_corpus_of_hostile_files_Then_each_is_a_quick_4xx_the_store_is_unchanged_and_memory_stays_bounded()
    {
        await using var factory = new ServiceFactory(model: "vit-tiny-crop");
        var client = await factory.CreateReadyClientAsync();
        using (var seed = Multipart.Files("files", Path.Combine(Paths.Photos, "hard", "grayscale.jpg")))
        {
            (await client.PostAsync(Ingest, seed)).EnsureSuccessStatusCode();
        }

        // Built before measuring: making the files costs this test process memory of its own.
        var hostile = Hostile().ToList();
        var valid = OddButValid().ToList();
        var before = await CountAsync(client);
        using var sampler = new MemorySampler();
        var failures = new List<string>();
        foreach (var (name, bytes) in hostile)
        {
            var (status, type, elapsed) = await PostAsync(client, Ingest, name, bytes);
            if (status is < 400 or >= 500 || elapsed > PerFile || !type.StartsWith("urn:image-retrieval:problem:", StringComparison.Ordinal))
            {
                failures.Add($"{name}: {status} {type} in {elapsed.TotalMilliseconds:F0} ms");
            }
        }

        foreach (var (name, bytes) in valid)
        {
            var (status, type, elapsed) = await PostAsync(client, Embeddings, name, bytes);
            if (status != 200 || elapsed > PerFile)
            {
                failures.Add($"{name} (valid): {status} {type} in {elapsed.TotalMilliseconds:F0} ms");
            }
        }

        var peak = sampler.Stop();
        Assert.Empty(failures);
        Assert.Equal(before, await CountAsync(client));

        // Before windowed resizing one 103-byte 1x4000 PNG alone added ~800 MB; the largest legal decode
        // here (36 MP) is about 110 MB of RGB plus libvips' buffers.
        Assert.True(peak < 700L << 20, $"working set rose by {peak >> 20} MB over the corpus");
    }

    [Fact]
    public async Task Given_real_photos_corrupted_at_random_Then_no_answer_is_a_5xx()
    {
        await using var factory = new ServiceFactory(model: "vit-tiny-crop");
        var client = await factory.CreateReadyClientAsync();
        var photos = Paths.PhotoFiles.Where(f => new FileInfo(f).Length < 60_000).Select(File.ReadAllBytes).ToList();
        Assert.True(photos.Count >= 5);
        var random = new Random(20261201);
        var mutants = Enumerable.Range(0, 150).Select(i => ($"mutant{i}.bin", Mutate(photos[random.Next(photos.Count)], random))).ToList();
        var before = await CountAsync(client);
        var clock = Stopwatch.StartNew();
        var outcomes = new List<string>();
        using var gate = new SemaphoreSlim(4);
        var results = await Task.WhenAll(mutants.Select(async m =>
        {
            await gate.WaitAsync();
            try
            {
                return (m.Item1, await PostAsync(client, Embeddings, m.Item1, m.Item2));
            }
            finally
            {
                gate.Release();
            }
        }));

        var serverErrors = results.Where(r => r.Item2.Status >= 500 || r.Item2.Status == 0).Select(r => $"{r.Item1}: {r.Item2.Status} {r.Item2.Type}").ToList();
        Assert.Empty(serverErrors);
        Assert.All(results, r => Assert.True(r.Item2.Elapsed < PerFile, $"{r.Item1} took {r.Item2.Elapsed}"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"the fuzz run took {clock.Elapsed}");

        // Both outcomes occur: the mutations are neither all harmless nor all fatal.
        Assert.Contains(results, r => r.Item2.Status == 200);
        Assert.Contains(results, r => r.Item2.Status is >= 400 and < 500);
        Assert.Equal(before, await CountAsync(client));
    }

    private static IEnumerable<(string Name, byte[] Bytes)> Hostile()
    {
        yield return ("strip-1x4000.png", Vips(NetVips.Image.Black(1, 4000, bands: 3), "png"));
        yield return ("strip-1x12000.png", Vips(NetVips.Image.Black(1, 12000, bands: 3), "png"));
        yield return ("strip-40000x1.png", Vips(NetVips.Image.Black(40000, 1, bands: 3), "png"));
        yield return ("declared-65535x65535.png", Png(65535, 65535, 8, 2, rows: 1));
        yield return ("declared-20000x20000.png", Png(20000, 20000, 8, 6, rows: 1));
        yield return ("declared-6000x6000-one-row.png", Png(6000, 6000, 8, 2, rows: 1));
        yield return ("deep-7000x5000-rgba16.png", Png(7000, 5000, 16, 6, rows: 1));
        yield return ("zero-width.png", Png(0, 100, 8, 2, rows: 0));
        yield return ("zero-height.png", Png(100, 0, 8, 2, rows: 0));
        yield return ("truncated-half.jpg", Half(File.ReadAllBytes(Paths.PhotoFiles[0])));
        yield return ("jpeg-declares-65500x65500.jpg", JpegDeclaring(File.ReadAllBytes(Path.Combine(Paths.Photos, "hard", "grayscale.jpg")), 65500, 65500));
        yield return ("many-bands.tif", Vips(NetVips.Image.Black(64, 64, bands: 7), "tif"));
        yield return ("deep-3000x3000-double-rgba.tif", Vips(NetVips.Image.Black(3000, 3000, bands: 4).Cast(NetVips.Enums.BandFormat.Double), "tif[compression=deflate]"));
        yield return ("empty.png", []);
        yield return ("garbage.jpg", Garbage(4096));
        yield return ("image.svg", Encoding.UTF8.GetBytes("""<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100%" height="100%"/></svg>"""));
        yield return ("doc.pdf", Encoding.ASCII.GetBytes("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"));
        yield return ("png-signature-only.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
    }

    private static IEnumerable<(string Name, byte[] Bytes)> OddButValid()
    {
        yield return ("one-pixel.png", Vips(NetVips.Image.Black(1, 1, bands: 3), "png"));
        yield return ("strip-3x900.png", Vips(NetVips.Image.Black(3, 900, bands: 3), "png"));
        yield return ("grey16.png", Vips(NetVips.Image.Black(64, 48).Cast(NetVips.Enums.BandFormat.Ushort), "png[bitdepth=16]"));
        yield return ("grey-alpha.png", Vips(NetVips.Image.Black(40, 30, bands: 2), "png"));
        yield return ("float-rgb.tif", Vips(NetVips.Image.Black(50, 40, bands: 3).Cast(NetVips.Enums.BandFormat.Float), "tif"));
        yield return ("animated-300-frames.gif", AnimatedGif(32, 32, 300));
        yield return ("declared-dims-are-real.png", Png(64, 64, 8, 2, rows: 64));

        // libvips reads these leniently (a bad header CRC, a JPEG whose data ends early is grey-filled);
        // within the pixel limits that costs no more than a real image of that size.
        yield return ("bad-crc.png", CorruptCrc(Png(64, 64, 8, 2, rows: 64)));
        yield return ("jpeg-declares-6000x6000.jpg", JpegDeclaring(File.ReadAllBytes(Path.Combine(Paths.Photos, "hard", "grayscale.jpg")), 6000, 6000));
    }

    private static async Task<(int Status, string Type, TimeSpan Elapsed)> PostAsync(HttpClient client, Uri uri, string name, byte[] bytes)
    {
        var clock = Stopwatch.StartNew();
        using var form = new MultipartFormDataContent { { new ByteArrayContent(bytes), "files", name } };
        using var response = await client.PostAsync(uri, form);
        var body = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        if (status == 200 && uri == Ingest)
        {
            // Ingest answers 200 with a per-file error when the file was rejected.
            var error = JsonNode.Parse(body)!["items"]![0]!["error"];
            return error is null ? (200, "stored", clock.Elapsed) : (error["status"]?.GetValue<int>() ?? 422, error["type"]!.GetValue<string>(), clock.Elapsed);
        }

        var type = response.Content.Headers.ContentType?.MediaType == "application/problem+json" ? JsonNode.Parse(body)!["type"]!.GetValue<string>() : "";
        return (status, type, clock.Elapsed);
    }

    private static async Task<int> CountAsync(HttpClient client) =>
        (await client.GetFromJsonAsync<JsonObject>(Images))!["items"]!.AsArray().Count;

    private static byte[] Vips(NetVips.Image image, string format)
    {
        using (image)
        {
            return image.WriteToBuffer("." + format);
        }
    }

    /// <summary>A PNG whose header says anything, with image data for only the first <paramref name="rows"/> rows.</summary>
    private static byte[] Png(int width, int height, int bitDepth, int colourType, int rows)
    {
        var channels = colourType switch { 0 => 1, 2 => 3, 4 => 2, 6 => 4, _ => 1 };
        var rowBytes = 1 + (long)width * channels * bitDepth / 8;
        using var raw = new MemoryStream();
        using (var zlib = new ZLibStream(raw, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[rowBytes];
            for (var y = 0; y < rows; y++)
            {
                zlib.Write(row);
            }
        }

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = (byte)bitDepth;
        header[9] = (byte)colourType;
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", raw.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        png.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(length, Crc32(typed));
        png.Write(length);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }

    private static byte[] CorruptCrc(byte[] png)
    {
        // The IHDR chunk's CRC sits at bytes 29-32.
        png[30] ^= 0xFF;
        return png;
    }

    private static byte[] Half(byte[] bytes) => bytes[..(bytes.Length / 2)];

    /// <summary>A real JPEG whose start-of-frame marker is edited to declare another size.</summary>
    private static byte[] JpegDeclaring(byte[] jpeg, int width, int height)
    {
        var copy = jpeg.ToArray();
        for (var i = 2; i < copy.Length - 9; i++)
        {
            if (copy[i] == 0xFF && copy[i + 1] is 0xC0 or 0xC1 or 0xC2)
            {
                BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(i + 5), (ushort)height);
                BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(i + 7), (ushort)width);
                return copy;
            }
        }

        throw new InvalidOperationException("no SOF marker");
    }

    private static byte[] Garbage(int length)
    {
        var bytes = new byte[length];
        new Random(7).NextBytes(bytes);
        return bytes;
    }

    private static byte[] AnimatedGif(int width, int height, int frames)
    {
        using var strip = NetVips.Image.Black(width, height * frames, bands: 3);
        using var paged = strip.Mutate(m => m.Set(NetVips.GValue.GIntType, "page-height", height));
        return paged.GifsaveBuffer();
    }

    private static byte[] Mutate(byte[] photo, Random random)
    {
        var bytes = photo.ToArray();
        switch (random.Next(4))
        {
            case 0:
                for (var i = random.Next(1, 32); i > 0; i--)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                }

                return bytes;
            case 1:
                return bytes[..random.Next(1, bytes.Length)];
            case 2:
                // Header edits: the first bytes hold the dimensions, chunk lengths and marker segments.
                for (var i = random.Next(1, 8); i > 0; i--)
                {
                    bytes[random.Next(Math.Min(bytes.Length, 64))] = (byte)random.Next(256);
                }

                return bytes;
            default:
                var at = random.Next(bytes.Length);
                var run = Math.Min(bytes.Length - at, random.Next(1, 512));
                random.NextBytes(bytes.AsSpan(at, run));
                return bytes;
        }
    }

    /// <summary>Samples the process's working set while the corpus runs; reports the rise over the start.</summary>
    private sealed class MemorySampler : IDisposable
    {
        private readonly long baseline;
        private readonly CancellationTokenSource stop = new();
        private readonly Task<long> sampling;

        public MemorySampler()
        {
            GC.Collect();
            using var self = Process.GetCurrentProcess();
            baseline = self.WorkingSet64;
            sampling = Task.Run(async () =>
            {
                var peak = baseline;
                using var process = Process.GetCurrentProcess();
                while (!stop.IsCancellationRequested)
                {
                    process.Refresh();
                    peak = Math.Max(peak, process.WorkingSet64);
                    await Task.Delay(10).ConfigureAwait(false);
                }

                return peak;
            });
        }

        public long Stop()
        {
            stop.Cancel();
            return sampling.GetAwaiter().GetResult() - baseline;
        }

        public void Dispose() => stop.Dispose();
    }
}
