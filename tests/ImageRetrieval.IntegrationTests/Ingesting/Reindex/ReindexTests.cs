using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;
using Mediator;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.IntegrationTests.Ingesting.Reindex;

/// <summary>The reindex verb through the same mediator request the CLI sends.</summary>
public sealed class ReindexTests
{
    [Fact]
    public async Task Given_a_collection_of_another_model_When_reindexed_Then_search_works_again_and_metadata_is_kept()
    {
        using var temp = new TempDirectory("ir-reindex-");
        var dataPath = temp.Path;
        var ids = new List<string>();
        await using (var old = new ServiceFactory(dataPath: dataPath))
        {
            var client = await old.CreateReadyClientAsync();
            foreach (var path in Paths.PhotoFiles.Take(3))
            {
                using var form = Multipart.Files("files", path);
                form.Add(new StringContent("""{"album":"kept"}"""), "metadata");
                var body = await (await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form)).Content.ReadFromJsonAsync<JsonObject>();
                ids.Add(body!["items"]![0]!["image"]!["id"]!.GetValue<string>());
            }
        }

        await using var current = new ServiceFactory(model: "vit-tiny-crop", dataPath: dataPath);
        var http = await current.CreateReadyClientAsync();
        var result = await current.Services.GetRequiredService<IMediator>().Send(new ReindexImages());
        Assert.Equal(3, result.Reindexed);
        Assert.Equal(0, result.MissingBlobs + result.Failed);
        Assert.StartsWith("vit-tiny-crop#cls@", result.ModelId, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dataPath, "reindex-snapshot-*"));
        Assert.True(result.Switched);
        Assert.Empty(await current.Services.GetRequiredService<IVectorStore>().ListInactiveAsync(default));
        var active = (await File.ReadAllTextAsync(Path.Combine(dataPath, "vectors", "images.active"))).Trim();
        Assert.Equal([active + ".db"], Directory.GetFiles(Path.Combine(dataPath, "vectors"), "*.db").Select(Path.GetFileName));

        using var query = Multipart.Files("file", Paths.PhotoFiles[1]);
        using var response = await http.PostAsync(new Uri("/api/v1/search", UriKind.Relative), query);
        var search = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(response.IsSuccessStatusCode, search?.ToJsonString());
        Assert.Equal(ids[1], search!["results"]![0]!["id"]!.GetValue<string>());
        Assert.Equal("kept", search["results"]![0]!["metadata"]!["album"]!.GetValue<string>());
    }
}
