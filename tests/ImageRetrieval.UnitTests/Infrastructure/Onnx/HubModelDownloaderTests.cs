using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ImageRetrieval.Infrastructure.Onnx;
using ImageRetrieval.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace ImageRetrieval.UnitTests.Infrastructure.Onnx;

/// <summary>
/// The downloader against a local server that answers like the Hugging Face hub: small files from
/// <c>/{repo}/resolve/{revision}/{path}</c>, LFS files as a 302 to a CDN path carrying X-Linked-Size and
/// X-Linked-Etag (the SHA-256), Range requests answered with 206. It listens on https (a self-signed
/// certificate the client pins) and on plain http, to check what the downloader sends where.
/// </summary>
public sealed class HubModelDownloaderTests : IAsyncLifetime
{
    private const string Repo = "someone/tiny-vit";
    private const string Token = "hf_test_token";
    private const string ClipRepo = "someone/tiny-clip";
    private readonly byte[] model = File.ReadAllBytes(Path.Combine(RepositoryPaths.Model("vit-tiny-crop"), "onnx", "model.onnx"));
    private readonly byte[] quantized = File.ReadAllBytes(Path.Combine(RepositoryPaths.Model("vit-tiny-crop"), "onnx", "model_quantized.onnx"));
    private readonly ConcurrentQueue<(string Path, string? Range, string? Authorization)> requests = new();
    private readonly string cache = Directory.CreateTempSubdirectory("ir-hub-").FullName;
    private readonly X509Certificate2 certificate = SelfSigned();
    private WebApplication server = null!;
    private string endpoint = null!;
    private string httpEndpoint = null!;

    public int FailModelBodyAfterBytes { get; set; } = -1;

    /// <summary>When positive, the first CDN response sends this many bytes and then nothing, without closing.</summary>
    public int StallModelBodyAfterBytes { get; set; } = -1;

    public string? CorruptEtag { get; set; }

    public bool RequireToken { get; set; } = true;

    /// <summary>Where the hub redirects LFS files; by default the CDN path on the scheme the request came in on.</summary>
    public string? CdnScheme { get; set; }

