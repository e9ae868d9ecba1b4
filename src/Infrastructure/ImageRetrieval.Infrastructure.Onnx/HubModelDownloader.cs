using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace ImageRetrieval.Infrastructure.Onnx;

/// <summary>
/// Fetches a model repo from a Hugging Face hub (or a mirror named by <c>HF_ENDPOINT</c>) through its
/// <c>/{repo}/resolve/{revision}/{file}</c> URLs into a cache directory. Files land under a
/// <c>.incomplete</c> name and are renamed only when whole (and, for LFS files, when their SHA-256
/// matches the hub's <c>X-Linked-Etag</c>), so a crash never leaves a half-written model.onnx;
/// the next start resumes the partial file with a Range request. The token travels only over https
/// and only to the hub's own host; redirects are followed only to https (a loopback http mirror may
/// redirect within loopback, for local mirrors and tests); a connection that delivers no bytes for
/// <see cref="ModelSourceOptions.DownloadStallTimeout"/> is dropped and the download resumed.
/// </summary>
public sealed partial class HubModelDownloader(HttpClient http, ILogger<HubModelDownloader> logger)
{
    public const string HttpClientName = "huggingface-hub";
    private const int MaxAttempts = 4;
    private const int MaxRedirects = 5;
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")]
    private static partial Regex RepoIdPattern();

    public static bool LooksLikeRepoId(string model) => RepoIdPattern().IsMatch(model) && !model.Contains("..", StringComparison.Ordinal);

    public static string CacheDirectoryFor(string cacheRoot, string repoId, string revision) =>
        Path.Combine(cacheRoot, "hub", repoId.Replace("/", "--", StringComparison.Ordinal), SafeSegment(revision));

    public async Task<ModelFiles> DownloadAsync(ModelSourceOptions options, string cacheRoot, CancellationToken cancellationToken)
    {
        var repo = options.Model;
        if (!LooksLikeRepoId(repo))
        {
            throw new ModelLoadException($"'{repo}' is neither an existing directory nor a hub repo id of the form owner/name.");
        }

        var endpoint = options.HubEndpoint.TrimEnd('/');
        if (!string.IsNullOrEmpty(options.HubToken) && !endpoint.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelLoadException(
                $"HF_TOKEN is set but the hub endpoint {endpoint} is not https; the token is only sent over https. Use an https endpoint or unset HF_TOKEN.");
        }

        var directory = CacheDirectoryFor(cacheRoot, repo, options.Revision);
        Directory.CreateDirectory(directory);
        var context = new RepoFile(endpoint, repo, options.Revision, options.HubToken, directory, options.DownloadStallTimeout);

        await FetchAsync(context, ModelFiles.ConfigFile, required: true, cancellationToken);
        await FetchAsync(context, ModelFiles.PreprocessorConfigFile, required: true, cancellationToken);
        if (IsClip(Path.Combine(directory, ModelFiles.ConfigFile)))
        {
            return await DownloadClipAsync(context, options, cancellationToken);
        }

        // Hub exports keep the graph under onnx/; try that layout first to save a 404 round trip.
        var candidates = ModelFiles.OnnxCandidates(options.Quantized).OrderByDescending(c => c.StartsWith("onnx/", StringComparison.Ordinal));
        var found = false;
        foreach (var candidate in candidates)
        {
            if (await FetchAsync(context, candidate, required: false, cancellationToken))
            {
                found = true;
                break;
            }
        }

        if (!found)
        {
            throw new ModelLoadException(
                $"Repo '{repo}' at '{options.Revision}' has none of {string.Join(", ", ModelFiles.OnnxCandidates(options.Quantized))}.");
        }

        return ModelFiles.FromDirectory(directory, $"{repo}@{options.Revision}", options.Quantized);
    }

    /// <summary>
    /// A transformers.js CLIP repo (as Xenova/clip-vit-base-patch32): both towers and the tokenizer.
    /// Without a text tower the vision tower alone still serves image search.
    /// </summary>
    private async Task<ModelFiles> DownloadClipAsync(RepoFile context, ModelSourceOptions options, CancellationToken cancellationToken)
    {
        var (vision, text) = ModelFiles.ClipTowers(options.Quantized);
        if (!await FetchAsync(context, vision, required: false, cancellationToken))
        {
            throw new ModelLoadException($"Repo '{context.Repo}' at '{options.Revision}' is a CLIP model (config.json model_type clip) but has no {vision}.");
        }

        if (await FetchAsync(context, text, required: false, cancellationToken))
        {
            await FetchAsync(context, ModelFiles.TokenizerFile, required: true, cancellationToken);
            await FetchAsync(context, "tokenizer_config.json", required: false, cancellationToken);
        }

        return ModelFiles.FromDirectory(context.Directory, $"{context.Repo}@{options.Revision}", options.Quantized);
    }

