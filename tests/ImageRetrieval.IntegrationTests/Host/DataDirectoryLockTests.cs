using Xunit.Abstractions;

namespace ImageRetrieval.IntegrationTests.Host;

/// <summary>One process per Local data directory, shown with real processes; bulk loading goes through the running service instead.</summary>
public sealed class DataDirectoryLockTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Given_a_running_service_When_a_second_service_or_an_ingest_opens_its_data_directory_Then_they_exit_at_once_and_ingest_server_works()
    {
        using var temp = new TempDirectory("ir-lock-");
        var dataPath = temp.Path;
        var incoming = temp.AddPhotos("incoming", 3);

        using var service = await ServiceProcess.StartAsync(dataPath);

        var second = ServiceProcess.HostCommand(dataPath);
        second.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        var (exit, text, elapsed) = await ServiceProcess.RunAsync(second);
        output.WriteLine($"second service: exit {exit} after {elapsed.TotalSeconds:F1}s: {text.Trim()}");
        Assert.Equal(75, exit);
        Assert.Contains("is in use by another process", text, StringComparison.Ordinal);
        Assert.Contains($"pid={service.Id} purpose=service", text, StringComparison.Ordinal);

        (exit, text, elapsed) = await ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, "ingest", incoming));
        output.WriteLine($"ingest beside the service: exit {exit} after {elapsed.TotalSeconds:F1}s");
        Assert.Equal(75, exit);
        Assert.Contains($"pid={service.Id}", text, StringComparison.Ordinal);
        Assert.Contains("--server", text, StringComparison.Ordinal);

        (exit, text, elapsed) = await ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, "ingest", incoming, "--server", service.BaseAddress.ToString(), "--metadata", """{"album":"sent"}"""));
        output.WriteLine($"ingest --server: exit {exit} after {elapsed.TotalSeconds:F1}s: {text.Trim()}");
        Assert.Equal(0, exit);
        Assert.Contains("3 new, 0 already stored, 0 failed", text, StringComparison.Ordinal);
        Assert.Contains("ingest [", text, StringComparison.Ordinal);

        (exit, text, _) = await ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, "ingest", incoming, "--server", service.BaseAddress.ToString()));
        Assert.Equal(0, exit);
        Assert.Contains("0 new, 3 already stored", text, StringComparison.Ordinal);

        using var client = service.Client();
        var page = await client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=100", UriKind.Relative));
        var items = page!["items"]!.AsArray();
        Assert.Equal(3, items.Count);
        Assert.All(items, i => Assert.Equal("sent", i!["metadata"]!["album"]!.GetValue<string>()));

        service.Kill();
        (exit, text, _) = await ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, "ingest", incoming));
        Assert.Equal(0, exit);
        Assert.Contains("0 new, 3 already stored", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_service_that_refuses_keys_When_ingest_server_has_none_Then_every_file_fails_with_the_problem_detail()
    {
        using var temp = new TempDirectory("ir-lock-");
        var dataPath = temp.Path;
        var incoming = Path.Combine(dataPath, "incoming");
        Directory.CreateDirectory(incoming);
        File.Copy(Paths.PhotoFiles[0], Path.Combine(incoming, "a.jpg"));
        using var service = await ServiceProcess.StartAsync(dataPath, "vit-tiny", new Dictionary<string, string> { ["ImageRetrieval__Auth__ApiKeys__0"] = "secret-key" });

        var (exit, text, _) = await ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, "ingest", incoming, "--server", service.BaseAddress.ToString()));
        Assert.Equal(1, exit);
        Assert.Contains("401", text, StringComparison.Ordinal);

        (exit, text, _) = await ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, "ingest", incoming, "--server", service.BaseAddress.ToString(), "--api-key", "secret-key"));
        Assert.Equal(0, exit);
        Assert.Contains("1 new", text, StringComparison.Ordinal);
    }
}
