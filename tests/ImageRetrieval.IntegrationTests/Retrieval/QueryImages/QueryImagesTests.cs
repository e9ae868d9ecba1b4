using static ImageRetrieval.IntegrationTests.Support.ClipServiceWithImages;

namespace ImageRetrieval.IntegrationTests.Retrieval.QueryImages;

/// <summary>POST /api/v1/query: weighted text, stored-image, base64-image and raw-vector terms.</summary>
[Collection(ClipServiceWithImages.Collection)]
public sealed class QueryImagesTests(ClipServiceWithImages clip)
{
    private static readonly Uri Query = new("/api/v1/query", UriKind.Relative);

    [Fact]
    public async Task Given_a_text_and_a_stored_image_with_weights_When_queried_Then_the_query_is_the_normalised_weighted_sum_and_the_image_is_excluded()
    {
        var (id, (_, imageVector)) = clip.Images.First();
        var text = await clip.TextVectorAsync("a dog running on the beach");
        using var response = await clip.Client.PostAsJsonAsync(Query, new
        {
            terms = new object[] { new { text = "a dog running on the beach" }, new { imageId = id, weight = 2.0 } },
            topK = 100,
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var expected = Normalized(Normalized(text).Zip(Normalized(imageVector), (t, i) => t + (2 * i)).ToArray());
        clip.AssertRankedBy(expected, Hits((await response.Content.ReadFromJsonAsync<JsonObject>())!), 7, id);
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
        var sunset = Normalized(await clip.TextVectorAsync("sunset"));
        var a = Normalized(clip.Images[ids[0]].Vector);
        var b = Normalized(clip.Images[ids[1]].Vector);
        var expected = Normalized(a.Select((x, i) => x - (0.5f * b[i]) + (0.25f * sunset[i])).ToArray());
        clip.AssertRankedBy(expected, Hits((await response.Content.ReadFromJsonAsync<JsonObject>())!), 3, ids);
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
}
