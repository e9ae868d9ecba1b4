namespace ImageRetrieval.IntegrationTests.Ingesting.ListImages;

/// <summary>GET /api/v1/images: cursor paging.</summary>
public sealed class ListImagesTests(IngestedPhotos photos) : IngestedPhotosTests(photos)
{
    [Fact]
    public async Task Given_many_images_When_paging_Then_every_image_appears_exactly_once_in_a_stable_order()
    {
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var body = await Client.GetFromJsonAsync<JsonObject>(new Uri($"/api/v1/images?limit=7{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", UriKind.Relative));
            seen.AddRange(body!["items"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
            cursor = body["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);

        Assert.Equal(seen.Distinct().Count(), seen.Count);
        Assert.Superset(Photos.IdByFile.Values.ToHashSet(), seen.ToHashSet());
        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
    }

    [Theory]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=99999999999", "limit")]
    [InlineData("limit=0", "limit")]
    [InlineData("cursor=not%20base64!", "cursor")]
    [InlineData("cursor=Zm9v%7E", "cursor")]
    public async Task Given_a_malformed_limit_or_cursor_When_listing_Then_a_400_problem_names_it(string query, string field)
    {
        using var response = await Client.GetAsync(new Uri("/api/v1/images?" + query, UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("urn:image-retrieval:problem:validation", problem!["type"]!.GetValue<string>());
        Assert.True(problem["errors"]!.AsObject().ContainsKey(field), problem.ToJsonString());
    }
}
