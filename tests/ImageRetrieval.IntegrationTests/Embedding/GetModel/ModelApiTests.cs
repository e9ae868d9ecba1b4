namespace ImageRetrieval.IntegrationTests.Embedding.GetModel;

/// <summary>GET /api/v1/model for an image-only model and for CLIP.</summary>
public sealed class ModelApiTests(ServiceWithSmallLimits service, ClipService clip) : IClassFixture<ServiceWithSmallLimits>, IClassFixture<ClipService>
{
    [Fact]
    public async Task Given_an_image_only_model_When_the_model_is_asked_for_Then_it_names_it_with_its_dimension_and_no_text_search()
    {
        var body = await service.Client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/model", UriKind.Relative));
        Assert.StartsWith("vit-tiny#", body!["model"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(48, body["dimension"]!.GetValue<int>());
        Assert.False(body["textSearch"]!.GetValue<bool>());

        var document = await service.Client.GetFromJsonAsync<JsonObject>(new Uri("/openapi/v1.json", UriKind.Relative));
        var schema = document!["paths"]!["/api/v1/model"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!;
        Assert.NotNull(schema);
    }

    [Fact]
    public async Task Given_a_clip_model_Then_the_model_says_text_search_and_its_id_names_the_text_tower()
    {
        var body = await clip.Client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/model", UriKind.Relative));
        Assert.True(body!["textSearch"]!.GetValue<bool>());
        Assert.Equal(24, body["dimension"]!.GetValue<int>());
        Assert.Matches("^clip-tiny#image_embeds@[0-9a-f]{12}\\+text@[0-9a-f]{12}$", body["model"]!.GetValue<string>());
    }
}
