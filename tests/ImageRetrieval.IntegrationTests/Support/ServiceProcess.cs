using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>The Host binary as a real process: a CLI verb to run to its end, or the service on a loopback port to kill.</summary>
internal sealed class ServiceProcess : IDisposable
{
    private readonly Process process;
    private readonly Uri baseAddress;

    private ServiceProcess(Process process, Uri baseAddress)
    {
        this.process = process;
        this.baseAddress = baseAddress;
    }

    public int Id => process.Id;

    public Uri BaseAddress => baseAddress;

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

    public static Task<ServiceProcess> StartAsync(string dataPath) => StartAsync(dataPath, "vit-tiny", null);

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
        var service = new ServiceProcess(process, new Uri($"http://127.0.0.1:{port}"));
        using var client = service.Client();
        for (var attempt = 0; attempt < 300; attempt++)
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

    public HttpClient Client() => new() { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>SIGKILL: no shutdown hooks, no flushes.</summary>
    public void Kill()
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            Kill();
        }

        process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
}