    public async Task InitializeAsync()
    {
        server = await LoopbackServer.StartAsync(MapHub, kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
        var addresses = server.Addresses();
        endpoint = addresses.Single(a => a.StartsWith("https://", StringComparison.Ordinal));
        httpEndpoint = addresses.Single(a => a.StartsWith("http://", StringComparison.Ordinal));
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        certificate.Dispose();
        Directory.Delete(cache, recursive: true);
    }

    private void MapHub(WebApplication app)
    {
        app.MapGet("/{owner}/{name}/resolve/{revision}/{**path}", (HttpContext context, string owner, string name, string revision, string path) =>
        {
            requests.Enqueue((context.Request.Path, context.Request.Headers.Range.ToString(), context.Request.Headers.Authorization.ToString()));
            if ($"{owner}/{name}" == ClipRepo && revision == "main")
            {
                var clip = Path.Combine(RepositoryPaths.Model("clip-tiny"), path);
                return File.Exists(clip) ? Results.File(File.ReadAllBytes(clip), "application/octet-stream") : Results.NotFound();
            }

            if ($"{owner}/{name}" != Repo || revision != "main")
            {
                return Results.NotFound();
            }

            if (RequireToken && context.Request.Headers.Authorization != $"Bearer {Token}")
            {
                return Results.Unauthorized();
            }

            var source = RepositoryPaths.Model("vit-tiny-crop");
            return path switch
            {
                "config.json" or "preprocessor_config.json" => Results.File(File.ReadAllBytes(Path.Combine(source, path)), "application/json"),
                "onnx/model.onnx" => LfsRedirect(context, "model", model),
                "onnx/model_quantized.onnx" => LfsRedirect(context, "quantized", quantized),
                _ => Results.NotFound(),
            };
        });
        app.MapGet("/cdn/{name}", async (HttpContext context, string name) =>
        {
            requests.Enqueue((context.Request.Path, context.Request.Headers.Range.ToString(), context.Request.Headers.Authorization.ToString()));
            var bytes = name == "model" ? model : quantized;
            var range = context.Request.GetTypedHeaders().Range?.Ranges.Single();
            var from = range?.From ?? 0;
            context.Response.StatusCode = from > 0 ? 206 : 200;
            context.Response.ContentLength = bytes.Length - from;
            if (StallModelBodyAfterBytes > 0 && from == 0)
            {
                await context.Response.Body.WriteAsync(bytes.AsMemory(0, StallModelBodyAfterBytes));
                await context.Response.Body.FlushAsync();
                await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }

            if (FailModelBodyAfterBytes > 0 && from == 0)
            {
                await context.Response.Body.WriteAsync(bytes.AsMemory(0, FailModelBodyAfterBytes));
                await context.Response.Body.FlushAsync();
                context.Abort();
                return;
            }

            await context.Response.Body.WriteAsync(bytes.AsMemory((int)from));
        });
    }

    private IResult LfsRedirect(HttpContext context, string name, byte[] bytes)
    {
        context.Response.Headers["X-Linked-Size"] = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.Headers["X-Linked-Etag"] = $"\"{CorruptEtag ?? Convert.ToHexStringLower(SHA256.HashData(bytes))}\"";
        // The hub sends LFS files to another host (its CDN); "localhost" is another host name for this server.
        var scheme = CdnScheme ?? context.Request.Scheme;
        var port = scheme == context.Request.Scheme ? context.Connection.LocalPort : new Uri(scheme == "https" ? endpoint : httpEndpoint).Port;
        return Results.Redirect($"{scheme}://localhost:{port}/cdn/{name}");
    }

    private Task<ModelFiles> DownloadAsync(bool quantized = false, string? token = Token, bool overHttp = false, TimeSpan? stallTimeout = null)
    {
        var options = new ModelSourceOptions
        {
            Model = Repo, HubEndpoint = overHttp ? httpEndpoint : endpoint, HubToken = token, Quantized = quantized,
            DownloadStallTimeout = stallTimeout ?? TimeSpan.FromSeconds(30),
        };
        return new HubModelDownloader(PinnedClient(), NullLogger<HubModelDownloader>.Instance).DownloadAsync(options, cache, CancellationToken.None);
    }

    /// <summary>Trusts exactly the test server's certificate.</summary>
    private HttpClient PinnedClient()
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString();
        return new HttpClient(handler);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), null);
    }

    [Fact]
    public async Task Given_a_hub_repo_When_downloaded_Then_the_files_land_whole_and_the_token_never_reaches_the_cdn()
    {
        var files = await DownloadAsync();
        Assert.Equal(model, await File.ReadAllBytesAsync(files.OnnxPath));
        Assert.EndsWith(Path.Combine("onnx", "model.onnx"), files.OnnxPath, StringComparison.Ordinal);
        Assert.True(File.Exists(files.PreprocessorConfigPath));
        Assert.Empty(Directory.GetFiles(cache, "*.incomplete", SearchOption.AllDirectories));
        Assert.Equal($"{Repo}@main", files.Name);
        Assert.All(requests.Where(r => r.Path.StartsWith("/cdn", StringComparison.Ordinal)), r => Assert.Equal("", r.Authorization));
        Assert.Contains(requests, r => r.Path.EndsWith("resolve/main/onnx/model.onnx", StringComparison.Ordinal) && r.Authorization == $"Bearer {Token}");
    }

    [Fact]
    public async Task Given_a_cached_model_When_resolved_again_Then_the_hub_is_not_asked()
    {
        await DownloadAsync();
        requests.Clear();
        await DownloadAsync();
        Assert.Empty(requests);
    }

    [Fact]
    public async Task Given_a_connection_dropped_mid_file_When_retried_Then_the_download_resumes_from_the_partial_bytes()
    {
        FailModelBodyAfterBytes = 100_000;
        var files = await DownloadAsync();
        Assert.Equal(model, await File.ReadAllBytesAsync(files.OnnxPath));
        // TLS framing decides how much of the 100000 bytes got through before the abort; the retry resumes from there.
        Assert.Contains(requests, r => r.Path == "/cdn/model" && r.Range is { Length: > 0 } range && range != "bytes=0-");
    }

    [Fact]
    public async Task Given_bytes_that_do_not_match_the_hub_hash_Then_no_model_file_is_left_behind()
    {
        CorruptEtag = new string('0', 64);
        var error = await Assert.ThrowsAsync<ModelLoadException>(() => DownloadAsync());
        Assert.Contains("SHA-256", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(cache, "model.onnx*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Given_a_gated_repo_without_a_token_Then_the_error_says_to_set_HF_TOKEN()
    {
        var error = await Assert.ThrowsAsync<ModelLoadException>(() => DownloadAsync(token: null));
        Assert.Contains("HF_TOKEN", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_the_quantized_variant_is_asked_for_Then_model_quantized_onnx_is_fetched()
    {
        var files = await DownloadAsync(quantized: true);
        Assert.EndsWith("model_quantized.onnx", files.OnnxPath, StringComparison.Ordinal);
        Assert.Equal(quantized, await File.ReadAllBytesAsync(files.OnnxPath));
    }

    [Theory]
    [InlineData(false, "vision_model.onnx", "text_model.onnx")]
    [InlineData(true, "vision_model_quantized.onnx", "text_model_quantized.onnx")]
    public async Task Given_a_transformers_js_clip_repo_When_downloaded_Then_both_towers_and_the_tokenizer_are_fetched(bool quantized, string vision, string text)
    {
        var files = await new HubModelDownloader(PinnedClient(), NullLogger<HubModelDownloader>.Instance)
            .DownloadAsync(new ModelSourceOptions { Model = ClipRepo, HubEndpoint = endpoint, Quantized = quantized }, cache, CancellationToken.None);
        Assert.EndsWith(Path.Combine("onnx", vision), files.OnnxPath, StringComparison.Ordinal);
        Assert.EndsWith(Path.Combine("onnx", text), files.TextOnnxPath, StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(RepositoryPaths.Model("clip-tiny"), "tokenizer.json")), await File.ReadAllBytesAsync(files.TokenizerPath!));
        Assert.DoesNotContain(requests, r => r.Path.EndsWith("/model.onnx", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_a_token_and_a_plain_http_endpoint_Then_nothing_is_sent_and_the_error_says_https()
    {
        var error = await Assert.ThrowsAsync<ModelLoadException>(() => DownloadAsync(overHttp: true));
        Assert.Contains("https", error.Message, StringComparison.Ordinal);
        Assert.Empty(requests);
    }

    [Fact]
    public async Task Given_a_loopback_http_mirror_without_a_token_Then_it_downloads_and_no_authorization_is_sent()
    {
        RequireToken = false;
        var files = await DownloadAsync(token: null, overHttp: true);
        Assert.Equal(model, await File.ReadAllBytesAsync(files.OnnxPath));
        Assert.All(requests, r => Assert.Equal("", r.Authorization));
    }

    [Fact]
    public async Task Given_an_https_hub_that_redirects_to_plain_http_Then_the_redirect_is_refused_and_no_model_is_left()
    {
        CdnScheme = "http";
        var error = await Assert.ThrowsAsync<ModelLoadException>(() => DownloadAsync());
        Assert.Contains("only redirects to https", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(requests, r => r.Path.StartsWith("/cdn", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFiles(cache, "model.onnx", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Given_a_connection_that_stops_sending_mid_file_Then_the_stall_timeout_drops_it_and_the_download_resumes()
    {
        StallModelBodyAfterBytes = 100_000;
        var clock = Stopwatch.StartNew();
        var files = await DownloadAsync(stallTimeout: TimeSpan.FromSeconds(1));
        Assert.Equal(model, await File.ReadAllBytesAsync(files.OnnxPath));
        Assert.Contains(requests, r => r.Path == "/cdn/model" && r.Range is { Length: > 0 } range && range != "bytes=0-");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("owner/name", true)]
    [InlineData("onnx-community/dinov2-small", true)]
    [InlineData("../etc/passwd", false)]
    [InlineData("/abs/path", false)]
    [InlineData("justname", false)]
    public void Given_a_model_setting_Then_only_owner_slash_name_is_a_repo_id(string value, bool isRepo) =>
        Assert.Equal(isRepo, HubModelDownloader.LooksLikeRepoId(value));
}
