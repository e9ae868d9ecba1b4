using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>The Host as its own process on a loopback port: real Kestrel, its limits, its memory.</summary>
internal sealed class HostProcess : IDisposable
{
    private readonly Process process;

    private HostProcess(Process process, Uri baseAddress, int port)
    {
        this.process = process;
        BaseAddress = baseAddress;
        Port = port;
    }

    public Uri BaseAddress { get; }

    public int Port { get; }

    public int Id => process.Id;

    /// <summary>Starts the Host with the fixture model on <paramref name="dataPath"/> and waits for readiness.</summary>
    public static async Task<HostProcess> StartAsync(string dataPath, IReadOnlyDictionary<string, string> settings)
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var start = ServiceProcess.HostCommand(dataPath);
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new HostProcess(process, new Uri($"http://127.0.0.1:{port}"), port);
        using var client = new HttpClient { BaseAddress = service.BaseAddress };
        for (var attempt = 0; attempt < 600; attempt++)
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

            if (process.HasExited)
            {
                break;
            }

            await Task.Delay(100);
        }

        service.Dispose();
        throw new TimeoutException("The service process did not become ready.");
    }

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

    public void Stop()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        Stop();
        process.Dispose();
    }
}
