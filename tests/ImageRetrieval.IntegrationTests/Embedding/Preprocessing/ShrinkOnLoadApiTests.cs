using System.Numerics.Tensors;

namespace ImageRetrieval.IntegrationTests.Embedding.Preprocessing;

/// <summary>
/// JPEG shrink-on-load is the default and <c>Embedding:ShrinkOnLoad=false</c> restores exact decoding:
/// a camera-sized JPEG then embeds exactly as a lossless PNG of every pixel it decodes to (PNGs are never
/// shrunk), and by default it embeds from fewer pixels, close to but not equal to that.
/// </summary>
public sealed class ShrinkOnLoadApiTests
{
    private static readonly Uri Embeddings = new("/api/v1/embeddings", UriKind.Relative);

    [Fact]
    public async Task Given_a_camera_sized_jpeg_Then_exact_decoding_by_configuration_matches_its_lossless_copy_and_the_default_shrink_stays_close()
    {
        using var source = NetVips.Image.NewFromFile(Path.Combine(Paths.Photos, "opencv-aero1.jpg"));
        using var large = source.Resize(1600.0 / source.Width, vscale: 1200.0 / source.Height);
        var jpeg = large.JpegsaveBuffer(q: 90);
        using var decoded = NetVips.Image.NewFromBuffer(jpeg);
        var png = decoded.PngsaveBuffer(compression: 1);

        await using var exactService = new ServiceFactory(overrides: new Dictionary<string, string?> { ["ImageRetrieval:Embedding:ShrinkOnLoad"] = "false" });
        var exact = await exactService.CreateReadyClientAsync();
        var exactJpeg = await EmbedAsync(exact, "large.jpg", jpeg);
        var exactPng = await EmbedAsync(exact, "large.png", png);
        Assert.Equal(exactPng, exactJpeg);

        await using var defaultService = new ServiceFactory();
        var shrunkJpeg = await EmbedAsync(await defaultService.CreateReadyClientAsync(), "large.jpg", jpeg);
        Assert.NotEqual(exactJpeg, shrunkJpeg);
        var cosine = TensorPrimitives.CosineSimilarity(exactJpeg, shrunkJpeg);
        Assert.True(cosine >= 0.995f, $"cosine {cosine}");
    }

    private static async Task<float[]> EmbedAsync(HttpClient client, string name, byte[] bytes)
    {
        using var form = new MultipartFormDataContent { { Multipart.Bytes(name, bytes), "files", name } };
        using var response = await client.PostAsync(Embeddings, form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();
        return body!["embeddings"]![0]!["vector"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
    }
}
