namespace ImageRetrieval.IntegrationTests.Ingesting.IngestImages;

/// <summary>POST /api/v1/images: dedup by content, per-file errors, metadata rules.</summary>
public sealed class IngestImagesTests(IngestedPhotos photos) : IngestedPhotosTests(photos)
{
    [Fact]
    public async Task Given_the_same_bytes_When_ingested_again_Then_the_existing_record_is_returned_and_not_created()
    {
        var path = Paths.PhotoFiles[1];
        using var form = Multipart.Files("files", path, path);
        using var response = await Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
        var items = (await response.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray();
        Assert.Equal(2, items.Count);
        Assert.All(items, item =>
        {
            Assert.False(item!["created"]!.GetValue<bool>());
            Assert.Equal(Photos.IdByFile[Path.GetFileName(path)], item["image"]!["id"]!.GetValue<string>());
            Assert.Equal("fixtures", item["image"]!["metadata"]!["set"]!.GetValue<string>());
        });
    }

    [Fact]
    public async Task Given_a_batch_with_a_bad_file_When_ingested_Then_the_bad_file_reports_an_error_and_the_good_one_is_stored()
    {
        using var form = new MultipartFormDataContent
        {
            { Multipart.Bytes("a.jpg", "not an image"u8.ToArray()), "files", "notes.jpg" },
            { Multipart.Bytes("b.jpg", File.ReadAllBytes(Path.Combine(Paths.Photos, "hard", "grayscale.jpg"))), "files", "grayscale.jpg" },
        };
        using var response = await Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var items = (await response.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray();
        Assert.Equal("urn:image-retrieval:problem:unsupported-media-type", items[0]!["error"]!["type"]!.GetValue<string>());
        Assert.Equal(415, items[0]!["error"]!["status"]!.GetValue<int>());
        Assert.Equal("image/jpeg", items[1]!["image"]!["contentType"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"_sha256":"x"}""")]
    [InlineData("""{"nested":{"a":1}}""")]
    [InlineData("""[1,2]""")]
    [InlineData("""{"n":null}""")]
    [InlineData("""{"a":"x","a":"y"}""")]
    [InlineData("""{"big":1e400}""")]
    [InlineData("""{"small":-1e400}""")]
    [InlineData("""{"deep":[[[[["x"]]]]]}""")]
    [InlineData("""{"tags":["a",1]}""")]
    public async Task Given_invalid_metadata_When_ingesting_Then_a_400_problem_names_metadata(string metadata)
    {
        using var form = Multipart.Files("files", Paths.PhotoFiles[0]);
        form.Add(new StringContent(metadata), "metadata");
        using var response = await Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(problem!["errors"]!.AsObject().ContainsKey("metadata"), problem.ToJsonString());
    }

    [Theory]
    [InlineData(17 * 1024, 1, 0, 0)]
    [InlineData(0, 65, 0, 0)]
    [InlineData(0, 1, 1025, 0)]
    [InlineData(0, 1, 0, 101)]
    public async Task Given_metadata_over_a_limit_When_ingesting_Then_a_400_problem_names_metadata_and_nothing_is_stored(int bytes, int keys, int stringLength, int arrayLength)
    {
        var metadata = new JsonObject();
        for (var i = 0; i < keys; i++)
        {
            metadata["k" + i] = bytes > 0 ? new string('b', bytes) : stringLength > 0 ? new string('s', stringLength) : "v";
        }

        if (arrayLength > 0)
        {
            metadata["tags"] = new JsonArray([.. Enumerable.Range(0, arrayLength).Select(i => JsonValue.Create("t" + i))]);
        }

        var before = await Client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=500", UriKind.Relative));
        using var form = Multipart.Files("files", Paths.PhotoFiles[^1]);
        form.Add(new StringContent(metadata.ToJsonString()), "metadata");
        using var response = await Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("urn:image-retrieval:problem:validation", problem!["type"]!.GetValue<string>());
        Assert.True(problem["errors"]!.AsObject().ContainsKey("metadata"), problem.ToJsonString());
        var after = await Client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/images?limit=500", UriKind.Relative));
        Assert.Equal(before!["items"]!.AsArray().Count, after!["items"]!.AsArray().Count);
    }
}
