using System.Numerics.Tensors;

namespace ImageRetrieval.IntegrationTests.Embedding.EmbedTexts;

public sealed class TextEmbeddingsApiTests(ClipService clip, ServiceWithSmallLimits imageOnly) : IClassFixture<ClipService>, IClassFixture<ServiceWithSmallLimits>
{
    private static readonly Uri TextEmbeddings = new("/api/v1/embeddings/text", UriKind.Relative);

    [Fact]
    public async Task Given_texts_When_embedded_Then_each_gets_its_normalised_vector_in_order_and_equal_texts_get_equal_vectors()
    {
        string[] texts = ["a photo of a cat", "a dog running on the beach", "A PHOTO OF A CAT", "東京の夜景 🐶"];
        using var response = await clip.Client.PostAsJsonAsync(TextEmbeddings, new { texts });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(24, body["dimension"]!.GetValue<int>());
        var embeddings = body["embeddings"]!.AsArray();
        Assert.Equal(texts, embeddings.Select(e => e!["text"]!.GetValue<string>()));
        var vectors = embeddings.Select(e => e!["vector"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray()).ToList();
        Assert.All(vectors, v => Assert.Equal(1f, TensorPrimitives.Norm(v), 4));
        Assert.Equal(vectors[0], vectors[2]);
        Assert.True(TensorPrimitives.CosineSimilarity(vectors[0], vectors[1]) < 0.99f);
    }

    [Fact]
    public async Task Given_64_texts_of_2000_characters_Then_they_are_embedded_and_one_more_of_either_is_a_400()
    {
        var longest = new string('x', 2000);
        using var ok = await clip.Client.PostAsJsonAsync(TextEmbeddings, new { texts = Enumerable.Repeat(longest, 64) });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        foreach (var body in new object[] { new { texts = Enumerable.Repeat("a", 65) }, new { texts = new[] { longest + "x" } }, new { texts = Array.Empty<string>() }, new { } })
        {
            using var response = await clip.Client.PostAsJsonAsync(TextEmbeddings, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
            Assert.Equal("urn:image-retrieval:problem:validation", problem!["type"]!.GetValue<string>());
            Assert.Contains(problem["errors"]!.AsObject(), e => e.Key.StartsWith("texts", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Given_a_body_that_is_not_json_Then_a_400_problem_not_500()
    {
        using var response = await clip.Client.PostAsync(TextEmbeddings, new StringContent("{\"texts\": [1,", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Given_an_image_only_model_When_text_is_embedded_Then_422_text_not_supported_says_which_model_is_needed()
    {
        using var response = await imageOnly.Client.PostAsJsonAsync(TextEmbeddings, new { texts = new[] { "a cat" } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("urn:image-retrieval:problem:text-not-supported", problem!["type"]!.GetValue<string>());
        Assert.Contains("text_model.onnx", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("textual/model.onnx", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
