using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Net;
using System.Text.Json;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.SharedKernel;
using Mediator;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.IntegrationTests.Ingesting.Reindex;

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

    [Fact]
    public async Task Given_an_unfinished_reindex_When_reconciling_Then_it_is_refused_and_nothing_is_deleted_until_a_reindex_finishes_it()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        await LifecycleTests.IngestAsync(client, Paths.PhotoFiles[0]);
        var orphan = Path.Combine(factory.DataPath, "blobs", "images", "0123456789abcdef0123456789abcdef.jpg");
        await File.WriteAllBytesAsync(orphan, await File.ReadAllBytesAsync(Paths.PhotoFiles[1]));
        var mediator = factory.Services.GetRequiredService<IMediator>();
        var vectors = factory.Services.GetRequiredService<IVectorStore>();
        await vectors.OpenStagingAsync(new CollectionDescriptor("images", "some-other-model", 4), default);

        var refused = await Assert.ThrowsAsync<ServiceProblemException>(async () => await mediator.Send(new ReconcileBlobs()));

        Assert.Equal((409, "reindex-unfinished"), (refused.StatusCode, refused.Slug));
        Assert.Contains("some-other-model", refused.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(orphan));

        // A reindex on the model the collection already holds only finishes: it drops the stale staging collection.
        var finished = await mediator.Send(new ReindexImages());
        Assert.True(finished.Switched);
        Assert.Equal(0, finished.Reindexed);
        Assert.Empty(await vectors.ListInactiveAsync(default));
        Assert.Equal(1, (await mediator.Send(new ReconcileBlobs())).OrphansRemoved);
        Assert.False(File.Exists(orphan));
    }

    [Fact]
    public async Task Given_records_not_written_by_this_service_When_listing_searching_and_reindexing_Then_none_fails_and_they_are_presented_or_skipped()
    {
        var dataPath = Directory.CreateTempSubdirectory("ir-foreign-").FullName;
        try
        {
            string ours;
            await using (var old = new ServiceFactory(dataPath: dataPath))
            {
                var client = await old.CreateReadyClientAsync();
                ours = await LifecycleTests.IngestAsync(client, Paths.PhotoFiles[0]);
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
        finally
        {
            ServiceFactory.TryDelete(dataPath);
        }
    }
}
