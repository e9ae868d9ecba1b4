namespace ImageRetrieval.IntegrationTests.Embedding.Inference;

/// <summary>
/// The inference queue is bounded: past MaxQueueLength images in flight, new work gets a 503
/// <c>overloaded</c> problem with Retry-After at once, and a request whose client has gone away
/// gives its place back without being decoded or embedded.
/// </summary>
public sealed class BackPressureTests
{
    private const int HeavyImages = 4;

    // Two files make the small requests bulk work too, so they queue for the same decoding as the heavy one.
    private const int SmallImages = 2;
    private static readonly Uri Embeddings = new("/api/v1/embeddings", UriKind.Relative);

    [Fact]
    public async Task Given_a_full_queue_Then_new_work_gets_503_with_retry_after_and_an_aborted_request_frees_its_place()
    {
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?>
        {
            ["ImageRetrieval:Embedding:MaxQueueLength"] = (HeavyImages + SmallImages).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ImageRetrieval:Embedding:DecodeParallelism"] = "1",
        });
        var client = await factory.CreateReadyClientAsync();

        // Each step waits for this host's queue-depth gauge to show the state it needs, not for a guess of
        // how long the requests take to get there (a sleep that a loaded machine outruns).
        using var depth = new QueueDepth(factory);

        // Images that take a while to decode (36 MP each, a few KB on the wire) hold all places but one small request's.
        using var heavyForm = Multipart.SlowToDecodeImages(HeavyImages);

        var busy = client.PostAsync(Embeddings, heavyForm);
        await depth.WaitForAsync(HeavyImages, "the heavy request admitted");

        // One more (bulk) request is admitted and waits for the decode slot; its client then goes away.
        using var abandon = new CancellationTokenSource();
        var abandoned = client.PostAsync(Embeddings, SmallForm(), abandon.Token);
        await depth.WaitForAsync(HeavyImages + SmallImages, "the queue full");

        using (var refused = await client.PostAsync(Embeddings, SmallForm()))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {refused.Headers.RetryAfter}");
            var problem = await refused.Content.ReadFromJsonAsync<JsonObject>();
            Assert.Equal("urn:image-retrieval:problem:overloaded", problem!["type"]!.GetValue<string>());
            Assert.Contains($"limit of {HeavyImages + SmallImages}", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        await abandon.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);

        // The abandoned images gave their places back without waiting to be decoded: only the heavy
        // request's places are taken (so it is still running), and there is room again (the new image
        // then waits behind it and succeeds).
        await depth.WaitForAsync(HeavyImages, "the abandoned request's places given back while the heavy request still holds its own");
        using (var admitted = await client.PostAsync(Embeddings, SmallForm()))
        {
            Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        }

        using var done = await busy;
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        await depth.WaitForAsync(0, "every place given back");
    }

    private static MultipartFormDataContent SmallForm() =>
        Multipart.Files("files", Enumerable.Repeat(Path.Combine(Paths.Photos, "hard", "grayscale.jpg"), SmallImages).ToArray());
}
