using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ImageRetrieval.Bench;

/// <summary>
/// The real Host as a child process on Kestrel, loopback, its own data directory: what a client of
/// the deployed service talks to. Its CPU time is read from the process, so client work in the bench
/// process is not counted as the service's.
/// </summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly string dataPath;

    private ServiceProcess(Process process, string dataPath, Uri baseAddress)
    {
        this.process = process;
        this.dataPath = dataPath;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public int Pid => process.Id;

    /// <summary>The Host built beside this bench (Bench.csproj references it, so one build makes both).</summary>
    public static string DefaultHostDll() =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "ImageRetrieval.Host", "release", "ImageRetrieval.Host.dll"));

    public static async Task<ServiceProcess> StartAsync(string hostDll, IReadOnlyDictionary<string, string> settings, TimeSpan readyTimeout)
    {
        if (!File.Exists(hostDll))
        {
            throw new ArgumentException($"Host '{hostDll}' not found; build it: dotnet build bench/Bench -c Release (it references the Host), or pass --host");
        }

        var port = FreePort();
        var dataPath = Directory.CreateTempSubdirectory("ir-bench-").FullName;
        var start = new ProcessStartInfo("dotnet", [hostDll])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Directory.GetCurrentDirectory(),
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["ImageRetrieval__DataPath"] = dataPath;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["ImageRetrieval__Logging__Format"] = "text";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the Host");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => Keep(log, e.Data);
        process.ErrorDataReceived += (_, e) => Keep(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new ServiceProcess(process, dataPath, new Uri($"http://127.0.0.1:{port}"));
        using var http = new HttpClient { BaseAddress = service.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < readyTimeout)
        {
            if (process.HasExited)
            {
                break;
            }

            try
            {
                using var response = await http.GetAsync(new Uri("/healthz/ready", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return service;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            // Fine enough to time start-up by (Bench startup).
            await Task.Delay(50);
        }

        await service.DisposeAsync();
        throw new InvalidOperationException($"the Host did not become ready in {readyTimeout.TotalSeconds:0} s:{Environment.NewLine}{string.Join(Environment.NewLine, log)}");
    }

    /// <summary>User + system CPU time of the service process so far.</summary>
    public double CpuSeconds()
    {
        process.Refresh();
        return process.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>Sum and count of a Prometheus histogram on /metrics (e.g. the batch-size histogram).</summary>
    public static async Task<(double Sum, double Count)> HistogramAsync(HttpClient http, string name)
    {
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        return (SumOf(text, name + "_sum"), SumOf(text, name + "_count"));
    }

    /// <summary>The values of the /metrics lines (<paramref name="text"/>) that start with <paramref name="prefix"/> and contain <paramref name="label"/>, summed.</summary>
    public static double SumOf(string text, string prefix, string label = "") => text.Split('\n')
        .Where(l => l.StartsWith(prefix, StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
        .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture))
        .Sum();

    /// <summary>A Prometheus counter on /metrics, summed over its label sets (NaN when the service does not export it).</summary>
    public static async Task<double> CounterAsync(HttpClient http, string name)
    {
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var values = text.Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && l.Length > name.Length && l[name.Length] is ' ' or '{')
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture))
            .ToList();
        return values.Count == 0 ? double.NaN : values.Sum();
    }

    /// <summary>Methods the service's JIT has compiled so far: re-compilation during a measured window takes cores from the work measured.</summary>
    public static Task<double> JitMethodsAsync(HttpClient http) => CounterAsync(http, "dotnet_jit_compiled_methods_total");

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
        try
        {
            Directory.Delete(dataPath, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void Keep(System.Collections.Concurrent.ConcurrentQueue<string> log, string? line)
    {
        if (line is null)
        {
            return;
        }

        log.Enqueue(line);
        while (log.Count > 40 && log.TryDequeue(out _))
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
