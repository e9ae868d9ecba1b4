namespace ImageRetrieval.IntegrationTests.Host.Cli;

/// <summary>The search verb of the Host binary, by text with CLIP and by image.</summary>
public sealed class SearchCommandTests
{
    [Fact]
    public async Task Given_the_cli_When_searching_by_text_and_by_image_Then_it_prints_the_top_results()
    {
        using var temp = new TempDirectory("ir-cli-clip-");
        var dataPath = temp.Path;
        var photos = temp.AddPhotos("photos", 4);

        Assert.Equal(0, (await RunAsync(dataPath, "clip-tiny", "ingest", photos)).Exit);
        var (exit, output) = await RunAsync(dataPath, "clip-tiny", "search", "a photo of a cat", "--top", "3");
        Assert.Equal(0, exit);
        Assert.Contains("3 results", output, StringComparison.Ordinal);
        Assert.Matches(@"  1\. -?[01]\.\d{4}  [0-9a-f]{32}", output);

        var query = Path.Combine(photos, Path.GetFileName(Paths.PhotoFiles[2]));
        (exit, output) = await RunAsync(dataPath, "clip-tiny", "search", "--image", query, "--top", "1");
        Assert.Equal(0, exit);
        Assert.Matches(@"  1\. 1\.0000  [0-9a-f]{32}", output);

        (exit, output) = await RunAsync(Directory.CreateTempSubdirectory("ir-cli-vit-").FullName, "vit-tiny", "search", "a cat");
        Assert.Equal(1, exit);
        Assert.Contains("text tower", output, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output)> RunAsync(string dataPath, string model, params string[] arguments)
    {
        var (exit, output, _) = await ServiceProcess.RunAsync(ServiceProcess.HostCommand(dataPath, model, null, arguments));
        return (exit, output);
    }
}