    private static bool IsClip(string configPath)
    {
        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(configPath));
        return document.RootElement.TryGetProperty("model_type", out var type) && type.ValueKind == System.Text.Json.JsonValueKind.String
            && type.GetString() == "clip";
    }

    private sealed record RepoFile(string Endpoint, string Repo, string Revision, string? Token, string Directory, TimeSpan StallTimeout);

    /// <returns>False when the hub says the file does not exist and it is optional.</returns>
    private async Task<bool> FetchAsync(RepoFile repo, string file, bool required, CancellationToken cancellationToken)
    {
        var target = Path.Combine(repo.Directory, file.Replace('/', Path.DirectorySeparatorChar));
        if (File.Exists(target))
        {
            return true;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var url = new Uri($"{repo.Endpoint}/{repo.Repo}/resolve/{Uri.EscapeDataString(repo.Revision)}/{file}");
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var outcome = await TryDownloadOnceAsync(url, repo, target, cancellationToken);
                if (outcome == HttpStatusCode.NotFound)
                {
                    if (required)
                    {
                        throw new ModelLoadException($"{url} answered 404: the repo, revision or file does not exist.");
                    }

                    return false;
                }

                return true;
            }
            catch (Exception ex) when (attempt < MaxAttempts && IsTransient(ex, cancellationToken))
            {
                var delay = TimeSpan.FromSeconds(Math.Pow(2, attempt - 1));
                LogRetrying(logger, file, attempt, delay.TotalSeconds, ex.Message);
                await Task.Delay(delay, cancellationToken);
            }
        }
    }

    private static bool IsTransient(Exception ex, CancellationToken cancellationToken) => ex switch
    {
        HttpRequestException { StatusCode: null or >= HttpStatusCode.InternalServerError or HttpStatusCode.TooManyRequests } => true,
        IOException => true,
        TaskCanceledException => !cancellationToken.IsCancellationRequested,
        _ => false,
    };

    private async Task<HttpStatusCode> TryDownloadOnceAsync(Uri url, RepoFile repo, string target, CancellationToken cancellationToken)
    {
        // Restarted at every read: the attempt fails when no bytes (or no headers) arrive for that long.
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stall.CancelAfter(repo.StallTimeout);
        try
        {
            return await TryDownloadOnceAsync(url, repo.Token, target, stall, repo.StallTimeout, cancellationToken);
        }
        catch (OperationCanceledException) when (stall.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"{url}: no bytes for {repo.StallTimeout.TotalSeconds:F0} s; the download stalled");
        }
    }

    private async Task<HttpStatusCode> TryDownloadOnceAsync(
        Uri url, string? token, string target, CancellationTokenSource stall, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        var partial = target + ".incomplete";
        var resumeFrom = File.Exists(partial) ? new FileInfo(partial).Length : 0;

        using var response = await SendFollowingRedirectsAsync(url, token, resumeFrom, stall.Token);
        var linked = response.Linked;
        var message = response.Message;
        if (message.StatusCode == HttpStatusCode.NotFound)
        {
            return HttpStatusCode.NotFound;
        }

        if (message.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new ModelLoadException($"{url} answered {(int)message.StatusCode}: the repo is gated or private; set HF_TOKEN to a token that can read it.");
        }

        if (message.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The partial file is not a prefix of what the hub serves now; start over.
            File.Delete(partial);
            throw new IOException($"{url}: stale partial download discarded");
        }

        if (!message.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{url} answered {(int)message.StatusCode}", null, message.StatusCode);
        }

        var append = message.StatusCode == HttpStatusCode.PartialContent && resumeFrom > 0;
        if (!append)
        {
            resumeFrom = 0;
        }

        var total = linked.Size ?? (message.Content.Headers.ContentLength is { } length ? length + resumeFrom : null);
        if (append)
        {
            LogResuming(logger, url.AbsolutePath, resumeFrom);
        }

        await using (var output = new FileStream(partial, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        await using (var input = await message.Content.ReadAsStreamAsync(cancellationToken))
        {
            await CopyWithProgressAsync(input, output, resumeFrom, total, Path.GetFileName(target), stall, stallTimeout, cancellationToken);
            await output.FlushAsync(cancellationToken);
            output.Flush(flushToDisk: true);
        }

        var written = new FileInfo(partial).Length;
        if (total is { } expected && written != expected)
        {
            throw new IOException($"{url}: got {written} of {expected} bytes");
        }

        if (linked.Sha256 is { } sha256)
        {
            var actual = await HashFileAsync(partial, cancellationToken);
            if (!string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase))
            {
                File.Delete(partial);
                throw new ModelLoadException($"{url}: SHA-256 {actual} does not match the hub's {sha256}; the partial file was removed.");
            }
        }

        File.Move(partial, target, overwrite: true);
        LogDownloaded(logger, target, written);
        return message.StatusCode;
    }

    private sealed record LinkedFile(long? Size, string? Sha256);

    private sealed class HubResponse(HttpResponseMessage message, LinkedFile linked) : IDisposable
    {
        public HttpResponseMessage Message { get; } = message;

        public LinkedFile Linked { get; } = linked;

        public void Dispose() => Message.Dispose();
    }

    /// <summary>
    /// Redirects are followed by hand: the hub's first answer carries the LFS file's size and SHA-256
    /// (<c>X-Linked-Size</c>, <c>X-Linked-Etag</c>), the token must not travel to the CDN host, and a
    /// redirect to plain http (where anyone on the path could swap the weights) is refused.
    /// </summary>
    private async Task<HubResponse> SendFollowingRedirectsAsync(Uri url, string? token, long resumeFrom, CancellationToken cancellationToken)
    {
        long? linkedSize = null;
        string? linkedSha = null;
        var current = url;
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, current);
            if (!string.IsNullOrEmpty(token) && current.Scheme == Uri.UriSchemeHttps && current.Host == url.Host)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            if (resumeFrom > 0)
            {
                request.Headers.Range = new RangeHeaderValue(resumeFrom, null);
            }

            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.Headers.TryGetValues("X-Linked-Size", out var sizes) && long.TryParse(sizes.First(), out var size))
            {
                linkedSize = size;
            }

            if (response.Headers.TryGetValues("X-Linked-Etag", out var etags))
            {
                var etag = etags.First().Trim('"');
                if (etag.Length == 64 && etag.All(Uri.IsHexDigit))
                {
                    linkedSha = etag;
                }
            }

            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location && hop < MaxRedirects)
            {
                var next = location.IsAbsoluteUri ? location : new Uri(current, location);
                response.Dispose();
                if (!IsFollowable(url, next))
                {
                    throw new ModelLoadException($"{current} redirected to {next.GetLeftPart(UriPartial.Path)}: only redirects to https are followed.");
                }

                current = next;
                continue;
            }

            return new HubResponse(response, new LinkedFile(linkedSize, linkedSha));
        }
    }

    /// <summary>https anywhere; plain http only from a loopback http mirror to loopback (local mirrors and tests, no token involved).</summary>
    private static bool IsFollowable(Uri origin, Uri next) =>
        next.Scheme == Uri.UriSchemeHttps
        || (next.Scheme == Uri.UriSchemeHttp && origin.Scheme == Uri.UriSchemeHttp && origin.IsLoopback && next.IsLoopback);

    private async Task CopyWithProgressAsync(
        Stream input, Stream output, long alreadyHave, long? total, string name, CancellationTokenSource stall, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 16];
        var done = alreadyHave;
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        int read;
        while (true)
        {
            stall.CancelAfter(stallTimeout);
            read = await input.ReadAsync(buffer, stall.Token);
            if (read == 0)
            {
                break;
            }

            await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            done += read;
            if (clock.Elapsed - lastReport >= ProgressInterval)
            {
                lastReport = clock.Elapsed;
                LogProgress(logger, name, done / 1048576.0, total is > 0 ? total.Value / 1048576.0 : double.NaN,
                    total is > 0 ? 100.0 * done / total.Value : double.NaN);
            }
        }
    }

    private static async Task<string> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(path);
        var hash = await SHA256.HashDataAsync(stream, cancellationToken);
        return Convert.ToHexStringLower(hash);
    }

    private static string SafeSegment(string revision) =>
        string.Concat(revision.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));

    [LoggerMessage(Level = LogLevel.Information, Message = "Downloading {File}: {DoneMb:F1} of {TotalMb:F1} MB ({Percent:F0}%)")]
    private static partial void LogProgress(ILogger logger, string file, double doneMb, double totalMb, double percent);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming download of {Path} from byte {Offset}")]
    private static partial void LogResuming(ILogger logger, string path, long offset);

    [LoggerMessage(Level = LogLevel.Information, Message = "Downloaded {Path} ({Bytes} bytes)")]
    private static partial void LogDownloaded(ILogger logger, string path, long bytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Download of {File} failed (attempt {Attempt}); retrying in {DelaySeconds}s: {Reason}")]
    private static partial void LogRetrying(ILogger logger, string file, int attempt, double delaySeconds, string reason);
}
