using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace ImageRetrieval.IntegrationTests.CrossCutting;

/// <summary>
/// Ingest, search and a greedy lister against the Host as its own process (Kestrel on loopback, real
/// HTTP). No answer may be a 5xx other than a 503, every 503 and 429 carries Retry-After, and the
/// service's resident memory in the last window stays within a bound of the first. ~25 s by default;
/// <c>LOAD_TEST_SECONDS=150</c> runs the long variant and writes bench/results/load-test.md.
/// </summary>
public sealed class LoadTests
{
    private const string GreedyKey = "load-greedy";

    /// <summary>Per key: the well-behaved workers (one key each) stay under it on a loaded machine; the three greedy ones sharing a key do not.</summary>
    private const int PermitsPerMinute = 300;

    private static readonly TimeSpan WorkerPace = TimeSpan.FromMilliseconds(250);

    private static readonly string[] WorkerKeys = ["load-ingest-0", "load-ingest-1", "load-search-0", "load-search-1", "load-search-2"];

    [Fact]
    public async Task Given_mixed_ingest_and_search_over_real_http_Then_no_500s_back_pressure_carries_Retry_After_and_memory_stays_flat()
    {
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("LOAD_TEST_SECONDS"), CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 25;
        var duration = TimeSpan.FromSeconds(seconds);
        // "First" and "last minute" for the long run; the short run compares its first and last thirds.
        var window = TimeSpan.FromSeconds(seconds >= 120 ? 60 : seconds / 3.0);
        var dataPath = Directory.CreateTempSubdirectory("ir-load-").FullName;
        var photos = Paths.PhotoFiles.Select(File.ReadAllBytes).ToList();
        var settings = new Dictionary<string, string>
        {
            ["ImageRetrieval__RateLimiting__PermitsPerMinute"] = PermitsPerMinute.ToString(CultureInfo.InvariantCulture),
            ["ImageRetrieval__Auth__ApiKeys__0"] = GreedyKey,
        };
        for (var i = 0; i < WorkerKeys.Length; i++)
        {
            settings[$"ImageRetrieval__Auth__ApiKeys__{i + 1}"] = WorkerKeys[i];
        }

        using var service = await ServiceProcess.StartQuietAsync(dataPath, settings);
        try
        {
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
            using var client = new HttpClient(handler) { BaseAddress = service.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

            // Warm up (model session, JIT, pools) before anything is measured.
            await SearchAsync(client, photos[0], WorkerKeys[2], CancellationToken.None);

            var results = new ConcurrentBag<Result>();
            var rss = new ConcurrentQueue<(TimeSpan At, long Bytes)>();
            var clock = Stopwatch.StartNew();
            using var stop = new CancellationTokenSource(duration);
            var unique = 0;
            var workers = new List<Task>
            {
                Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        rss.Enqueue((clock.Elapsed, service.ResidentBytes()));
                        await Task.Delay(500, CancellationToken.None);
                    }
                }),
            };
            for (var i = 0; i < 2; i++)
            {
                var key = WorkerKeys[i];
                workers.Add(Worker("ingest", results, clock, token =>
                {
                    // New bytes every time (a trailer after the image's end), so every ingest is a real write.
                    var n = Interlocked.Increment(ref unique);
                    var photo = photos[n % photos.Count];
                    var bytes = photo.Concat(Encoding.ASCII.GetBytes($"load-{n:D8}")).ToArray();
                    return IngestAsync(client, bytes, n, key, token);
                }, stop.Token));
            }

            for (var i = 0; i < 3; i++)
            {
                var worker = i;
                workers.Add(Worker("search", results, clock, token => SearchAsync(client, photos[(worker * 7 + (int)clock.ElapsedMilliseconds) % photos.Count], WorkerKeys[2 + worker], token), stop.Token));
            }

            // One client far over its allowance: it must get 429s with Retry-After while the others are served.
            for (var i = 0; i < 3; i++)
            {
                workers.Add(Worker("greedy", results, clock, token => SendAsync(client, new HttpRequestMessage(HttpMethod.Get, "/api/v1/images?limit=5"), GreedyKey, token), stop.Token));
            }

            await Task.WhenAll(workers);
            var report = Report(results.ToList(), rss.ToList(), duration, window, service);

