using System.Globalization;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using Microsoft.Extensions.Options;
using NetVips;

namespace ImageRetrieval.UnitTests.Embedding.Preprocessing;

/// <summary>
/// A decode runs at the priority of the lane that asked for it: bulk decodes on the niced bulk
/// threads, interactive ones on the thread pool at normal priority. libvips would otherwise evaluate
/// on its own pooled worker threads, which keep the nice value of whichever thread created them,
/// so after an ingest a search's JPEG decoding ran at bulk priority. The check: the CPU time of a
/// decode is spent by the thread that asked for it (that thread's own run time from the kernel, so
/// other tests running meanwhile cannot disturb it).
/// </summary>
public sealed class DecodePriorityTests
{
    // Noise does not compress: decoding this 12 MP noise JPEG took ~200 ms of CPU on this project's
    // 2-core machine, and the calling thread's own share when libvips' pool did the decoding was ~12 ms.
    private static readonly Lazy<byte[]> HeavyJpeg = new(() =>
    {
        using var noise = Image.Gaussnoise(4000, 3000, sigma: 60, mean: 128);
        using var rgb = noise.Bandjoin(noise, noise).Cast(Enums.BandFormat.Uchar);
        return rgb.JpegsaveBuffer(q: 95);
    });

    private static readonly TimeSpan AtLeast = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task Given_a_bulk_decode_on_a_niced_thread_When_an_interactive_image_is_decoded_Then_each_runs_on_its_own_thread_at_its_own_priority()
    {
        var normal = Nice();
        using var bulk = new BulkPreprocessing(Options.Create(new EmbeddingOptions { DecodeParallelism = 1, BulkDecodeNiceness = 10 }));

        // Making the JPEG and the first decode (libvips' and NetVips' first-use costs) stay out of the measured ones.
        DecodeHere();

        // The bulk decode first: under libvips' own pool it would have created (or reused) a worker at nice +10.
        var bulkDecode = await bulk.RunAsync(DecodeHere, CancellationToken.None);
        var interactiveDecode = await Task.Run(DecodeHere);

        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(Math.Min(19, normal + 10), bulkDecode.Nice);
            Assert.Equal(normal, interactiveDecode.Nice);
        }

        Assert.True(bulkDecode.OwnCpu >= AtLeast, $"the bulk thread spent {bulkDecode.OwnCpu.TotalMilliseconds:0.0} ms of CPU on its decode: the decoding ran on another thread");
        Assert.True(interactiveDecode.OwnCpu >= AtLeast, $"the interactive thread spent {interactiveDecode.OwnCpu.TotalMilliseconds:0.0} ms of CPU on its decode: the decoding ran on another thread");
    }

    private static (int Nice, TimeSpan OwnCpu) DecodeHere()
    {
        var before = ThreadCpu();
        using var rgb = TestDecoder.Default.Decode(HeavyJpeg.Value);
        Assert.Equal(4000 * 3000 * 3, rgb.Pixels.Length);
        return (Nice(), ThreadCpu() - before);
    }

    /// <summary>The calling thread's run time (schedstat, nanoseconds); elsewhere than Linux the process's, which is looser but still fails if nothing ran.</summary>
    private static TimeSpan ThreadCpu() =>
        File.Exists("/proc/thread-self/schedstat")
            ? TimeSpan.FromTicks(long.Parse(File.ReadAllText("/proc/thread-self/schedstat").Split(' ')[0], CultureInfo.InvariantCulture) / 100)
            : System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;

    /// <summary>Field 19 of /proc/thread-self/stat, after the parenthesised command name.</summary>
    private static int Nice()
    {
        if (!File.Exists("/proc/thread-self/stat"))
        {
            return 0;
        }

        var stat = File.ReadAllText("/proc/thread-self/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16], CultureInfo.InvariantCulture);
    }
}
