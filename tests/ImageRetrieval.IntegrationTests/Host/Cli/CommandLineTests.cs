namespace ImageRetrieval.IntegrationTests.Host.Cli;

/// <summary>The Host binary's verbs, run as an operator would, against a data directory the service then serves.</summary>
public sealed class CommandLineTests
{
    [Fact]
    public async Task Given_a_directory_of_photos_When_ingested_twice_Then_the_second_run_stores_nothing_and_the_service_finds_them()
    {
        using var temp = new TempDirectory("ir-cli-");
        var dataPath = temp.Path;
        var source = temp.AddPhotos("incoming", 6);
        Directory.CreateDirectory(Path.Combine(source, "nested"));
        File.Copy(Paths.PhotoFiles[6], Path.Combine(source, "nested", Path.GetFileName(Paths.PhotoFiles[6])));
        File.Copy(Path.Combine(Paths.Photos, "hard", "not-an-image.jpg"), Path.Combine(source, "broken.jpg"));

        var (exit, output) = await RunAsync(dataPath, "ingest", source);
        Assert.Equal(1, exit);
        Assert.Contains("8 files", output, StringComparison.Ordinal);
        Assert.Contains("7 new, 0 already stored, 1 failed", output, StringComparison.Ordinal);

        File.Delete(Path.Combine(source, "broken.jpg"));
        (exit, output) = await RunAsync(dataPath, "ingest", source);
        Assert.Equal(0, exit);
        Assert.Contains("0 new, 7 already stored, 0 failed", output, StringComparison.Ordinal);

        (exit, output) = await RunAsync(dataPath, "reconcile");
        Assert.Equal(0, exit);
        Assert.Contains("scanned 7 blobs, removed 0", output, StringComparison.Ordinal);

        (exit, output) = await RunAsync(dataPath, "compact");
        Assert.Equal(0, exit);
        Assert.Contains("7 rows, 7 -> 7 slots", output, StringComparison.Ordinal);

        await using (var service = new ServiceFactory(dataPath: dataPath))
        {
            var client = await service.CreateReadyClientAsync();
            var page = await client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=100", UriKind.Relative));
            Assert.Equal(7, page!["items"]!.AsArray().Count);
            using var deleted = await client.DeleteAsync(new Uri($"/api/v1/images/{page["items"]![0]!["id"]!.GetValue<string>()}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        // The deleted image's vector slot is reclaimed, and the service serves the six others from the new file.
        (exit, output) = await RunAsync(dataPath, "compact");
        Assert.Equal(0, exit);
        Assert.Contains("6 rows, 7 -> 6 slots", output, StringComparison.Ordinal);
        await using var reopened = new ServiceFactory(dataPath: dataPath);
        var after = await (await reopened.CreateReadyClientAsync()).GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=100", UriKind.Relative));
        Assert.Equal(6, after!["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task Given_an_unknown_directory_Then_ingest_exits_2_with_a_message()
    {
        using var temp = new TempDirectory("ir-cli-");
        var dataPath = temp.Path;
        var (exit, output) = await RunAsync(dataPath, "ingest", "/nonexistent/photos");
        Assert.Equal(2, exit);
        Assert.Contains("is not a directory", output, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output)> RunAsync(string dataPath, params string[] arguments)
    {
        var (exit, output, _) = await ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, arguments));
        return (exit, output);
    }
}
