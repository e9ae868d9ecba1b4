using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Xunit.Abstractions;

namespace ImageRetrieval.IntegrationTests.Ingesting.Reindex;

/// <summary>
/// <c>reindex</c> as a real process beside the running service on the old model, killed with SIGKILL
/// part-way: the service serves every image throughout and after, a re-run resumes and switches, the old
/// service notices the switch and stops writing, and a service on the new model has every acknowledged image.
/// </summary>
public sealed class ReindexCrashTests(ITestOutputHelper output)
{
    private const int Generated = 150;

    private static readonly Dictionary<string, string> FastCheck = new() { ["ImageRetrieval__VectorStore__ModelCheckInterval"] = "00:00:00.500" };

    [Fact]
    public async Task Given_a_reindex_killed_part_way_When_rerun_Then_the_old_model_served_every_image_throughout_and_the_new_one_has_them_all()
    {
        using var temp = new TempDirectory("ir-reindex-kill-");
        var dataPath = temp.Path;
        var incoming = Path.Combine(dataPath, "incoming");
        var generated = TestImages.WritePngs(incoming, Generated);
        var acknowledged = new ConcurrentDictionary<string, string>(generated.ToDictionary(IdOf, p => p));

        using var old = await ServiceProcess.StartAsync(dataPath, "vit-tiny", FastCheck);
        using var client = old.Client();
        var clock = Stopwatch.StartNew();
        var (exit, text, _) = await ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, "vit-tiny", FastCheck, "ingest", incoming, "--server", old.BaseAddress.ToString()));
        Assert.True(exit == 0, text);
        output.WriteLine($"ingest --server of {Generated} PNGs: {clock.Elapsed.TotalSeconds:F1}s");
        Assert.Equal(Generated, await CountAsync(client));

        // Watch the old service the whole time: every listing complete, every search answered.
        using var watching = new CancellationTokenSource();
        var observations = new ConcurrentBag<(int Count, HttpStatusCode Search)>();
        var watcher = WatchAsync(client, observations, watching.Token);

        // First run, killed once it has staged a batch but before it can switch.
        var firstRun = ServiceProcess.HostCommand(dataPath, "vit-tiny-crop", FastCheck, "reindex");
        clock.Restart();
        using (var reindex = Process.Start(firstRun)!)
        {
            var stderr = reindex.StandardError.ReadToEndAsync();
            var during = IngestAsync(client, Paths.PhotoFiles.Take(3), acknowledged);
            string? line;
            while ((line = await reindex.StandardOutput.ReadLineAsync()) is not null && !line.StartsWith("reindex [", StringComparison.Ordinal))
            {
            }

            reindex.Kill(entireProcessTree: true);
            await reindex.WaitForExitAsync();
            output.WriteLine($"first reindex killed after {clock.Elapsed.TotalSeconds:F1}s at: {line}");
            Assert.NotNull(line);
            await during;
            _ = await stderr;
        }

        var vectors = Path.Combine(dataPath, "vectors");
        Assert.False(File.Exists(Path.Combine(vectors, "images.active")), "the killed run must not have switched");
        Assert.True(File.Exists(Path.Combine(vectors, "images.staging")));
        Assert.Equal(acknowledged.Count, await CountAsync(client));
        await Task.Delay(500);
        watching.Cancel();
        await watcher;
        var counts = observations.Select(o => o.Count).ToList();
        output.WriteLine($"while and after the kill: {observations.Count} checks, listed {counts.Min()}..{counts.Max()} images, searches {string.Join(",", observations.Select(o => (int)o.Search).Distinct())}");
        Assert.NotEmpty(observations);
        Assert.All(observations, o => Assert.True(o.Count >= Generated && o.Search == HttpStatusCode.OK, $"listed {o.Count}, search {o.Search}"));

        // Reconcile is refused while the run is unfinished (it would take staged images for orphans).
        old.Kill();
        (exit, text, _) = await ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, "vit-tiny", FastCheck, "reconcile"));
        Assert.Equal(1, exit);
        Assert.Contains("reindex", text, StringComparison.Ordinal);
        using var restarted = await ServiceProcess.StartAsync(dataPath, "vit-tiny", FastCheck);
        using var again = restarted.Client();
        Assert.Equal(acknowledged.Count, await CountAsync(again));

        // Second run to the end, with ingests still arriving at the old service.
        clock.Restart();
        var rerun = ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, "vit-tiny-crop", FastCheck, "reindex"));
        var alongside = IngestAsync(again, Paths.PhotoFiles.Skip(3).Take(3), acknowledged);
        (exit, text, _) = await rerun;
        var rerunTook = clock.Elapsed;
        await alongside;
        output.WriteLine($"second reindex: {rerunTook.TotalSeconds:F1}s: {text.Split('\n').LastOrDefault(l => l.StartsWith("re-indexed", StringComparison.Ordinal))}");
        Assert.True(exit == 0, text);
        Assert.Contains("the collection now serves this model", text, StringComparison.Ordinal);
        var resumed = int.Parse(System.Text.RegularExpressions.Regex.Match(text, @"\((\d+) resumed").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(resumed > 0, "the second run resumes what the first staged");

        // The old-model service notices the switch within a few seconds and stops writing.
        clock.Restart();
        HttpStatusCode status;
        do
        {
            using var form = Multipart.Files("files", Paths.PhotoFiles[6]);
            using var response = await again.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
            status = response.StatusCode;
            if (status == HttpStatusCode.OK)
            {
                acknowledged[IdOf(Paths.PhotoFiles[6])] = Paths.PhotoFiles[6];
                await Task.Delay(100);
            }
        }
        while (status == HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(10));
        output.WriteLine($"old service refused writes {clock.Elapsed.TotalMilliseconds:F0} ms after the reindex ended");
        Assert.Equal(HttpStatusCode.Conflict, status);
        restarted.Kill();

        // The service on the new model: every acknowledged image, searchable, with its bytes.
        using var current = await ServiceProcess.StartAsync(dataPath, "vit-tiny-crop", FastCheck);
        using var http = current.Client();
        var listed = (await http.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=500", UriKind.Relative)))!["items"]!.AsArray()
            .Select(i => i!["id"]!.GetValue<string>()).ToHashSet();
        output.WriteLine($"after: {listed.Count} images listed under the new model, {acknowledged.Count} acknowledged");
        Assert.Equal(acknowledged.Keys.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
        using var query = Multipart.Files("file", Paths.PhotoFiles[1]);
        var search = await (await http.PostAsync(new Uri("/api/v1/search", UriKind.Relative), query)).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(IdOf(Paths.PhotoFiles[1]), search!["results"]![0]!["id"]!.GetValue<string>());
        foreach (var (id, path) in acknowledged)
        {
            Assert.Equal(await File.ReadAllBytesAsync(path), await http.GetByteArrayAsync(new Uri($"/api/v1/images/{id}/content", UriKind.Relative)));
        }

        Assert.Single(Directory.GetFiles(vectors, "*.db"));
        Assert.False(File.Exists(Path.Combine(vectors, "images.db")), "the old collection is dropped after the switch");
    }

    private static string IdOf(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))[..32];

    private static async Task<int> CountAsync(HttpClient client) =>
        (await client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=500", UriKind.Relative)))!["items"]!.AsArray().Count;

    private static async Task IngestAsync(HttpClient client, IEnumerable<string> paths, ConcurrentDictionary<string, string> acknowledged)
    {
        foreach (var path in paths)
        {
            using var form = Multipart.Files("files", path);
            using var response = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                acknowledged[IdOf(path)] = path;
            }
        }
    }

    private static async Task WatchAsync(HttpClient client, ConcurrentBag<(int Count, HttpStatusCode Search)> observations, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var count = await CountAsync(client);
            using var query = Multipart.Files("file", Paths.PhotoFiles[10]);
            using var search = await client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), query, CancellationToken.None);
            observations.Add((count, search.StatusCode));
            try
            {
                await Task.Delay(150, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
