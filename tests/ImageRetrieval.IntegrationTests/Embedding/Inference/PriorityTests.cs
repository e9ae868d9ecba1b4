namespace ImageRetrieval.IntegrationTests.Embedding.Inference;

/// <summary>
/// Interactive work (a search, a one-file embedding) goes ahead of bulk work (ingest, many files):
/// it does not queue behind a bulk backlog's decoding or inference.
/// </summary>
public sealed class PriorityTests
{
    [Fact]
    public async Task Given_a_bulk_backlog_When_a_search_and_a_one_file_embedding_arrive_Then_both_are_answered_before_the_backlog_is()
    {
        // Six images that take a while to decode, sent as bulk work: one decoding thread works through them one after another.
        await using var backlog = await BulkImageBacklog.StartAsync();
        var client = backlog.Client;

        var photo = Path.Combine(Paths.Photos, "opencv-fruits.jpg");
        using (var search = await client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), Multipart.Files("file", photo)))
        {
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        }

        using (var one = await client.PostAsync(new Uri("/api/v1/embeddings", UriKind.Relative), Multipart.Files("files", photo)))
        {
            Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        }

        Assert.False(backlog.Request.IsCompleted, "the interactive requests should have gone ahead of the bulk backlog");
        using var done = await backlog.Request;
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
    }
}
