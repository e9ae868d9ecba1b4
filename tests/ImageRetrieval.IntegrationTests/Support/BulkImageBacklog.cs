namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>
/// A host with one decoding thread and a bulk backlog admitted to its queue: six slow-to-decode images
/// (36 MP each) posted as one embeddings request. Work that arrives next either goes ahead of the
/// backlog or waits behind it, which is what the priority tests check.
/// </summary>
public sealed class BulkImageBacklog : IAsyncDisposable
{
    private const int Images = 6;
    private readonly ServiceFactory factory;
    private readonly MultipartFormDataContent form;

    private BulkImageBacklog(ServiceFactory factory, HttpClient client, MultipartFormDataContent form, Task<HttpResponseMessage> request)
    {
        this.factory = factory;
        this.form = form;
        Client = client;
        Request = request;
    }

    public HttpClient Client { get; }

    /// <summary>The backlog's own request, still running when <see cref="StartAsync"/> returns.</summary>
    public Task<HttpResponseMessage> Request { get; }

    /// <summary>Starts the host, posts the backlog and returns once the host's queue-depth gauge shows it admitted (not after a guessed sleep).</summary>
    public static async Task<BulkImageBacklog> StartAsync(string model = "vit-tiny")
    {
        var factory = new ServiceFactory(model: model, overrides: new Dictionary<string, string?>
        {
            ["ImageRetrieval:Embedding:DecodeParallelism"] = "1",
        });
        var form = Multipart.SlowToDecodeImages(Images);
        try
        {
            var client = await factory.CreateReadyClientAsync();
            using var depth = new QueueDepth(factory);
            var request = client.PostAsync(new Uri("/api/v1/embeddings", UriKind.Relative), form);
            await depth.WaitForAsync(Images, "the bulk image backlog admitted");
            return new BulkImageBacklog(factory, client, form, request);
        }
        catch
        {
            await factory.DisposeAsync();
            form.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await factory.DisposeAsync();
        form.Dispose();
    }
}
