namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>
/// One service with every fixture photo ingested, shared by the image-resource tests of several use cases
/// (search, similar, list, get, ingest). A collection fixture: one instance for all of them, run one after another.
/// </summary>
[CollectionDefinition(Collection)]
public sealed class IngestedPhotos : IAsyncLifetime, ICollectionFixture<IngestedPhotos>
{
    public const string Collection = "ingested photos";

    public ServiceFactory Factory { get; } = new();

    public HttpClient Client { get; private set; } = null!;

    public Dictionary<string, string> IdByFile { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Client = await Factory.CreateReadyClientAsync();
        IdByFile = await ImagesApi.IngestAllAsync(Client, Paths.PhotoFiles, """{"set":"fixtures","batch":1}""");
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}
