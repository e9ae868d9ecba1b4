using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ImageRetrieval.IntegrationTests.Host.Legacy;

public sealed class LegacyServiceOn : IAsyncLifetime
{
    public static Dictionary<string, string?> Enabled => new() { ["ImageRetrieval:LegacyApi:Enabled"] = "true" };

    public ServiceFactory Factory { get; } = new(overrides: Enabled);

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync() => Client = await Factory.CreateReadyClientAsync();

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}

/// <summary>Requests as the old clients sent them, answers checked field by field against the old services' contract.</summary>
public sealed class LegacyApiTests(LegacyServiceOn service) : IClassFixture<LegacyServiceOn>
{
    /// <summary>The old routes that take an upload in the <c>file</c> field.</summary>
    public static TheoryData<string> UploadRoutes => new() { "/embed", "/push_image", "/search_image" };

    private const string MissingFileBody = """{"detail":[{"type":"missing","loc":["body","file"],"msg":"Field required","input":null}]}""";

    [Fact]
    public async Task Given_the_shared_photos_When_posted_to_embed_Then_each_answer_is_the_raw_cls_vector_of_the_old_service()
    {
        using var reference = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Paths.RepoRoot, "tests", "fixtures", "parity", "vit-tiny.json")));
        var compared = 0;
        foreach (var entry in reference.RootElement.GetProperty("cls_raw").EnumerateObject())
        {
            using var response = await service.Client.PostAsync(Route("/embed"), OldClient.Form(File.ReadAllBytes(Path.Combine(Paths.OriginalPhotos, entry.Name))));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(JsonValueKind.Array, body.GetValueKind());
            var vector = body.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            var expected = entry.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray();

            Assert.Equal(48, vector.Length);
            var norm = Norm(vector);
            var expectedNorm = Norm(expected);
            Assert.True(Math.Abs(norm - expectedNorm) <= 0.01 * expectedNorm, $"{entry.Name}: norm {norm}, reference {expectedNorm}");
            var cosine = vector.Zip(expected, (a, b) => a * b).Sum() / (norm * expectedNorm);
            Assert.True(cosine >= 0.999, $"{entry.Name}: cosine {cosine}");
            compared++;
        }

        Assert.True(compared >= 10, $"only {compared} reference vectors");
    }

    [Fact]
    public async Task Given_a_photo_When_pushed_Then_the_answer_has_the_old_fields_and_signed_url_is_the_v1_url()
    {
        var bytes = File.ReadAllBytes(Paths.PhotoFiles.First(f => f.EndsWith(".jpg", StringComparison.Ordinal)));

        using var response = await service.Client.PostAsync(Route("/push_image"), OldClient.Form(bytes));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(["message", "file_id", "gcs_path", "signed_url"], body.Select(p => p.Key));
        Assert.Equal("Successfully!", body["message"]!.GetValue<string>());
        var id = body["file_id"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f]{32}$", id);
        Assert.EndsWith($"images/{id}.jpg", body["gcs_path"]!.GetValue<string>(), StringComparison.Ordinal);

        var v1 = await service.Client.GetFromJsonAsync<JsonObject>(Route($"/api/v1/images/{id}"));
        var signedUrl = body["signed_url"]!.GetValue<string>();
        Assert.Equal(v1!["url"]!.GetValue<string>(), signedUrl);
        Assert.Equal(bytes, await service.Client.GetByteArrayAsync(new Uri(signedUrl)));
    }

    [Fact]
    public async Task Given_the_same_bytes_pushed_twice_Then_both_answers_name_the_same_image()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Paths.Photos, "hard", "exif-rotated.jpg"));
        var first = await (await service.Client.PostAsync(Route("/push_image"), OldClient.Form(bytes))).Content.ReadFromJsonAsync<JsonObject>();
        var second = await (await service.Client.PostAsync(Route("/push_image"), OldClient.Form(bytes))).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("Successfully!", second!["message"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(first, second));
    }

    [Fact]
    public async Task Given_several_pushed_photos_When_one_is_the_query_Then_search_image_answers_at_most_five_urls_with_it_first()
    {
        var photos = Paths.PhotoFiles.Take(8).ToList();
        var urls = new Dictionary<string, string>();
        foreach (var photo in photos)
        {
            var pushed = await (await service.Client.PostAsync(Route("/push_image"), OldClient.Form(File.ReadAllBytes(photo)))).Content.ReadFromJsonAsync<JsonObject>();
            urls[photo] = pushed!["signed_url"]!.GetValue<string>();
        }

        var query = photos[3];
        using var response = await service.Client.PostAsync(Route("/search_image"), OldClient.Form(File.ReadAllBytes(query)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(JsonValueKind.Array, body.GetValueKind());
        var results = body.AsArray().Select(u => u!.GetValue<string>()).ToList();
        Assert.Equal(5, results.Count);
        Assert.Equal(urls[query], results[0]);
        Assert.Equal(results.Count, results.Distinct().Count());
        Assert.All(results, u => Assert.True(Uri.IsWellFormedUriString(u, UriKind.Absolute), u));
    }

    [Fact]
    public async Task Given_an_empty_store_When_searched_Then_the_answer_is_an_empty_array()
    {
        await using var empty = new ServiceFactory(overrides: LegacyServiceOn.Enabled);
        var client = await empty.CreateReadyClientAsync();
        using var response = await client.PostAsync(Route("/search_image"), OldClient.Form(File.ReadAllBytes(Paths.PhotoFiles[0])));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[]", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Given_healthz_Then_the_answer_is_status_healthy()
    {
        using var response = await service.Client.GetAsync(Route("/healthz"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"status":"healthy"}""", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [MemberData(nameof(UploadRoutes))]
    public async Task Given_a_text_file_named_image_jpg_Then_400_with_a_detail_string(string route) =>
        await AssertNotAnImageAsync(route, Encoding.UTF8.GetBytes("this is not an image\n"));

    [Theory]
    [MemberData(nameof(UploadRoutes))]
    public async Task Given_a_truncated_or_empty_jpeg_Then_400_with_a_detail_string(string route)
    {
        await AssertNotAnImageAsync(route, File.ReadAllBytes(Path.Combine(Paths.Photos, "hard", "truncated.jpg")));
        await AssertNotAnImageAsync(route, []);
    }

    [Theory]
    [MemberData(nameof(UploadRoutes))]
    public async Task Given_a_file_over_the_size_limit_Then_400_with_a_detail_string_not_413(string route)
    {
        await using var small = new ServiceFactory(overrides: new Dictionary<string, string?>(LegacyServiceOn.Enabled) { ["ImageRetrieval:Limits:MaxFileBytes"] = "100000" });
        var client = await small.CreateReadyClientAsync();
        var big = Paths.PhotoFiles.First(f => new FileInfo(f).Length > 100_000);
        using var response = await client.PostAsync(Route(route), OldClient.Form(File.ReadAllBytes(big)));
        var detail = await AssertDetailAsync(response);
        Assert.Contains("limit", detail, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(UploadRoutes))]
    public async Task Given_a_multipart_body_cut_off_before_its_closing_boundary_Then_400_with_a_detail_string(string route)
    {
        using var content = new ByteArrayContent(Encoding.ASCII.GetBytes(
            "--cut\r\nContent-Disposition: form-data; name=\"file\"; filename=\"image.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nthe first bytes of a jpeg"));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=cut");

        using var response = await service.Client.PostAsync(Route(route), content);

        Assert.Equal("There was an error parsing the body", await AssertDetailAsync(response));
    }

    [Theory]
    [MemberData(nameof(UploadRoutes))]
    public async Task Given_no_file_field_Then_422_in_fastapi_validation_shape(string route)
    {
        // The image under another field name, a form without files (what requests sends for data= alone), and no body: FastAPI answered each with the same 422.
        var wrongField = new MultipartFormDataContent { { new ByteArrayContent(File.ReadAllBytes(Paths.PhotoFiles[0])), "image", "image.jpg" } };
        var noBody = new ByteArrayContent([]);
        foreach (var content in new HttpContent[] { wrongField, new FormUrlEncodedContent([new("top_k", "5")]), noBody })
        {
            using (content)
            using (var response = await service.Client.PostAsync(Route(route), content))
            {
                Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"{content.GetType().Name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
                Assert.True(JsonNode.DeepEquals(JsonNode.Parse(MissingFileBody), JsonNode.Parse(await response.Content.ReadAsStringAsync())),
                    await response.Content.ReadAsStringAsync());
            }
        }
    }

    [Fact]
    public async Task Given_the_switch_on_Then_the_openapi_document_lists_the_routes_deprecated_under_the_legacy_tag()
    {
        var document = (await service.Client.GetFromJsonAsync<JsonObject>(Route("/openapi/v1.json")))!;
        var paths = document["paths"]!;
        foreach (var (path, method) in new[] { ("/embed", "post"), ("/push_image", "post"), ("/search_image", "post"), ("/healthz", "get") })
        {
            var operation = paths[path]?[method]?.AsObject();
            Assert.True(operation is not null, $"{method} {path} is missing");
            Assert.Equal(["legacy"], operation["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
            Assert.True(operation["deprecated"]!.GetValue<bool>(), path);
            Assert.StartsWith("Legacy", operation["operationId"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.False(string.IsNullOrEmpty(operation["summary"]?.GetValue<string>()), path);
            Assert.NotNull(operation["security"]);
            Assert.NotNull(operation["responses"]!["200"]!["content"]!["application/json"]!["schema"]);
            if (method == "post")
            {
                var body = operation["requestBody"]!;
                Assert.True(body["required"]!.GetValue<bool>());
                var schema = body["content"]!["multipart/form-data"]!["schema"]!;
                Assert.Equal(["file"], schema["required"]!.AsArray().Select(r => r!.GetValue<string>()));
                Assert.Equal("binary", schema["properties"]!["file"]!["format"]!.GetValue<string>());
                Assert.Equal("detail", Resolve(document, operation["responses"]!["400"]!["content"]!["application/json"]!["schema"]!)["required"]![0]!.GetValue<string>());
                var validation = Resolve(document, operation["responses"]!["422"]!["content"]!["application/json"]!["schema"]!);
                var item = Resolve(document, Resolve(document, validation["properties"]!["detail"]!)["items"]!);
                Assert.Equal(["type", "loc", "msg", "input"], item["properties"]!.AsObject().Select(p => p.Key));
            }
        }

        Assert.Equal("array", Resolve(document, paths["/embed"]!["post"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!)["type"]!.GetValue<string>());
        var urls = Resolve(document, paths["/search_image"]!["post"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!);
        Assert.Equal("string", urls["items"]!["type"]!.GetValue<string>());
        var push = Resolve(document, paths["/push_image"]!["post"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!);
        Assert.Equal(["message", "file_id", "gcs_path", "signed_url"], push["properties"]!.AsObject().Select(p => p.Key));
        Assert.Null(paths["/api/v1/search"]!["post"]!["deprecated"]);
    }

    private static Uri Route(string path) => new(path, UriKind.Relative);

    private static double Norm(double[] vector) => Math.Sqrt(vector.Sum(v => v * v));

    /// <summary>Posts bytes that are no image: 400 with a detail string, on /embed the old service's own words (its clients' tests compare them).</summary>
    private async Task AssertNotAnImageAsync(string route, byte[] bytes)
    {
        using var response = await service.Client.PostAsync(Route(route), OldClient.Form(bytes));
        var detail = await AssertDetailAsync(response);
        if (route == "/embed")
        {
            Assert.Equal("Uploaded file is not a valid image.", detail);
        }
    }

    private static async Task<string> AssertDetailAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(["detail"], body.Select(p => p.Key));
        var detail = body["detail"]!.GetValue<string>();
        Assert.False(string.IsNullOrWhiteSpace(detail));
        return detail;
    }

    private static JsonNode Resolve(JsonObject document, JsonNode schema) =>
        schema["$ref"]?.GetValue<string>() is { } reference
            ? document["components"]!["schemas"]![reference["#/components/schemas/".Length..]]!
            : schema;
}

/// <summary>With the switch in its default position the old routes do not exist and the v1 API is unchanged.</summary>
public sealed class LegacyApiSwitchedOffTests
{
    [Fact]
    public async Task Given_the_default_configuration_Then_the_old_routes_are_404_and_absent_from_the_document_and_v1_works()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        var photo = File.ReadAllBytes(Paths.PhotoFiles[0]);

        foreach (var route in new[] { "/embed", "/push_image", "/search_image" })
        {
            using var response = await client.PostAsync(new Uri(route, UriKind.Relative), OldClient.Form(photo));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(new Uri("/healthz", UriKind.Relative))).StatusCode);

        var document = await client.GetFromJsonAsync<JsonObject>(new Uri("/openapi/v1.json", UriKind.Relative));
        var paths = document!["paths"]!.AsObject();
        Assert.DoesNotContain(paths, p => p.Key is "/embed" or "/push_image" or "/search_image" or "/healthz");
        Assert.DoesNotContain(paths.SelectMany(p => p.Value!.AsObject()), o => o.Value!["tags"]?.AsArray().Any(t => t!.GetValue<string>() == "legacy") == true);

        using var ingest = Multipart.Files("files", Paths.PhotoFiles[0]);
        using var ingested = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), ingest);
        Assert.Equal(HttpStatusCode.OK, ingested.StatusCode);
        using var search = Multipart.Files("file", Paths.PhotoFiles[0]);
        var found = await (await client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), search)).Content.ReadFromJsonAsync<JsonObject>();
        var id = (await ingested.Content.ReadFromJsonAsync<JsonObject>())!["items"]![0]!["image"]!["id"]!.GetValue<string>();
        Assert.Equal(id, found!["results"]![0]!["id"]!.GetValue<string>());
    }
}

/// <summary>The multipart body the old services' clients sent: <c>files={"file": ("image.jpg", bytes, "image/jpeg")}</c> in Python requests.</summary>
internal static class OldClient
{
    public static MultipartFormDataContent Form(byte[] bytes)
    {
        var part = new ByteArrayContent(bytes);
        part.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        // requests writes exactly this header: quoted name and filename, no filename*.
        part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"file\"", FileName = "\"image.jpg\"" };
        var form = new MultipartFormDataContent();
        form.Add(part);
        return form;
    }
}
