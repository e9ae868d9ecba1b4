namespace ImageRetrieval.IntegrationTests.Embedding.EmbedImages;

public sealed class EmbeddingsApiTests(ServiceWithSmallLimits service) : IClassFixture<ServiceWithSmallLimits>
{
    private static readonly Uri Embeddings = new("/api/v1/embeddings", UriKind.Relative);

    [Fact]
    public async Task Given_several_files_When_embedded_Then_each_gets_a_named_vector_of_the_model_dimension()
    {
        var files = Paths.PhotoFiles.Where(f => new FileInfo(f).Length < 100_000).Take(3).ToArray();
        using var form = Multipart.Files("files", files);
        using var response = await service.Client.PostAsync(Embeddings, form);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(48, body!["dimension"]!.GetValue<int>());
        Assert.Equal(files.Select(Path.GetFileName), body["embeddings"]!.AsArray().Select(e => e!["fileName"]!.GetValue<string>()));
        Assert.All(body["embeddings"]!.AsArray(), e => Assert.Equal(48, e!["vector"]!.AsArray().Count));
    }

    [Theory]
    [InlineData("not-an-image.jpg", 415, "unsupported-media-type")]
    [InlineData("truncated.jpg", 422, "undecodable-image")]
    public async Task Given_a_file_that_is_not_a_usable_image_Then_the_problem_says_why(string file, int status, string type)
    {
        using var form = Multipart.Files("files", Path.Combine(Paths.Photos, "hard", file));
        using var response = await service.Client.PostAsync(Embeddings, form);
        Assert.Equal(status, (int)response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("urn:image-retrieval:problem:" + type, problem!["type"]!.GetValue<string>());
        Assert.Contains(file, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_file_over_the_byte_limit_Then_413()
    {
        var big = Paths.PhotoFiles.First(f => new FileInfo(f).Length > 100_000);
        using var form = Multipart.Files("files", big);
        using var response = await service.Client.PostAsync(Embeddings, form);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("urn:image-retrieval:problem:file-too-large", (await response.Content.ReadFromJsonAsync<JsonObject>())!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Given_an_image_over_the_pixel_limit_Then_422_before_decoding()
    {
        // A 1000x1000 PNG of one colour is a few KB: small on the wire, large in pixels.
        using var image = NetVips.Image.Black(1000, 1000, bands: 3);
        using var form = new MultipartFormDataContent { { Multipart.Bytes("big.png", image.PngsaveBuffer()), "files", "big.png" } };
        using var response = await service.Client.PostAsync(Embeddings, form);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("urn:image-retrieval:problem:image-too-large", (await response.Content.ReadFromJsonAsync<JsonObject>())!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Given_a_body_over_the_request_limit_Then_413_problem()
    {
        // Every part is under the per-file limit; only the whole body is over MaxRequestBytes.
        using var form = new MultipartFormDataContent();
        for (var i = 0; i < 11; i++)
        {
            form.Add(new ByteArrayContent(new byte[95_000]), "files", $"part{i}.jpg");
        }

        using var response = await service.Client.PostAsync(Embeddings, form);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("urn:image-retrieval:problem:request-too-large", (await response.Content.ReadFromJsonAsync<JsonObject>())!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Given_no_files_or_too_many_Then_400_problem_lists_the_files_field()
    {
        using var empty = new MultipartFormDataContent { { new StringContent("x"), "other" } };
        using var none = await service.Client.PostAsync(Embeddings, empty);
        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        Assert.True((await none.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject().ContainsKey("files"));

        var small = Path.Combine(Paths.Photos, "hard", "exif-rotated.jpg");
        using var many = Multipart.Files("files", small, small, small, small);
        using var tooMany = await service.Client.PostAsync(Embeddings, many);
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
    }

    [Fact]
    public async Task Given_a_json_body_instead_of_multipart_Then_a_4xx_problem_not_500()
    {
        using var response = await service.Client.PostAsync(Embeddings, JsonContent.Create(new { files = "x" }));
        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }
}
