using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>
/// The Host binary as a real process: a CLI verb run to its end, or the service on a loopback port
/// (real Kestrel, its limits, its memory) to stop or kill.
/// </summary>
internal sealed class ServiceProcess : IDisposable
{
    private readonly Process process;

    private ServiceProcess(Process process, int port)
    {
        this.process = process;
        Port = port;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public int Id => process.Id;

    public int Port { get; }

    public Uri BaseAddress { get; }

    /// <summary>The Host binary with the fixture model and <paramref name="dataPath"/>; arguments select a CLI verb.</summary>
    public static ProcessStartInfo HostCommand(string dataPath, params string[] arguments) => HostCommand(dataPath, "vit-tiny", null, arguments);

    public static ProcessStartInfo HostCommand(string dataPath, string model, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "ImageRetrieval.Host.dll"), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dataPath,
        };
        start.Environment["ImageRetrieval__DataPath"] = dataPath;
        start.Environment["ImageRetrieval__Embedding__Model"] = Paths.Model(model);
        start.Environment["ImageRetrieval__Embedding__IntraOpThreads"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return start;
    }

    /// <summary>Runs a CLI verb to its end (two minutes at most) and returns its exit code and everything it printed.</summary>
    public static async Task<(int Exit, string Output, TimeSpan Elapsed)> RunAsync(ProcessStartInfo start)
    {
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr, clock.Elapsed);
    }

    public static Task<ServiceProcess> StartAsync(string dataPath) => StartAsync(dataPath, "vit-tiny", null);

    /// <summary>The fixture model with warnings-only logs (a load run would otherwise log every request) and <paramref name="settings"/>.</summary>
    public static Task<ServiceProcess> StartQuietAsync(string dataPath, IReadOnlyDictionary<string, string> settings)
    {
        var environment = new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning" };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return StartAsync(dataPath, "vit-tiny", environment);
    }

    /// <summary>Starts the service on a free loopback port and waits (a minute at most) until it is ready.</summary>
    public static async Task<ServiceProcess> StartAsync(string dataPath, string model, IReadOnlyDictionary<string, string>? environment)
    {
        var port = FreePort();
        var start = HostCommand(dataPath, model, environment);
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new ServiceProcess(process, port);
        using var client = service.Client();
        for (var attempt = 0; attempt < 600 && !process.HasExited; attempt++)
        {
            try
            {
                using var ready = await client.GetAsync(new Uri("/healthz/ready", UriKind.Relative));
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return service;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        service.Dispose();
        throw new TimeoutException("the service process did not become ready");
    }

    public HttpClient Client() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>VmRSS of the service process.</summary>
    public long ResidentBytes()
    {
        try
        {
            var line = File.ReadLines($"/proc/{process.Id}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushes.</summary>
    public void Kill()
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    public void Stop()
    {
        if (!process.HasExited)
        {
            Kill();
        }
    }

    public void Dispose()
    {
        Stop();
        process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
