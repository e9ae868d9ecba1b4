using System.Numerics.Tensors;
using static ImageRetrieval.IntegrationTests.Support.ClipServiceWithImages;

namespace ImageRetrieval.IntegrationTests.Retrieval.Search;

/// <summary>POST /api/v1/search by text (CLIP), and what an image-only model answers instead.</summary>
[Collection(ClipServiceWithImages.Collection)]
public sealed class TextSearchTests(ClipServiceWithImages clip, ServiceWithSmallLimits imageOnly) : IClassFixture<ServiceWithSmallLimits>
{
    private static readonly Uri Search = new("/api/v1/search", UriKind.Relative);
    private static readonly Uri Query = new("/api/v1/query", UriKind.Relative);

    [Fact]
    public async Task Given_stored_images_When_searched_by_text_Then_hits_are_ranked_by_cosine_to_the_text_embedding()
    {
        using var form = new MultipartFormDataContent { { new StringContent("a photo of a cat"), "text" }, { new StringContent("5"), "topK" } };
        using var response = await clip.Client.PostAsync(Search, form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Contains("+text@", body["model"]!.GetValue<string>(), StringComparison.Ordinal);
        clip.AssertRankedBy(await clip.TextVectorAsync("a photo of a cat"), Hits(body), 5);
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
        Assert.True(TensorPrimitives.CosineSimilarity(await clip.TextVectorAsync("a photo of a cat"), Floats(body!["embeddings"]![0]!["vector"]!)) > 0.9999f);
        Assert.True(TensorPrimitives.CosineSimilarity(await clip.TextVectorAsync("café 東京"), Floats(body["embeddings"]![1]!["vector"]!)) > 0.9999f);
    }
}
