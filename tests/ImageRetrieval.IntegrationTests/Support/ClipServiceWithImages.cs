using System.Numerics.Tensors;

namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>
/// The CLIP fixture with eight photos ingested, for search by text and combined queries, with the vector
/// arithmetic their assertions share. A collection fixture: one instance for the search and query tests.
/// </summary>
[CollectionDefinition(Collection)]
public sealed class ClipServiceWithImages : IAsyncLifetime, ICollectionFixture<ClipServiceWithImages>
{
    public const string Collection = "clip with images";

    public ServiceFactory Factory { get; } = new(model: "clip-tiny");

    public HttpClient Client { get; private set; } = null!;

    /// <summary>Stored id -> the photo's file and its image embedding as /embeddings returns it.</summary>
    public Dictionary<string, (string File, float[] Vector)> Images { get; } = [];

    public async Task InitializeAsync()
    {
        Client = await Factory.CreateReadyClientAsync();
        var files = Paths.PhotoFiles.Take(8).ToArray();
        using var ingest = await Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), Multipart.Files("files", files));
        var items = (await ingest.Content.ReadFromJsonAsync<JsonObject>())!["items"]!.AsArray();
        using var embed = await Client.PostAsync(new Uri("/api/v1/embeddings", UriKind.Relative), Multipart.Files("files", files));
        var vectors = (await embed.Content.ReadFromJsonAsync<JsonObject>())!["embeddings"]!.AsArray();
        for (var i = 0; i < files.Length; i++)
        {
            Images[items[i]!["image"]!["id"]!.GetValue<string>()] = (files[i], Floats(vectors[i]!["vector"]!));
        }
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();

    public static float[] Floats(JsonNode node) => node.AsArray().Select(v => v!.GetValue<float>()).ToArray();

    /// <summary>The text tower's vector for <paramref name="text"/>, as /embeddings/text returns it.</summary>
    public async Task<float[]> TextVectorAsync(string text)
    {
        var body = await (await Client.PostAsJsonAsync(new Uri("/api/v1/embeddings/text", UriKind.Relative), new { texts = new[] { text } })).Content.ReadFromJsonAsync<JsonObject>();
        return Floats(body!["embeddings"]![0]!["vector"]!);
    }

    public static List<(string Id, float Score)> Hits(JsonObject body) =>
        body["results"]!.AsArray().Select(r => (r!["id"]!.GetValue<string>(), r["score"]!.GetValue<float>())).ToList();

    public static float[] Normalized(float[] v) => v.Select(x => x / TensorPrimitives.Norm(v)).ToArray();

    /// <summary>Every hit's score is the cosine of the expected query vector and that image, and they come best first.</summary>
    public void AssertRankedBy(float[] expectedQuery, List<(string Id, float Score)> hits, int expectedCount, params string[] excluded)
    {
        Assert.Equal(expectedCount, hits.Count);
        foreach (var (id, score) in hits)
        {
            Assert.Equal(TensorPrimitives.CosineSimilarity(expectedQuery, Images[id].Vector), score, 3);
        }

        Assert.Equal(hits.Select(h => h.Score).OrderDescending(), hits.Select(h => h.Score));
        var best = Images.Where(i => !excluded.Contains(i.Key)).MaxBy(i => TensorPrimitives.CosineSimilarity(expectedQuery, i.Value.Vector)).Key;
        Assert.Equal(best, hits[0].Id);
        Assert.DoesNotContain(hits, h => excluded.Contains(h.Id));
    }
}
