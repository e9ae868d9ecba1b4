using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Numerics.Tensors;
using System.Text.Json.Nodes;

namespace ImageRetrieval.IntegrationTests.Retrieval.Search;

/// <summary>The CLIP fixture with eight photos ingested, for search by text and combined queries.</summary>
public sealed class ClipServiceWithImages : IAsyncLifetime
{
    public ServiceFactory Factory { get; } = new(model: "clip-tiny");

    public HttpClient Client { get; private set; } = null!;

    /// <summary>Stored id -> the photo's file and its image embedding as /embeddings returns it.</summary>
    public Dictionary<string, (string File, float[] Vector)> Images { get; } = [];

    public async Task InitializeAsync()
    {
        Client = await Factory.CreateReadyClientAsync();
        var files = Paths.PhotoFiles.Take(8).ToArray();
        using var ingest = await Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), Multipart.Files("files", files));
        var items = (await ingest.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray();
        using var embed = await Client.PostAsync(new Uri("/api/v1/embeddings", UriKind.Relative), Multipart.Files("files", files));
        var vectors = (await embed.Content.ReadFromJsonAsync<JsonObject>())!["embeddings"]!.AsArray();
        for (var i = 0; i < files.Length; i++)
        {
            Images[items[i]!["image"]!["id"]!.GetValue<string>()] = (files[i], TextSearchTests.Floats(vectors[i]!["vector"]!));
        }
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}

public sealed class TextSearchTests(ClipServiceWithImages clip, ServiceWithSmallLimits imageOnly) : IClassFixture<ClipServiceWithImages>, IClassFixture<ServiceWithSmallLimits>
{
    private static readonly Uri Search = new("/api/v1/search", UriKind.Relative);
    private static readonly Uri Query = new("/api/v1/query", UriKind.Relative);

    internal static float[] Floats(JsonNode node) => node.AsArray().Select(v => v!.GetValue<float>()).ToArray();

    private async Task<float[]> TextVectorAsync(string text)
    {
        var body = await (await clip.Client.PostAsJsonAsync(new Uri("/api/v1/embeddings/text", UriKind.Relative), new { texts = new[] { text } })).Content.ReadFromJsonAsync<JsonObject>();
        return Floats(body!["embeddings"]![0]!["vector"]!);
    }

    private static List<(string Id, float Score)> Hits(JsonObject body) =>
        body["results"]!.AsArray().Select(r => (r!["id"]!.GetValue<string>(), r["score"]!.GetValue<float>())).ToList();

    private static float[] Normalized(float[] v) => v.Select(x => x / TensorPrimitives.Norm(v)).ToArray();

    /// <summary>Every hit's score is the cosine of the expected query vector and that image, and they come best first.</summary>
    private void AssertRankedBy(float[] expectedQuery, List<(string Id, float Score)> hits, int expectedCount, params string[] excluded)
    {
        Assert.Equal(expectedCount, hits.Count);
        foreach (var (id, score) in hits)
        {
            Assert.Equal(TensorPrimitives.CosineSimilarity(expectedQuery, clip.Images[id].Vector), score, 3);
        }

        Assert.Equal(hits.Select(h => h.Score).OrderDescending(), hits.Select(h => h.Score));
        var best = clip.Images.Where(i => !excluded.Contains(i.Key)).MaxBy(i => TensorPrimitives.CosineSimilarity(expectedQuery, i.Value.Vector)).Key;
        Assert.Equal(best, hits[0].Id);
        Assert.DoesNotContain(hits, h => excluded.Contains(h.Id));
    }

