using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace ImageRetrieval.IntegrationTests.CrossCutting;

/// <summary>
/// The service as a real process killed with SIGKILL in the middle of concurrent ingests: after a
/// restart every acknowledged image is there, and every listed image still serves its bytes.
/// </summary>
public sealed class CrashDurabilityTests
{
    [Fact]
    public async Task Given_ingests_in_flight_When_the_process_is_killed_Then_every_acknowledged_image_survives_a_restart()
    {
        var dataPath = Directory.CreateTempSubdirectory("ir-kill-").FullName;
        try
        {
            var acknowledged = new ConcurrentDictionary<string, string>();
            using (var first = await ServiceProcess.StartAsync(dataPath))
            {
                using var client = first.Client();
                var photos = Paths.PhotoFiles;
                var ingests = photos.Select(async path =>
                {
                    try
                    {
                        using var form = Multipart.Files("files", path);
                        using var response = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
                        if (response.StatusCode == HttpStatusCode.OK)
                        {
                            var body = await response.Content.ReadFromJsonAsync<JsonObject>();
                            acknowledged[body!["items"]![0]!["image"]!["id"]!.GetValue<string>()] = path;
                        }
                    }
                    catch (HttpRequestException)
                    {
                        // The connection died with the process: not acknowledged.
                    }
                }).ToList();

                var deadline = Stopwatch.StartNew();
                while (acknowledged.Count < 5 && deadline.Elapsed < TimeSpan.FromSeconds(60))
                {
                    await Task.Delay(5);
                }

                first.Kill();
                await Task.WhenAll(ingests);
            }

            Assert.True(acknowledged.Count >= 5, $"only {acknowledged.Count} ingests were acknowledged before the kill");

            using var second = await ServiceProcess.StartAsync(dataPath);
            using var again = second.Client();
            var listed = (await again.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=500", UriKind.Relative)))!["items"]!.AsArray()
                .Select(i => i!["id"]!.GetValue<string>()).ToHashSet();
            Assert.Superset(acknowledged.Keys.ToHashSet(), listed);
            foreach (var id in listed)
            {
                using var content = await again.GetAsync(new Uri($"/api/v1/images/{id}/content", UriKind.Relative));
                Assert.Equal(HttpStatusCode.OK, content.StatusCode);
            }

            foreach (var (id, path) in acknowledged)
            {
                Assert.Equal(await File.ReadAllBytesAsync(path), await again.GetByteArrayAsync(new Uri($"/api/v1/images/{id}/content", UriKind.Relative)));
            }
        }
        finally
        {
            ServiceFactory.TryDelete(dataPath);
        }
    }

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
    }
}
