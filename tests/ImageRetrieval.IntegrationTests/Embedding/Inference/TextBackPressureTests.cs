namespace ImageRetrieval.IntegrationTests.Embedding.Inference;

/// <summary>
/// The text queue is bounded by Embedding:MaxQueueLength as the image queue is: a flood of text work
/// past it gets 503 <c>overloaded</c> with Retry-After and nothing else goes wrong; text queries are
/// answered while bulk image work is still running.
/// </summary>
public sealed class TextBackPressureTests
{
    private const int Bound = 64;
    private static readonly Uri TextEmbeddings = new("/api/v1/embeddings/text", UriKind.Relative);

    [Fact]
    public async Task Given_a_flood_of_text_requests_past_the_bound_Then_the_excess_gets_503_with_retry_after_and_nothing_else_fails()
    {
        await using var factory = new ServiceFactory(model: "clip-tiny", overrides: new Dictionary<string, string?>
        {
            ["ImageRetrieval:Embedding:MaxQueueLength"] = Bound.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        var client = await factory.CreateReadyClientAsync();

        // Each request fills the bound alone (64 texts that each tokenize to the whole context), so any
        // two that overlap cannot both be admitted.
        var texts = Enumerable.Range(0, Bound).Select(i => $"{i} " + string.Concat(Enumerable.Repeat("a photo of a cat on a red sofa ", 60))).ToArray();
        var statuses = new List<HttpStatusCode>();
        for (var round = 0; round < 3; round++)
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => client.PostAsJsonAsync(TextEmbeddings, new { texts })));
            foreach (var response in responses)
            {
                using (response)
                {
                    statuses.Add(response.StatusCode);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
                        Assert.Equal(Bound, body!["embeddings"]!.AsArray().Count);
                        continue;
                    }

                    Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                    Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {response.Headers.RetryAfter}");
                    var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
                    Assert.Equal("urn:image-retrieval:problem:overloaded", problem!["type"]!.GetValue<string>());
                    Assert.Contains($"texts are already waiting to be embedded; {Bound} more would pass the limit of {Bound}", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
                }
            }
        }

        Assert.Contains(HttpStatusCode.OK, statuses);
        Assert.Contains(HttpStatusCode.ServiceUnavailable, statuses);

        // Every place was given back: a text search and a full request both go through once the flood is over.
        using (var search = await client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), new MultipartFormDataContent { { new StringContent("a cat"), "text" } }))
        {
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        }

        using var after = await client.PostAsJsonAsync(TextEmbeddings, new { texts });
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Given_bulk_image_and_text_work_in_flight_When_a_text_search_arrives_Then_it_is_answered_before_the_image_backlog()
    {
        // Six images that take a while to decode, sent as bulk work on one decoding thread.
        await using var backlog = await BulkImageBacklog.StartAsync(model: "clip-tiny");
        var client = backlog.Client;

        var bulkTexts = client.PostAsJsonAsync(TextEmbeddings, new { texts = Enumerable.Range(0, 32).Select(i => $"text number {i}").ToArray() });
        foreach (var query in new[] { "a cat", "a red car at night" })
        {
            using var search = await client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), new MultipartFormDataContent { { new StringContent(query), "text" } });
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        }

        Assert.False(backlog.Request.IsCompleted, "the text searches should have been answered while the bulk image work still runs");
        using (var texts = await bulkTexts)
        {
            Assert.Equal(HttpStatusCode.OK, texts.StatusCode);
        }

        using var done = await backlog.Request;
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
    }
}