    [Fact]
    public async Task Given_stored_images_When_searched_by_text_Then_hits_are_ranked_by_cosine_to_the_text_embedding()
    {
        using var form = new MultipartFormDataContent { { new StringContent("a photo of a cat"), "text" }, { new StringContent("5"), "topK" } };
        using var response = await clip.Client.PostAsync(Search, form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Contains("+text@", body["model"]!.GetValue<string>(), StringComparison.Ordinal);
        AssertRankedBy(await TextVectorAsync("a photo of a cat"), Hits(body), 5);
        Assert.True(body["tookMs"]!.GetValue<double>() >= 0);
    }

    [Fact]
    public async Task Given_both_file_and_text_or_neither_When_searching_Then_400_names_both_fields()
    {
        using var both = Multipart.Files("file", Paths.PhotoFiles[0]);
        both.Add(new StringContent("a cat"), "text");
        using var neither = new MultipartFormDataContent { { new StringContent("5"), "topK" } };
        foreach (var form in new[] { both, neither })
        {
            using var response = await clip.Client.PostAsync(Search, form);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var errors = (await response.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject();
            Assert.True(errors.ContainsKey("file") && errors.ContainsKey("text"));
        }
    }

    [Fact]
    public async Task Given_a_text_and_a_stored_image_with_weights_When_queried_Then_the_query_is_the_normalised_weighted_sum_and_the_image_is_excluded()
    {
        var (id, (_, imageVector)) = clip.Images.First();
        var text = await TextVectorAsync("a dog running on the beach");
        using var response = await clip.Client.PostAsJsonAsync(Query, new
        {
            terms = new object[] { new { text = "a dog running on the beach" }, new { imageId = id, weight = 2.0 } },
            topK = 100,
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var expected = Normalized(Normalized(text).Zip(Normalized(imageVector), (t, i) => t + (2 * i)).ToArray());
        AssertRankedBy(expected, Hits((await response.Content.ReadFromJsonAsync<JsonObject>())!), 7, id);
    }

    [Fact]
    public async Task Given_a_negative_weight_When_queried_Then_it_pushes_away_and_both_named_images_are_excluded()
    {
        var ids = clip.Images.Keys.Take(2).ToArray();
        using var response = await clip.Client.PostAsJsonAsync(Query, new
        {
            terms = new object[] { new { imageId = ids[0] }, new { imageId = ids[1], weight = -0.5 }, new { text = "sunset", weight = 0.25 } },
            topK = 3,
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sunset = Normalized(await TextVectorAsync("sunset"));
        var a = Normalized(clip.Images[ids[0]].Vector);
        var b = Normalized(clip.Images[ids[1]].Vector);
        var expected = Normalized(a.Select((x, i) => x - (0.5f * b[i]) + (0.25f * sunset[i])).ToArray());
        AssertRankedBy(expected, Hits((await response.Content.ReadFromJsonAsync<JsonObject>())!), 3, ids);
    }

    [Fact]
    public async Task Given_a_base64_image_or_a_raw_vector_When_queried_Then_they_search_like_the_image_itself()
    {
        var (id, (file, vector)) = clip.Images.Last();
        using var byImage = await clip.Client.PostAsJsonAsync(Query, new { terms = new[] { new { image = "data:image/jpeg;base64," + Convert.ToBase64String(await File.ReadAllBytesAsync(file)) } }, topK = 1 });
        Assert.Equal(HttpStatusCode.OK, byImage.StatusCode);
        var hit = Hits((await byImage.Content.ReadFromJsonAsync<JsonObject>())!).Single();
        Assert.Equal(id, hit.Id);
        Assert.Equal(1f, hit.Score, 3);

        using var byVector = await clip.Client.PostAsJsonAsync(Query, new { terms = new[] { new { vector = vector.Select(v => v * 3).ToArray() } }, topK = 8, minScore = 0.9 });
        var hits = Hits((await byVector.Content.ReadFromJsonAsync<JsonObject>())!);
        Assert.Equal(id, hits[0].Id);
        Assert.All(hits, h => Assert.True(h.Score >= 0.9f));
    }

    [Theory]
    [InlineData("""{"terms":[]}""", "terms")]
    [InlineData("""{"terms":[{"text":"a","imageId":"b"}]}""", "terms[0].kind")]
    [InlineData("""{"terms":[{"weight":2}]}""", "terms[0].kind")]
    [InlineData("""{"terms":[{"vector":[1,2,3]}]}""", "terms[0].vector")]
    [InlineData("""{"terms":[{"image":"not base64!"}]}""", "terms[0].image")]
    [InlineData("""{"terms":[{"text":"cat"},{"text":"cat","weight":-1}]}""", "terms")]
    [InlineData("""{"terms":[{"text":"cat"}],"topK":0}""", "topK")]
    [InlineData("""{"terms":[{"text":"cat"}],"filter":[1]}""", "filter")]
    public async Task Given_an_invalid_query_Then_400_names_the_field(string json, string field)
    {
        using var response = await clip.Client.PostAsync(Query, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("urn:image-retrieval:problem:validation", problem["type"]!.GetValue<string>());
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), problem.ToJsonString());
    }

    [Fact]
    public async Task Given_an_unknown_image_id_When_queried_Then_404()
    {
        using var response = await clip.Client.PostAsJsonAsync(Query, new { terms = new[] { new { imageId = new string('0', 32) } } });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Given_an_image_only_model_When_text_is_searched_or_queried_Then_422_text_not_supported_while_image_terms_still_work()
    {
        using var form = new MultipartFormDataContent { { new StringContent("a cat"), "text" } };
        using var search = await imageOnly.Client.PostAsync(Search, form);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, search.StatusCode);
        Assert.Equal("urn:image-retrieval:problem:text-not-supported", (await search.Content.ReadFromJsonAsync<JsonObject>())!["type"]!.GetValue<string>());

        using var query = await imageOnly.Client.PostAsJsonAsync(Query, new { terms = new[] { new { text = "a cat" } } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, query.StatusCode);
        Assert.Contains("text tower", (await query.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        var small = Path.Combine(Paths.Photos, "hard", "grayscale.jpg");
        using var byImage = await imageOnly.Client.PostAsJsonAsync(Query, new { terms = new[] { new { image = Convert.ToBase64String(await File.ReadAllBytesAsync(small)) } }, topK = 1 });
        Assert.Equal(HttpStatusCode.OK, byImage.StatusCode);
    }

    [Fact]
    public async Task Given_an_immich_model_directory_Then_text_search_works_and_embeds_like_the_same_weights_in_the_transformers_js_layout()
    {
        await using var immich = new ServiceFactory(model: "clip-tiny-immich");
        var client = await immich.CreateReadyClientAsync();
        var model = await client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/model", UriKind.Relative));
        Assert.True(model!["textSearch"]!.GetValue<bool>());
        var body = await (await client.PostAsJsonAsync(new Uri("/api/v1/embeddings/text", UriKind.Relative), new { texts = new[] { "a photo of a cat", "café 東京" } })).Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(TensorPrimitives.CosineSimilarity(await TextVectorAsync("a photo of a cat"), Floats(body!["embeddings"]![0]!["vector"]!)) > 0.9999f);
        Assert.True(TensorPrimitives.CosineSimilarity(await TextVectorAsync("café 東京"), Floats(body["embeddings"]![1]!["vector"]!)) > 0.9999f);
    }

    [Fact]
    public async Task Given_the_cli_When_searching_by_text_and_by_image_Then_it_prints_the_top_results()
    {
        var dataPath = Directory.CreateTempSubdirectory("ir-cli-clip-").FullName;
        try
        {
            var photos = Path.Combine(dataPath, "photos");
            Directory.CreateDirectory(photos);
            foreach (var path in Paths.PhotoFiles.Take(4))
            {
                File.Copy(path, Path.Combine(photos, Path.GetFileName(path)));
            }

            Assert.Equal(0, (await RunAsync(dataPath, "clip-tiny", "ingest", photos)).Exit);
            var (exit, output) = await RunAsync(dataPath, "clip-tiny", "search", "a photo of a cat", "--top", "3");
            Assert.Equal(0, exit);
            Assert.Contains("3 results", output, StringComparison.Ordinal);
            Assert.Matches(@"  1\. -?[01]\.\d{4}  [0-9a-f]{32}", output);

            var query = Path.Combine(photos, Path.GetFileName(Paths.PhotoFiles[2]));
            (exit, output) = await RunAsync(dataPath, "clip-tiny", "search", "--image", query, "--top", "1");
            Assert.Equal(0, exit);
            Assert.Matches(@"  1\. 1\.0000  [0-9a-f]{32}", output);

            (exit, output) = await RunAsync(Directory.CreateTempSubdirectory("ir-cli-vit-").FullName, "vit-tiny", "search", "a cat");
            Assert.Equal(1, exit);
            Assert.Contains("text tower", output, StringComparison.Ordinal);
        }
        finally
        {
            ServiceFactory.TryDelete(dataPath);
        }
    }

    private static async Task<(int Exit, string Output)> RunAsync(string dataPath, string model, params string[] arguments)
    {
        var start = CrashDurabilityTests.ServiceProcess.HostCommand(dataPath, arguments);
        start.Environment["ImageRetrieval__Embedding__Model"] = Paths.Model(model);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
