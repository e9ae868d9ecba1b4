using System.Net.Http.Json;
using System.Text.Json.Nodes;

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

    public Dictionary<string, string> IdByFile { get; } = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        Client = await Factory.CreateReadyClientAsync();
        foreach (var chunk in Paths.PhotoFiles.Chunk(8))
        {
            using var form = Multipart.Files("files", chunk);
            form.Add(new StringContent("""{"set":"fixtures","batch":1}"""), "metadata");
            using var response = await Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadFromJsonAsync<JsonObject>();
            foreach (var item in body!["items"]!.AsArray())
            {
                IdByFile[item!["fileName"]!.GetValue<string>()] = item["image"]!["id"]!.GetValue<string>();
            }
        }
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}
