using System.Text.Json;

namespace ImageRetrieval.IntegrationTests.Embedding.EmbedImages;

/// <summary>POST /api/v1/embeddings against the Pillow + PyTorch reference vectors.</summary>
public sealed class EmbeddingsReferenceTests(IngestedPhotos photos) : IngestedPhotosTests(photos)
{
    [Fact]
    public async Task Given_the_shared_photos_When_embedded_over_http_Then_vectors_match_the_pillow_pytorch_reference()
    {
        using var reference = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Paths.RepoRoot, "tests", "fixtures", "parity", "vit-tiny.json")));
        var cosines = new List<double>();
        foreach (var entry in reference.RootElement.GetProperty("pooling").GetProperty("cls").EnumerateObject())
        {
            var path = Path.Combine(Paths.OriginalPhotos, entry.Name);
            using var form = Multipart.Files("files", path);
            var body = await (await Client.PostAsync(new Uri("/api/v1/embeddings", UriKind.Relative), form)).Content.ReadFromJsonAsync<JsonObject>();
            var vector = body!["embeddings"]![0]!["vector"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            var expected = entry.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            cosines.Add(vector.Zip(expected, (a, b) => a * b).Sum());
            Assert.Equal(1.0, Math.Sqrt(vector.Sum(v => v * v)), 4);
        }

        Assert.Equal(29, cosines.Count);
        Assert.True(cosines.Min() >= 0.995, $"min cosine {cosines.Min()}");
        Assert.True(cosines.Average() >= 0.999, $"mean cosine {cosines.Average()}");
    }
}
