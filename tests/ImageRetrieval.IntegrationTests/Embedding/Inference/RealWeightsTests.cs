using ImageRetrieval.ModelTools;

namespace ImageRetrieval.IntegrationTests.Embedding.Inference;

/// <summary>
/// The real Host running the ImageNet ResNet-18 (built from its NuGet package on first use into the
/// gitignored .cache/), with every fixture photo ingested: assertions that only a model which knows
/// what is in a picture can pass. Overridable precision, so the int8 variant faces the same bars.
/// </summary>
public abstract class ResNet18Service : IAsyncLifetime
{
    private readonly bool quantized;

    protected ResNet18Service(bool quantized) => this.quantized = quantized;

    public static string ModelDirectory => ModelCache.ResNet18(Path.Combine(Paths.RepoRoot, ".cache", "models"), Paths.Photos);

    public ServiceFactory Factory { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public Dictionary<string, string> IdByFile { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Factory = new ServiceFactory(ModelDirectory, overrides: new Dictionary<string, string?>
        {
            ["ImageRetrieval:Embedding:Quantized"] = quantized ? "true" : "false",
        });
        Client = await Factory.CreateReadyClientAsync();
        IdByFile = await ImagesApi.IngestAllAsync(Client, Paths.PhotoFiles);
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}

public sealed class ResNet18Fp32Service() : ResNet18Service(quantized: false);

public sealed class ResNet18Int8Service() : ResNet18Service(quantized: true);

public abstract class RealWeightsTests(ResNet18Service service)
{
    public static TheoryData<string> CopyKinds => new() { "jpeg-q70", "crop-80", "half-size" };

    /// <summary>Every fixture photo's copy must find its original first (measured: 29 of 29 for each kind, fp32 and int8).</summary>
    [Theory]
    [MemberData(nameof(CopyKinds))]
    public async Task Given_the_fixture_photos_When_a_copy_of_each_is_searched_Then_its_original_comes_first(string kind)
    {
        Assert.Equal(29, service.IdByFile.Count);
        var misses = new List<string>();
        foreach (var path in Paths.PhotoFiles)
        {
            var results = await SearchAsync(Copy(path, kind), 3);
            if (results[0]!["id"]!.GetValue<string>() != service.IdByFile[Path.GetFileName(path)])
            {
                misses.Add(Path.GetFileName(path));
            }
        }

        Assert.True(misses.Count == 0, $"{kind}: originals not first for {string.Join(", ", misses)}");
    }

    [Theory]
    [InlineData("opencv-leuvenA.jpg", "opencv-leuvenB.jpg")]
    [InlineData("opencv-aero1.jpg", "opencv-aero3.jpg")]
    public async Task Given_two_views_of_one_scene_When_one_asks_for_similar_images_Then_the_other_comes_first_well_above_unrelated_photos(string view, string otherView)
    {
        var id = service.IdByFile[view];
        var body = await service.Client.GetFromJsonAsync<JsonObject>(new Uri($"/api/v1/images/{id}/similar?topK=28", UriKind.Relative));
        var results = body!["results"]!.AsArray();
        Assert.Equal(28, results.Count);
        Assert.Equal(service.IdByFile[otherView], results[0]!["id"]!.GetValue<string>());
        var score = results[0]!["score"]!.GetValue<float>();
        var unrelated = results.Skip(1).Select(r => r!["score"]!.GetValue<float>()).ToList();

        // Measured with fp32 on the full-size shared photos: 0.86 (leuven) and 0.85 (aero) against
        // unrelated pairs averaging 0.33; a random-weight model puts every photo near every other.
        Assert.InRange(score, 0.75f, 0.97f);
        Assert.True(score - unrelated.Max() > 0.05f, $"{otherView} {score} vs best unrelated {unrelated.Max()}");
        Assert.True(unrelated.Average() < 0.6f, $"mean unrelated score {unrelated.Average()}");
    }

    private async Task<JsonArray> SearchAsync(byte[] bytes, int topK)
    {
        using var form = new MultipartFormDataContent
        {
            { Multipart.Bytes("query.png", bytes), "file", "query.png" },
            { new StringContent(topK.ToString(System.Globalization.CultureInfo.InvariantCulture)), "topK" },
        };
        using var response = await service.Client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), form);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["results"]!.AsArray();
    }

    /// <summary>The near-duplicates of bench/Bench/AccuracyBench: JPEG q=70, centre crop to 80% per side, half size (PNG).</summary>
    private static byte[] Copy(string path, string kind)
    {
        using var image = NetVips.Image.NewFromFile(path);
        using var rgb = image.HasAlpha() ? image.Flatten(background: [255]) : image.Copy();
        if (kind == "jpeg-q70")
        {
            return rgb.JpegsaveBuffer(q: 70);
        }

        if (kind == "crop-80")
        {
            var (w, h) = ((int)(rgb.Width * 0.8), (int)(rgb.Height * 0.8));
            using var crop = rgb.ExtractArea((rgb.Width - w) / 2, (rgb.Height - h) / 2, w, h);
            return crop.PngsaveBuffer();
        }

        using var half = rgb.Resize(0.5);
        return half.PngsaveBuffer();
    }
}

public sealed class RealWeightsFp32Tests(ResNet18Fp32Service service) : RealWeightsTests(service), IClassFixture<ResNet18Fp32Service>;

public sealed class RealWeightsInt8Tests(ResNet18Int8Service service) : RealWeightsTests(service), IClassFixture<ResNet18Int8Service>;
