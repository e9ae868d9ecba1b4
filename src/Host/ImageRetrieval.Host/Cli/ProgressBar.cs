using System.Diagnostics;
using System.Globalization;

namespace ImageRetrieval.Host.Cli;

/// <summary>A one-line progress bar on a terminal; a line per 10% when output is redirected (CI logs).</summary>
internal sealed class ProgressBar(int total, string label)
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly Lock gate = new();
    private int done;
    private int lastDecile = -1;

    public void Advance(string status)
    {
        lock (gate)
        {
            Render(++done, status);
        }
    }

    public void Set(int value, string status)
    {
        lock (gate)
        {
            done = value;
            Render(done, status);
        }
    }

    public void Note(string message)
    {
        lock (gate)
        {
            Console.Error.WriteLine(Console.IsOutputRedirected ? message : "\r" + message.PadRight(Console.WindowWidth > 0 ? Console.WindowWidth - 1 : 80));
        }
    }

    public void Finish() =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(Console.IsOutputRedirected ? "" : " ")}{label} took {clock.Elapsed.TotalSeconds:F1}s"));

    private void Render(int value, string status)
    {
        var fraction = total == 0 ? 1 : (double)value / total;
        var rate = value / Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
        var line = string.Create(CultureInfo.InvariantCulture, $"{label} [{new string('#', (int)(fraction * 30)).PadRight(30, '.')}] {value}/{total} {rate:F1}/s {status}");
        if (!Console.IsOutputRedirected)
        {
            Console.Write("\r" + line);
        }
        else if ((int)(fraction * 10) is var decile && decile != lastDecile)
        {
            lastDecile = decile;
            Console.WriteLine(line);
        }
    }
}
