namespace ImageRetrieval.IntegrationTests.Retrieval.FindSimilar;

/// <summary>GET /api/v1/images/{id}/similar.</summary>
public sealed class FindSimilarTests(IngestedPhotos photos) : IngestedPhotosTests(photos)
{
    [Fact]
    public async Task Given_a_stored_image_When_asking_for_similar_Then_it_is_excluded_and_hits_are_ordered()
    {
        var id = Photos.IdByFile[Path.GetFileName(Paths.PhotoFiles[3])];
        var body = await Client.GetFromJsonAsync<JsonObject>(new Uri($"/api/v1/images/{id}/similar?topK=4", UriKind.Relative));
        var results = body!["results"]!.AsArray();
        Assert.Equal(4, results.Count);
        Assert.DoesNotContain(results, r => r!["id"]!.GetValue<string>() == id);
    }
}
