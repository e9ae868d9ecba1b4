using ImageRetrieval.Tests;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Configuration;

namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>
/// The real Host over HTTP with a generated fixture model and its own data directory. Settings can
/// be overridden per factory; a second factory on the same data directory is a restart.
/// </summary>
public sealed class ServiceFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> settings;
    private readonly bool ownsDataPath;

    public ServiceFactory(string model = "vit-tiny", string? dataPath = null, IDictionary<string, string?>? overrides = null)
    {
        ownsDataPath = dataPath is null;
        DataPath = dataPath ?? Directory.CreateTempSubdirectory("ir-it-").FullName;
        settings = new Dictionary<string, string?>
        {
            ["ImageRetrieval:DataPath"] = DataPath,
            ["ImageRetrieval:Embedding:Model"] = Path.IsPathRooted(model) ? model : Paths.Model(model),
            ["ImageRetrieval:Embedding:IntraOpThreads"] = "1",
            // A reindex waits twice this after its switch; tests need not wait the production 10 s.
            ["ImageRetrieval:VectorStore:ModelCheckInterval"] = "00:00:00.200",
            ["ImageRetrieval:Logging:Format"] = "text",
            ["Logging:LogLevel:Default"] = "Warning",
            // Readiness is checked in the background; while not ready yet, often, so tests do not wait seconds.
            ["ImageRetrieval:Health:RetryInterval"] = "00:00:00.050",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
    }

    public string DataPath { get; }

    /// <summary>Replaces services after the Host composed them (a fake credential, say).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");

        // UseSetting reaches the configuration Program reads while it composes the app (telemetry,
        // request limits); ConfigureAppConfiguration alone would only apply after that.
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(settings));
        if (ConfigureServices is { } configure)
        {
            builder.ConfigureTestServices(configure);
        }
    }

    /// <summary>A client once the model is loaded (readiness green), so tests never race the background load.</summary>
    public async Task<HttpClient> CreateReadyClientAsync()
    {
        var client = CreateClient();
        for (var attempt = 0; attempt < 200; attempt++)
        {
            using var response = await client.GetAsync(new Uri("/healthz/ready", UriKind.Relative));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return client;
            }

            await Task.Delay(50);
        }

        using var last = await client.GetAsync(new Uri("/healthz/ready", UriKind.Relative));
        throw new TimeoutException("The service did not become ready: " + await last.Content.ReadAsStringAsync());
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await WaitUntilDataDirectoryReleasedAsync();
        if (ownsDataPath)
        {
            TryDelete(DataPath);
        }
    }

    /// <summary>
    /// The base DisposeAsync can return while the host is still being disposed: Program's own RunAsync
    /// disposes the same host on the entry point's thread once it is stopped, and whichever disposal comes
    /// second returns at once. The data-directory lock is released last (it is the first singleton taken),
    /// so a restart on this directory (the next factory) could find it still held and be refused: measured
    /// here, 7 of 12 restarts found it held for up to 370 ms, which the lock's own 2 s grace only hid while
    /// the machine was fast enough. A restart waits for the release itself, as a real one waits for the process to exit.
    /// </summary>
    private async Task WaitUntilDataDirectoryReleasedAsync()
    {
        var lockFile = Path.Combine(DataPath, ImageRetrieval.Infrastructure.Adapters.DataDirectoryLock.WriterLockName);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                // The same exclusive open the lock itself is (flock on Unix); it succeeds only once nobody holds it.
                using var probe = new FileStream(lockFile, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                return;
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException)
            {
                await Task.Delay(10);
            }
        }
    }

    public static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public static class Paths
{
    public static string RepoRoot => RepositoryPaths.RepoRoot;

    public static string Photos => RepositoryPaths.Photos;

    public static string OriginalPhotos => RepositoryPaths.OriginalPhotos;

    public static IReadOnlyList<string> PhotoFiles => Directory.GetFiles(Photos).Where(f => f.EndsWith(".jpg", StringComparison.Ordinal) || f.EndsWith(".png", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();

    public static string Model(string name) => RepositoryPaths.Model(name);
}

public static class Multipart
{
    public static MultipartFormDataContent Files(string field, params string[] paths)
    {
        var form = new MultipartFormDataContent();
        foreach (var path in paths)
        {
            form.Add(Bytes(path, System.IO.File.ReadAllBytes(path)), field, Path.GetFileName(path));
        }

        return form;
    }

    /// <summary>
    /// <paramref name="count"/> black 36 MP PNGs under <c>files</c>: a few KB each on the wire but slow to
    /// decode, so a request of them holds its queue places long enough for a test to act meanwhile.
    /// </summary>
    public static MultipartFormDataContent SlowToDecodeImages(int count)
    {
        using var heavy = NetVips.Image.Black(6000, 6000, bands: 3);
        var png = heavy.PngsaveBuffer(compression: 1);
        var form = new MultipartFormDataContent();
        for (var i = 0; i < count; i++)
        {
            form.Add(Bytes($"heavy{i}.png", png), "files", $"heavy{i}.png");
        }

        return form;
    }

    public static ByteArrayContent Bytes(string name, byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(name.EndsWith(".png", StringComparison.Ordinal) ? "image/png" : "image/jpeg");
        return content;
    }
}
