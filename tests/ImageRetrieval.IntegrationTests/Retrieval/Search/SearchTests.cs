namespace ImageRetrieval.IntegrationTests.Retrieval.Search;

/// <summary>POST /api/v1/search with an image: exact and near copies come first, filters and links.</summary>
public sealed class SearchTests(IngestedPhotos photos) : IngestedPhotosTests(photos)
{
    [Fact]
    public async Task Given_ingested_photos_When_each_is_searched_Then_it_comes_back_first_with_score_one()
    {
        foreach (var path in Paths.PhotoFiles)
        {
            var results = await SearchAsync(File.ReadAllBytes(path), Path.GetFileName(path));
            Assert.Equal(Photos.IdByFile[Path.GetFileName(path)], results[0]!["id"]!.GetValue<string>());
            Assert.InRange(results[0]!["score"]!.GetValue<float>(), 0.9999f, 1.0001f);
        }
    }

    [Fact]
    public async Task Given_ingested_photos_When_searched_with_a_reencoded_copy_Then_the_original_comes_first()
    {
        foreach (var path in Paths.PhotoFiles)
        {
            using var image = NetVips.Image.NewFromFile(path);
            var results = await SearchAsync(image.JpegsaveBuffer(q: 70), "copy.jpg");
            Assert.Equal(Photos.IdByFile[Path.GetFileName(path)], results[0]!["id"]!.GetValue<string>());
        }
    }

    /// <summary>
    /// The fixture model has random weights, so it knows nothing of objects: a crop moves its embedding
    /// far more than a real ViT's. The bar is set for that model (measured: 27 of 29 first at a 2% crop);
    /// with real weights every photo is expected first.
    /// </summary>
    [Fact]
    public async Task Given_ingested_photos_When_searched_with_a_slightly_cropped_copy_Then_the_original_usually_comes_first()
    {
        var first = 0;
        foreach (var path in Paths.PhotoFiles)
        {
            using var image = NetVips.Image.NewFromFile(path);
            var (left, top) = (image.Width / 50, image.Height / 50);
            using var cropped = image.Crop(left, top, image.Width - 2 * left, image.Height - 2 * top);
            var results = await SearchAsync(cropped.JpegsaveBuffer(q: 85), "crop.jpg");
            first += results[0]!["id"]!.GetValue<string>() == Photos.IdByFile[Path.GetFileName(path)] ? 1 : 0;
        }

        Assert.True(first >= Paths.PhotoFiles.Count * 3 / 4, $"{first} of {Paths.PhotoFiles.Count} cropped copies found their original first");
    }

    [Fact]
    public async Task Given_search_results_Then_they_are_best_first_with_absolute_links_that_serve_the_bytes()
    {
        var path = Paths.PhotoFiles[0];
        var results = await SearchAsync(File.ReadAllBytes(path), "q.jpg", topK: 5);
        Assert.Equal(5, results.Count);
        var scores = results.Select(r => r!["score"]!.GetValue<float>()).ToList();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
        var url = new Uri(results[0]!["url"]!.GetValue<string>());
        Assert.True(url.IsAbsoluteUri);
        using var content = await Client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, content.StatusCode);
        Assert.Equal(File.ReadAllBytes(path), await content.Content.ReadAsByteArrayAsync());
        Assert.Equal(path.EndsWith(".png", StringComparison.Ordinal) ? "image/png" : "image/jpeg", content.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Given_a_metadata_filter_When_searching_Then_only_matching_images_are_returned()
    {
        var path = Path.Combine(Paths.Photos, "hard", "palette.png");
        using (var form = Multipart.Files("files", path))
        {
            form.Add(new StringContent("""{"set":"special","tags":["a","b"]}"""), "metadata");
            (await Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form)).EnsureSuccessStatusCode();
        }

        var special = await SearchAsync(File.ReadAllBytes(Paths.PhotoFiles[0]), "q.jpg", filter: """{"set":"special"}""");
        Assert.Single(special);
        var tagged = await SearchAsync(File.ReadAllBytes(Paths.PhotoFiles[0]), "q.jpg", filter: """{"tags":{"$in":["b","z"]}}""");
        Assert.Single(tagged);
        var fixtures = await SearchAsync(File.ReadAllBytes(Paths.PhotoFiles[0]), "q.jpg", topK: 100, filter: """{"set":{"$in":["fixtures"]},"batch":1}""");
        Assert.Equal(Photos.IdByFile.Count, fixtures.Count);
        var none = await SearchAsync(File.ReadAllBytes(Paths.PhotoFiles[0]), "q.jpg", filter: """{"set":"nothing"}""");
        Assert.Empty(none);
    }

    [Fact]
    public async Task Given_a_min_score_When_searching_Then_weaker_hits_are_dropped()
    {
        var results = await SearchAsync(File.ReadAllBytes(Paths.PhotoFiles[2]), "q.jpg", topK: 100, minScore: 0.999f);
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.True(r!["score"]!.GetValue<float>() >= 0.999f));
    }

    [Theory]
    [InlineData("0", null, null, "topK")]
    [InlineData("101", null, null, "topK")]
    [InlineData(null, "1.5", null, "minScore")]
    [InlineData(null, null, "[1]", "filter")]
    [InlineData(null, null, "{\"a\":{\"$gt\":1}}", "filter")]
    [InlineData(null, null, "{nope", "filter")]
    [InlineData(null, null, "{\"a\":1,\"a\":2}", "filter")]
    [InlineData(null, null, "{\"a\":1e400}", "filter")]
    [InlineData(null, null, "{\"a\":{\"$in\":[[[[1]]]]}}", "filter")]
    [InlineData(null, null, "{\"a\":{\"$eq\":1,\"$eq\":2}}", "filter")]
    [InlineData("abc", null, null, "topK")]
    public async Task Given_invalid_search_parameters_Then_a_400_problem_names_the_field(string? topK, string? minScore, string? filter, string field)
    {
        using var form = Multipart.Files("file", Paths.PhotoFiles[0]);
        if (topK is not null)
        {
            form.Add(new StringContent(topK), "topK");
        }

        if (minScore is not null)
        {
            form.Add(new StringContent(minScore), "minScore");
        }

        if (filter is not null)
        {
            form.Add(new StringContent(filter), "filter");
        }

        using var response = await Client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), form);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("urn:image-retrieval:problem:validation", problem!["type"]!.GetValue<string>());
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), problem.ToJsonString());
    }

    private async Task<JsonArray> SearchAsync(byte[] bytes, string name, int topK = 10, float? minScore = null, string? filter = null)
    {
        using var form = new MultipartFormDataContent { { Multipart.Bytes(name, bytes), "file", name }, { new StringContent(topK.ToString(System.Globalization.CultureInfo.InvariantCulture)), "topK" } };
        if (minScore is { } min)
        {
            form.Add(new StringContent(min.ToString(System.Globalization.CultureInfo.InvariantCulture)), "minScore");
        }

        if (filter is not null)
        {
            form.Add(new StringContent(filter), "filter");
        }

        using var response = await Client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), form);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.StartsWith("vit-tiny#cls@", body["model"]!.GetValue<string>(), StringComparison.Ordinal);
        return body["results"]!.AsArray();
    }
}
