namespace ImageRetrieval.IntegrationTests.Ingesting.Catalog;

/// <summary>The catalogue's blob-exists rule: a record whose bytes are gone is never served and is healed by a re-ingest.</summary>
public sealed class MissingBlobTests
{
    [Fact]
    public async Task Given_a_vector_whose_blob_was_removed_behind_the_services_back_Then_search_never_returns_it()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        var kept = await ImagesApi.IngestAsync(client, Paths.PhotoFiles[0]);
        var lost = await ImagesApi.IngestAsync(client, Paths.PhotoFiles[1]);
        File.Delete(Directory.GetFiles(Path.Combine(factory.DataPath, "blobs"), lost + ".*", SearchOption.AllDirectories).Single());

        using var form = Multipart.Files("file", Paths.PhotoFiles[1]);
        form.Add(new StringContent("10"), "topK");
        var search = await (await client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), form)).Content.ReadFromJsonAsync<JsonObject>();
        var ids = search!["results"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()).ToList();
        Assert.Equal([kept], ids);
        var similar = await client.GetFromJsonAsync<JsonObject>(new Uri($"/api/v1/images/{kept}/similar", UriKind.Relative));
        Assert.Empty(similar!["results"]!.AsArray());
    }

    [Fact]
    public async Task Given_a_stored_image_whose_blob_is_gone_When_the_same_bytes_are_ingested_again_Then_the_blob_is_written_back()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        var id = await ImagesApi.IngestAsync(client, Paths.PhotoFiles[2]);
        var blob = Directory.GetFiles(Path.Combine(factory.DataPath, "blobs"), id + ".*", SearchOption.AllDirectories).Single();
        File.Delete(blob);
        using (var gone = await client.GetAsync(new Uri($"/api/v1/images/{id}/content", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        using var form = Multipart.Files("files", Paths.PhotoFiles[2]);
        using var response = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
        var item = (await response.Content.ReadFromJsonAsync<JsonObject>())!["items"]![0]!;

        Assert.False(item["created"]!.GetValue<bool>());
        Assert.True(File.Exists(blob));
        Assert.Equal(await File.ReadAllBytesAsync(Paths.PhotoFiles[2]), await client.GetByteArrayAsync(new Uri($"/api/v1/images/{id}/content", UriKind.Relative)));
    }

    [Fact]
    public async Task Given_deletes_racing_ingests_of_the_same_bytes_Then_a_record_that_remains_always_has_its_bytes()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        var path = Paths.PhotoFiles[4];
        var id = await ImagesApi.IngestAsync(client, path);
        for (var round = 0; round < 12; round++)
        {
            var ingest = Task.Run(async () =>
            {
                using var form = Multipart.Files("files", path);
                using var response = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            });
            var delete = Task.Run(async () =>
            {
                using var response = await client.DeleteAsync(new Uri($"/api/v1/images/{id}", UriKind.Relative));
                Assert.True(response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.NotFound, response.StatusCode.ToString());
            });
            await Task.WhenAll(ingest, delete);

            using var record = await client.GetAsync(new Uri($"/api/v1/images/{id}", UriKind.Relative));
            if (record.StatusCode == HttpStatusCode.OK)
            {
                using var content = await client.GetAsync(new Uri($"/api/v1/images/{id}/content", UriKind.Relative));
                Assert.True(content.StatusCode == HttpStatusCode.OK, $"round {round}: the record survived without its bytes");
            }
            else
            {
                Assert.Equal(HttpStatusCode.NotFound, record.StatusCode);
                await ImagesApi.IngestAsync(client, path);
            }
        }
    }
}
