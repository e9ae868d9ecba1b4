using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ImageRetrieval.Ingesting.Contracts;
using Mediator;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.IntegrationTests;

/// <summary>The operator verbs (reindex, reconcile) through the same mediator requests the CLI sends.</summary>
public sealed class MaintenanceTests
{
    [Fact]
    public async Task Given_a_collection_of_another_model_When_reindexed_Then_search_works_again_and_metadata_is_kept()
    {
        var dataPath = Directory.CreateTempSubdirectory("ir-reindex-").FullName;
        try
        {
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

            using var query = Multipart.Files("file", Paths.PhotoFiles[1]);
            using var response = await http.PostAsync(new Uri("/api/v1/search", UriKind.Relative), query);
            var search = await response.Content.ReadFromJsonAsync<JsonObject>();
            Assert.True(response.IsSuccessStatusCode, search?.ToJsonString());
            Assert.Equal(ids[1], search!["results"]![0]!["id"]!.GetValue<string>());
            Assert.Equal("kept", search["results"]![0]!["metadata"]!["album"]!.GetValue<string>());
        }
        finally
        {
            ServiceFactory.TryDelete(dataPath);
        }
    }

    [Fact]
    public async Task Given_a_blob_without_a_vector_When_reconciled_Then_only_the_orphan_is_removed()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        var id = await LifecycleTests.IngestAsync(client, Paths.PhotoFiles[0]);
        var orphan = Path.Combine(factory.DataPath, "blobs", "images", "0123456789abcdef0123456789abcdef.jpg");
        await File.WriteAllBytesAsync(orphan, await File.ReadAllBytesAsync(Paths.PhotoFiles[1]));

        var result = await factory.Services.GetRequiredService<IMediator>().Send(new ReconcileBlobs());

        Assert.Equal(2, result.BlobsScanned);
        Assert.Equal(1, result.OrphansRemoved);
        Assert.False(File.Exists(orphan));
        Assert.Equal(await File.ReadAllBytesAsync(Paths.PhotoFiles[0]), await client.GetByteArrayAsync(new Uri($"/api/v1/images/{id}/content", UriKind.Relative)));
    }
}
