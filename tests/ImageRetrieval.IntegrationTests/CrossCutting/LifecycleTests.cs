namespace ImageRetrieval.IntegrationTests.CrossCutting;

public sealed class LifecycleTests
{
    [Fact]
    public async Task Given_a_stored_image_When_deleted_Then_it_is_gone_from_records_content_and_search()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        var path = Paths.PhotoFiles[5];
        var id = await ImagesApi.IngestAsync(client, path);

        using var deleted = await client.DeleteAsync(new Uri($"/api/v1/images/{id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(new Uri($"/api/v1/images/{id}", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(new Uri($"/api/v1/images/{id}/content", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync(new Uri($"/api/v1/images/{id}", UriKind.Relative))).StatusCode);
        Assert.Empty(Directory.GetFiles(Path.Combine(factory.DataPath, "blobs"), "*", SearchOption.AllDirectories));

        using var form = Multipart.Files("file", path);
        var search = await (await client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), form)).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Empty(search!["results"]!.AsArray());
    }

    [Fact]
    public async Task Given_stored_images_When_the_service_restarts_Then_records_bytes_and_search_survive()
    {
        using var temp = new TempDirectory("ir-restart-");
        var dataPath = temp.Path;
        var ids = new List<string>();
        await using (var first = new ServiceFactory(dataPath: dataPath))
        {
            var client = await first.CreateReadyClientAsync();
            foreach (var path in Paths.PhotoFiles.Take(4))
            {
                ids.Add(await ImagesApi.IngestAsync(client, path));
            }
        }

        await using var second = new ServiceFactory(dataPath: dataPath);
        var again = await second.CreateReadyClientAsync();
        var page = await again.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=100", UriKind.Relative));
        Assert.Equal(ids.Order(StringComparer.Ordinal), page!["items"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
        using var form = Multipart.Files("file", Paths.PhotoFiles[2]);
        var search = await (await again.PostAsync(new Uri("/api/v1/search", UriKind.Relative), form)).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(ids[2], search!["results"]![0]!["id"]!.GetValue<string>());
        Assert.Equal(File.ReadAllBytes(Paths.PhotoFiles[1]), await again.GetByteArrayAsync(new Uri($"/api/v1/images/{ids[1]}/content", UriKind.Relative)));
    }

    [Fact]
    public async Task Given_a_collection_built_with_another_model_When_writing_or_searching_Then_409_explains_how_to_reindex()
    {
        using var temp = new TempDirectory("ir-mismatch-");
        var dataPath = temp.Path;
        await using (var first = new ServiceFactory(dataPath: dataPath))
        {
            await ImagesApi.IngestAsync(await first.CreateReadyClientAsync(), Paths.PhotoFiles[0]);
        }

        await using var other = new ServiceFactory(model: "vit-tiny-crop", dataPath: dataPath);
        var client = await other.CreateReadyClientAsync();
        foreach (var (route, field) in new[] { ("/api/v1/images", "files"), ("/api/v1/search", "file") })
        {
            using var form = Multipart.Files(field, Paths.PhotoFiles[1]);
            using var response = await client.PostAsync(new Uri(route, UriKind.Relative), form);
            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
            Assert.Equal("urn:image-retrieval:problem:model-mismatch", problem!["type"]!.GetValue<string>());
            Assert.Contains("reindex", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Given_the_same_bytes_sent_concurrently_Then_exactly_one_request_creates_the_image()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            using var form = Multipart.Files("files", Paths.PhotoFiles[3]);
            using var response = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
            return (await response.Content.ReadFromJsonAsync<JsonObject>())!["items"]![0]!;
        }));

        Assert.Single(responses, r => r["created"]!.GetValue<bool>());
        Assert.Single(responses.Select(r => r["image"]!["createdAt"]!.GetValue<string>()).Distinct());
    }
}
