using System.Collections.Concurrent;
using System.Diagnostics;

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
        using var temp = new TempDirectory("ir-kill-");
        var dataPath = temp.Path;
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
}
