using System.Diagnostics;

namespace ImageRetrieval.Bench;

/// <summary>Latency samples in milliseconds and their nearest-rank percentiles.</summary>
internal sealed class Samples
{
    private readonly List<double> values = [];
    private bool sorted;

    public int Count => values.Count;

    public double Total => values.Sum();

    public void Add(double milliseconds)
    {
        values.Add(milliseconds);
        sorted = false;
    }

    public double Percentile(double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        if (!sorted)
        {
            values.Sort();
            sorted = true;
        }

        var rank = (int)Math.Ceiling(p / 100.0 * values.Count);
        return values[Math.Clamp(rank - 1, 0, values.Count - 1)];
    }

    public void CopyTo(Samples other) => values.ForEach(other.Add);

    public double Mean => values.Count == 0 ? double.NaN : values.Average();

    public double Min => Percentile(0);
}

internal static class Timing
{
    public static double Ms(long startTimestamp) => Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;

    /// <summary>Runs <paramref name="action"/> until <paramref name="seconds"/> have passed (at least <paramref name="minRuns"/> times).</summary>
    public static void WarmUp(Action action, double seconds, int minRuns = 2)
    {
        var start = Stopwatch.GetTimestamp();
        for (var runs = 0; runs < minRuns || Stopwatch.GetElapsedTime(start).TotalSeconds < seconds; runs++)
        {
            action();
        }
    }

    /// <summary>
    /// Times <paramref name="action"/> run back to back for a fixed budget; returns each run's latency
    /// and the wall time of the whole loop (throughput is work done over that wall time).
    /// </summary>
    public static (Samples Latencies, double WallSeconds, double CpuSeconds) ForBudget(Action action, double seconds, int minRuns = 3)
    {
        var samples = new Samples();
        var cpuStart = Environment.CpuUsage.TotalTime;
        var start = Stopwatch.GetTimestamp();
        while (samples.Count < minRuns || Stopwatch.GetElapsedTime(start).TotalSeconds < seconds)
        {
            var t = Stopwatch.GetTimestamp();
            action();
            samples.Add(Ms(t));
        }

        var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return (samples, wall, (Environment.CpuUsage.TotalTime - cpuStart).TotalSeconds);
    }
}

/// <summary>
/// The run time of the thread that created it (Linux <c>/proc/thread-self/schedstat</c>, nanoseconds):
/// CPU time of one stage on one thread, which other tenants of a loaded machine do not inflate the way
/// they inflate wall time. Read without allocating, so it does not disturb allocation figures.
/// </summary>
internal sealed class ThreadCpu : IDisposable
{
    private readonly FileStream? stat = File.Exists("/proc/thread-self/schedstat")
        ? new FileStream("/proc/thread-self/schedstat", FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0)
        : null;

    private readonly byte[] buffer = new byte[64];

    public bool Available => stat is not null;

    /// <summary>Milliseconds of CPU this thread has run so far (NaN where unavailable).</summary>
    public double Milliseconds()
    {
        if (stat is null)
        {
            return double.NaN;
        }

        stat.Seek(0, SeekOrigin.Begin);
        var read = stat.Read(buffer, 0, buffer.Length);
        long nanoseconds = 0;
        for (var i = 0; i < read && buffer[i] is >= (byte)'0' and <= (byte)'9'; i++)
        {
            nanoseconds = (nanoseconds * 10) + (buffer[i] - '0');
        }

        return nanoseconds / 1e6;
    }

    public void Dispose() => stat?.Dispose();
}
