using System.Text.Json;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;
using Mediator;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.IntegrationTests.Ingesting.Catalog;

/// <summary>Records another system left in an adopted index: listed, searched and reindexed without failing.</summary>
public sealed class ForeignRecordsTests
{
    [Fact]
    public async Task Given_records_not_written_by_this_service_When_listing_searching_and_reindexing_Then_none_fails_and_they_are_presented_or_skipped()
    {
        using var temp = new TempDirectory("ir-foreign-");
        var dataPath = temp.Path;
        string ours;
        await using (var old = new ServiceFactory(dataPath: dataPath))
        {
            var client = await old.CreateReadyClientAsync();
            ours = await ImagesApi.IngestAsync(client, Paths.PhotoFiles[0]);
            var model = await old.Services.GetRequiredService<IMediator>().Send(new GetEmbeddingModel());

            // What the old Python system left in an adopted index: its own metadata, none of ours, odd system-looking keys.
            var vector = Enumerable.Range(0, model.Dimension).Select(i => i == 0 ? 1f : 0.01f).ToArray();
            var foreign = new Dictionary<string, JsonElement>
            {
                ["gcs_uri"] = JsonSerializer.SerializeToElement("gs://old-bucket/cat.jpg"),
                ["label"] = JsonSerializer.SerializeToElement("cat"),
                ["_createdAt"] = JsonSerializer.SerializeToElement("yesterday"),
                ["_width"] = JsonSerializer.SerializeToElement(1e300),
                ["_blobKey"] = JsonSerializer.SerializeToElement("../../etc/passwd"),
            };
            await old.Services.GetRequiredService<IVectorStore>().UpsertAsync(
                [new VectorRecord("legacy-0001", vector, foreign), new VectorRecord("fedcba9876543210fedcba9876543210", vector, foreign)], default);

            var page = await client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=100", UriKind.Relative));
            var items = page!["items"]!.AsArray();
            Assert.Equal(3, items.Count);
            var legacy = items.Single(i => i!["id"]!.GetValue<string>() == "legacy-0001")!;
            Assert.Equal("cat", legacy["metadata"]!["label"]!.GetValue<string>());
            Assert.Equal(0, legacy["width"]!.GetValue<int>());

            using var query = Multipart.Files("file", Paths.PhotoFiles[0]);
            using var response = await client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), query);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var results = (await response.Content.ReadFromJsonAsync<JsonObject>())!["results"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()).ToList();
            Assert.Equal([ours], results);

            using var similar = await client.GetAsync(new Uri($"/api/v1/images/{ours}/similar?topK=5", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, similar.StatusCode);
            using var content = await client.GetAsync(new Uri("/api/v1/images/fedcba9876543210fedcba9876543210/content", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, content.StatusCode);
            using var record = await client.GetAsync(new Uri("/api/v1/images/fedcba9876543210fedcba9876543210", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, record.StatusCode);
        }

        await using var current = new ServiceFactory(model: "vit-tiny-crop", dataPath: dataPath);
        await current.CreateReadyClientAsync();
        var result = await current.Services.GetRequiredService<IMediator>().Send(new ReindexImages());
        Assert.Equal((1, 2, 0, true), (result.Reindexed, result.Foreign, result.Failed, result.Switched));
    }
}