            var path = seconds >= 120
                ? Path.Combine(Paths.RepoRoot, "bench", "results", "load-test.md")
                : Path.Combine(Path.GetTempPath(), "image-retrieval-load-test.md");
            await File.WriteAllTextAsync(path, report.Markdown);

            var all = results.ToList();
            Assert.True(all.Any(r => r.Kind == "ingest" && r.Status == 200), report.Markdown);
            Assert.True(all.Any(r => r.Kind == "search" && r.Status == 200), report.Markdown);
            Assert.True(all.Any(r => r.Status == 429), "the greedy client was never limited\n" + report.Markdown);
            Assert.DoesNotContain(all, r => r.Status == 0);
            Assert.DoesNotContain(all, r => r.Status >= 500 && r.Status != 503);
            Assert.DoesNotContain(all, r => r.Status is 503 or 429 && !r.RetryAfter);
            Assert.DoesNotContain(all, r => r.Status is >= 400 and < 500 && r.Status != 429);
            // Flat: the last window's peak within 25% (+64 MiB of allocator slack) of the first window's.
            Assert.True(report.LastRss <= (report.FirstRss * 1.25) + (64L << 20), report.Markdown);
        }
        finally
        {
            service.Stop();
            ServiceFactory.TryDelete(dataPath);
        }
    }

    private static Task Worker(string kind, ConcurrentBag<Result> results, Stopwatch clock, Func<CancellationToken, Task<(int Status, bool RetryAfter)>> send, CancellationToken stop) =>
        Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var started = clock.Elapsed;
                int status;
                var retryAfter = false;
                try
                {
                    (status, retryAfter) = await send(CancellationToken.None);
                }
                catch (HttpRequestException)
                {
                    status = 0;
                }
                catch (TaskCanceledException)
                {
                    status = 0;
                }

                results.Add(new Result(kind, started, clock.Elapsed - started, status, retryAfter));
                if (status is 429 or 503)
                {
                    // A well-behaved client backs off; the greedy one only briefly, so it keeps hitting the limit.
                    await Task.Delay(kind == "greedy" ? 50 : 500, CancellationToken.None);
                }
                else if (kind != "greedy" && clock.Elapsed - started < WorkerPace)
                {
                    // Well-behaved clients send at most 4 requests a second each (240/min, under the per-key limit).
                    await Task.Delay(WorkerPace - (clock.Elapsed - started), CancellationToken.None);
                }
            }
        }, CancellationToken.None);

    private static Task<(int, bool)> IngestAsync(HttpClient client, byte[] bytes, int n, string key, CancellationToken token)
    {
        var form = new MultipartFormDataContent { { Multipart.Bytes("x.jpg", bytes), "files", $"load-{n}.jpg" }, { new StringContent($$"""{"load":"{{n}}"}"""), "metadata" } };
        return SendAsync(client, new HttpRequestMessage(HttpMethod.Post, "/api/v1/images") { Content = form }, key, token);
    }

    private static Task<(int, bool)> SearchAsync(HttpClient client, byte[] bytes, string key, CancellationToken token)
    {
        var form = new MultipartFormDataContent { { Multipart.Bytes("q.jpg", bytes), "file", "q.jpg" }, { new StringContent("5"), "topK" } };
        return SendAsync(client, new HttpRequestMessage(HttpMethod.Post, "/api/v1/search") { Content = form }, key, token);
    }

    private static async Task<(int, bool)> SendAsync(HttpClient client, HttpRequestMessage request, string key, CancellationToken token)
    {
        using (request)
        {
            request.Headers.Add("X-Api-Key", key);
            using var response = await client.SendAsync(request, token);
            await response.Content.LoadIntoBufferAsync(token);
            return ((int)response.StatusCode, response.Headers.RetryAfter is not null);
        }
    }

    private static Summary Report(List<Result> results, List<(TimeSpan At, long Bytes)> rss, TimeSpan duration, TimeSpan window, ServiceProcess service)
    {
        var firstEnd = window;
        var lastStart = duration - window;
        long Peak(Func<TimeSpan, bool> inWindow) => rss.Where(r => inWindow(r.At)).Select(r => r.Bytes).DefaultIfEmpty(0).Max();
        var firstRss = Peak(t => t < firstEnd);
        var lastRss = Peak(t => t >= lastStart);
        string P(string kind, Func<TimeSpan, bool> inWindow, double q)
        {
            var latencies = results.Where(r => r.Kind == kind && r.Status == 200 && inWindow(r.Started)).Select(r => r.Latency.TotalMilliseconds).Order().ToList();
            return latencies.Count == 0 ? "-" : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)].ToString("0", CultureInfo.InvariantCulture);
        }

        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine("# Load test: mixed ingest and search over real HTTP");
        md.AppendLine();
        md.AppendLine(inv, $"Written by `tests/ImageRetrieval.IntegrationTests/LoadTests.cs` on {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC. Command:");
        md.AppendLine();
        md.AppendLine("```sh");
        md.AppendLine(inv, $"LOAD_TEST_SECONDS={(int)duration.TotalSeconds} dotnet test tests/ImageRetrieval.IntegrationTests -c Release --filter FullyQualifiedName~LoadTests");
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine(inv, $"The Host runs as its own process (`dotnet ImageRetrieval.Host.dll`, Kestrel on 127.0.0.1, Local stores, fixture model `vit-tiny`, 1 intra-op thread, rate limit {PermitsPerMinute}/min per API key). "
            + $"Clients, each with its own key: 2 ingest workers (each upload new bytes: a photo plus a unique trailer, with metadata), 3 search workers (topK 5), each at most 4 requests/s; "
            + $"and 3 greedy listers sharing one key (limited on purpose, retrying 50 ms after a 429). {Environment.ProcessorCount} cores, shared with other work (load average at the end {LoadAverage()}). "
            + $"Windows: first and last {window.TotalSeconds:0} s of {duration.TotalSeconds:0} s, after a warm-up search.");
        md.AppendLine();
        md.AppendLine("| answers | ingest | search | greedy list |");
        md.AppendLine("| --- | --- | --- | --- |");
        foreach (var status in results.Select(r => r.Status).Distinct().Order())
        {
            md.AppendLine(inv, $"| {(status == 0 ? "transport error" : status.ToString(inv))} | {results.Count(r => r.Kind == "ingest" && r.Status == status)} | {results.Count(r => r.Kind == "search" && r.Status == status)} | {results.Count(r => r.Kind == "greedy" && r.Status == status)} |");
        }

        md.AppendLine();
        var limited = results.Where(r => r.Status is 429 or 503).ToList();
        md.AppendLine(inv, $"503/429 answers: {limited.Count}, of which with Retry-After: {limited.Count(r => r.RetryAfter)}. 5xx other than 503: {results.Count(r => r.Status >= 500 && r.Status != 503)}.");
        md.AppendLine();
        md.AppendLine("| window | ingest p50 / p95 ms | search p50 / p95 ms | service RSS peak MiB |");
        md.AppendLine("| --- | --- | --- | --- |");
        md.AppendLine(inv, $"| first {window.TotalSeconds:0} s | {P("ingest", t => t < firstEnd, 0.5)} / {P("ingest", t => t < firstEnd, 0.95)} | {P("search", t => t < firstEnd, 0.5)} / {P("search", t => t < firstEnd, 0.95)} | {firstRss / 1048576.0:0} |");
        md.AppendLine(inv, $"| last {window.TotalSeconds:0} s | {P("ingest", t => t >= lastStart, 0.5)} / {P("ingest", t => t >= lastStart, 0.95)} | {P("search", t => t >= lastStart, 0.5)} / {P("search", t => t >= lastStart, 0.95)} | {lastRss / 1048576.0:0} |");
        md.AppendLine();
        md.AppendLine(inv, $"Images ingested: {results.Count(r => r.Kind == "ingest" && r.Status == 200)}; throughput {results.Count(r => r.Kind != "greedy" && r.Status == 200) / duration.TotalSeconds:0.0} ingest+search answers/s. "
            + $"RSS grew {(lastRss - firstRss) / 1048576.0:0} MiB from the first window's peak to the last's (bound: 25% + 64 MiB). Process id {service.Id}.");
        return new Summary(md.ToString(), firstRss, lastRss);
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private sealed record Result(string Kind, TimeSpan Started, TimeSpan Latency, int Status, bool RetryAfter);

    private sealed record Summary(string Markdown, long FirstRss, long LastRss);
}
