namespace ImageRetrieval.IntegrationTests.Ingesting.GetImage;

/// <summary>GET /api/v1/images/{id} (and the 404 every route under an unknown id gives).</summary>
public sealed class GetImageTests(IngestedPhotos photos) : IngestedPhotosTests(photos)
{
    [Fact]
    public async Task Given_an_image_record_When_fetched_Then_it_describes_the_stored_file()
    {
        var path = Paths.PhotoFiles[4];
        var id = Photos.IdByFile[Path.GetFileName(path)];
        var record = await Client.GetFromJsonAsync<JsonObject>(new Uri($"/api/v1/images/{id}", UriKind.Relative));
        Assert.Equal(new FileInfo(path).Length, record!["sizeBytes"]!.GetValue<long>());
        Assert.StartsWith(id, record["sha256"]!.GetValue<string>(), StringComparison.Ordinal);
        using var image = NetVips.Image.NewFromFile(path);
        Assert.Equal(image.Width, record["width"]!.GetValue<int>());
        Assert.Equal(image.Height, record["height"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("/api/v1/images/0123456789abcdef0123456789abcdef")]
    [InlineData("/api/v1/images/not-an-id")]
    [InlineData("/api/v1/images/0123456789abcdef0123456789abcdef/content")]
    [InlineData("/api/v1/images/0123456789abcdef0123456789abcdef/similar")]
    public async Task Given_an_unknown_id_Then_the_answer_is_a_404_problem(string path)
    {
        using var response = await Client.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("urn:image-retrieval:problem:not-found", problem!["type"]!.GetValue<string>());
    }
}
