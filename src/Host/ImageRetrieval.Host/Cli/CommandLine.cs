using System.Diagnostics;
using System.Globalization;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.SharedKernel;
using Mediator;

namespace ImageRetrieval.Host.Cli;

/// <summary>
/// Verbs of the same binary for operators: bulk ingest, re-index, reconcile and model pre-pull. They
/// compose the same modules as the web service (configuration from appsettings and environment
/// variables) and talk to them through the mediator, so there is one ingest path, not two.
/// </summary>
internal static class CommandLine
{
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".heic", ".heif"];

    private const string Usage = """
        usage: ImageRetrieval.Host [command]
          (no command)            run the web service
          ingest DIR [--concurrency N] [--metadata JSON] [--server URL [--api-key KEY]]
                                  ingest every image under DIR (recursive); safe to re-run: stored images are skipped.
                                  With --server, send them to a running service over HTTP instead of opening the stores
                                  (the key may also come from IMAGE_RETRIEVAL_API_KEY)
          reindex                 build the configured model's collection beside the active one, then switch to it;
                                  the service keeps serving the old one meanwhile; re-run to resume after a stop
          reconcile               delete stored blobs that have no vector (refused while a reindex is unfinished)
          download-model          fetch and verify the configured model into the cache, then exit
          search "TEXT" [--top N] [--filter JSON]
          search --image FILE [--top N] [--filter JSON]
                                  print the stored images closest to a sentence (needs a model with a text tower) or to an image
        """;

    public static bool IsCommand(string[] args) =>
        args.Length > 0 && args[0] is "ingest" or "reindex" or "reconcile" or "download-model" or "search" or "help" or "--help";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args[0] is "help" or "--help")
        {
            Console.WriteLine(Usage);
            return 0;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        if (args[0] == "ingest" && OptionValue(args, "--server") is { } server)
        {
            // Talks to a running service: opens no store and loads no model, so it needs no data directory.
            return await IngestToServerAsync(args[1..], server, cancel.Token);
        }

        // Positional arguments are not configuration; settings come from appsettings.json and ImageRetrieval__* variables.
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Services.AddImageRetrieval(builder.Configuration);
        switch (args[0])
        {
            case "reindex":
                // Reindex writes only its own staging collection, so it runs beside the service (which keeps
                // serving the old one); one reindex at a time.
                builder.Services.AddDataDirectoryLock(builder.Configuration, "reindex", DataDirectoryLock.ReindexLockName);
                break;
            case "ingest":
                builder.Services.AddDataDirectoryLock(builder.Configuration, "ingest", DataDirectoryLock.WriterLockName);
                break;
            case "reconcile":
                // Not while a reindex runs either: late writes it has yet to carry over look like orphans.
                builder.Services.AddDataDirectoryLock(builder.Configuration, "reconcile", DataDirectoryLock.WriterLockName, DataDirectoryLock.ReindexLockName);
                break;
        }

        using var host = builder.Build();
        if (!DataDirectoryOwnership.TryTake(host.Services))
        {
            return DataDirectoryOwnership.InUseExitCode;
        }

        try
        {
            if (args[0] == "download-model")
            {
                using var model = await host.Services.GetRequiredService<ModelLoader>().LoadAsync(cancel.Token);
                Console.WriteLine($"model ready: {model.ModelId} ({model.Dimension}-d)");
                return 0;
            }

            await host.StartAsync(cancel.Token);
            var loaded = await host.Services.GetRequiredService<ModelState>().WhenLoaded.WaitAsync(cancel.Token);
            Console.WriteLine($"model: {loaded.ModelId} ({loaded.Dimension}-d)");
            var mediator = host.Services.GetRequiredService<IMediator>();
            var exit = args[0] switch
            {
                "ingest" => await IngestAsync(mediator, args[1..], cancel.Token),
                "reindex" => await ReindexAsync(mediator, cancel.Token),
                "reconcile" => await ReconcileAsync(mediator, cancel.Token),
                "search" => await SearchAsync(mediator, args[1..], cancel.Token),
                _ => 2,
            };
            await host.StopAsync(CancellationToken.None);
            return exit;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
        catch (Exception ex) when (ex is ServiceProblemException or FluentValidation.ValidationException or Infrastructure.Onnx.ModelLoadException or IOException or ArgumentException or StoreRequestException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    private static Task<int> IngestAsync(IMediator mediator, string[] args, CancellationToken cancellationToken) =>
        IngestFilesAsync(args, async (upload, metadata, token) =>
        {
            try
            {
                var item = (await mediator.Send(new IngestImages([upload], metadata), token)).Items[0];
                return item.Error is { } error ? IngestOutcome.Failed(error.Detail) : item.Created ? IngestOutcome.Created : IngestOutcome.Existing;
            }
            catch (FluentValidation.ValidationException ex)
            {
                return IngestOutcome.Failed(ex.Message);
            }
        }, cancellationToken);

    private static async Task<int> IngestToServerAsync(string[] args, string server, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(server.TrimEnd('/') + "/", UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
        {
            Console.Error.WriteLine($"error: --server '{server}' is not an http(s) URL");
            return 2;
        }

        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(5) };
        if ((OptionValue(args, "--api-key") ?? Environment.GetEnvironmentVariable("IMAGE_RETRIEVAL_API_KEY")) is { Length: > 0 } key)
        {
            http.DefaultRequestHeaders.Add(Api.AuthOptions.HeaderName, key);
        }

        var sender = new ServerIngestClient(http);
        return await IngestFilesAsync(args, sender.SendAsync, cancellationToken);
    }

    /// <summary>The walk, concurrency, progress bar and summary both ingest modes share; <paramref name="send"/> stores one file.</summary>
    private static async Task<int> IngestFilesAsync(
        string[] args, Func<ImageUpload, IReadOnlyDictionary<string, System.Text.Json.JsonElement>?, CancellationToken, Task<IngestOutcome>> send, CancellationToken cancellationToken)
    {
        if (args.Length == 0 || !Directory.Exists(args[0]))
        {
            Console.Error.WriteLine(args.Length == 0 ? Usage : $"error: '{args[0]}' is not a directory");
            return 2;
        }

        var concurrency = OptionValue(args, "--concurrency") is { } c ? int.Parse(c, CultureInfo.InvariantCulture) : Math.Max(2, Environment.ProcessorCount);
        // Parsed within the default bounds; the ingest validator then applies the configured ones.
        var metadata = SharedKernel.Web.FormJson.ParseObject(OptionValue(args, "--metadata"), "metadata", new SharedKernel.ImageLimitsOptions())?
            .EnumerateObject().ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
        var files = Directory.EnumerateFiles(args[0], "*", SearchOption.AllDirectories)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        var progress = new ProgressBar(files.Count, "ingest");
        int created = 0, existing = 0, failed = 0;
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (path, token) =>
        {
            var upload = new ImageUpload(Path.GetRelativePath(args[0], path), await File.ReadAllBytesAsync(path, token));
            var outcome = await send(upload, metadata, token);
            if (outcome.Error is { } error)
            {
                Interlocked.Increment(ref failed);
                progress.Note($"{upload.FileName}: {error}");
            }
            else
            {
                Interlocked.Increment(ref outcome.IsNew ? ref created : ref existing);
            }

            progress.Advance($"new {Volatile.Read(ref created)}, already stored {Volatile.Read(ref existing)}, failed {Volatile.Read(ref failed)}");
        });
        progress.Finish();
        Console.WriteLine($"ingested {files.Count} files from {args[0]}: {created} new, {existing} already stored, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    private static async Task<int> ReindexAsync(IMediator mediator, CancellationToken cancellationToken)
    {
        ProgressBar? bar = null;
        var result = await mediator.Send(new ReindexImages(new Progress<ReindexProgress>(p =>
        {
            bar ??= new ProgressBar(p.Total, "reindex");
            bar.Set(p.Done, "");
        })), cancellationToken);
        bar?.Finish();
        Console.WriteLine(
            $"re-indexed {result.Reindexed} images with {result.ModelId} ({result.Resumed} resumed from an earlier run, {result.CarriedOver} carried over after the switch); " +
            $"{result.MissingBlobs} missing blobs, {result.Foreign} records not written by this service, {result.Failed} failed; " +
            (result.Switched ? "the collection now serves this model" : "NOT switched: the old collection still serves, re-run reindex to resume"));
        return result.Failed == 0 && result.Switched ? 0 : 1;
    }

    private static async Task<int> ReconcileAsync(IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new ReconcileBlobs(), cancellationToken);
        Console.WriteLine($"scanned {result.BlobsScanned} blobs, removed {result.OrphansRemoved} without a vector");
        return 0;
    }

    private static async Task<int> SearchAsync(IMediator mediator, string[] args, CancellationToken cancellationToken)
    {
        var image = OptionValue(args, "--image");
        var top = OptionValue(args, "--top") is { } t ? int.Parse(t, CultureInfo.InvariantCulture) : 10;
        var filter = SharedKernel.Web.FormJson.ParseObject(OptionValue(args, "--filter"), "filter", new SharedKernel.ImageLimitsOptions());
        var options = new HashSet<string>(["--image", "--top", "--filter"], StringComparer.Ordinal);
        var positional = args.Where((a, i) => !options.Contains(a) && (i == 0 || !options.Contains(args[i - 1]))).ToList();
        if ((image is null) == (positional.Count == 0) || positional.Count > 1)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var result = image is not null
            ? await mediator.Send(new Retrieval.Contracts.SearchByImage(new ImageUpload(Path.GetFileName(image), await File.ReadAllBytesAsync(image, cancellationToken)), top, null, filter), cancellationToken)
            : await mediator.Send(new Retrieval.Contracts.SearchByText(positional[0], top, null, filter), cancellationToken);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.Results.Count} results in {result.TookMs:F1} ms"));
        var rank = 0;
        foreach (var hit in result.Results)
        {
            var metadata = hit.Image.Metadata.Count == 0 ? "" : " " + System.Text.Json.JsonSerializer.Serialize(hit.Image.Metadata);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{++rank,3}. {hit.Score:F4}  {hit.Image.Id}  {hit.Image.Width}x{hit.Image.Height}{metadata}"));
        }

        return 0;
    }

    private static string? OptionValue(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    /// <summary>A one-line progress bar on a terminal; a line per 10% when output is redirected (CI logs).</summary>
    private sealed class ProgressBar(int total, string label)
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private readonly Lock gate = new();
        private int done;
        private int lastDecile = -1;

        public void Advance(string status)
        {
            lock (gate)
            {
                Render(++done, status);
            }
        }

        public void Set(int value, string status)
        {
            lock (gate)
            {
                done = value;
                Render(done, status);
            }
        }

        public void Note(string message)
        {
            lock (gate)
            {
                Console.Error.WriteLine(Console.IsOutputRedirected ? message : "\r" + message.PadRight(Console.WindowWidth > 0 ? Console.WindowWidth - 1 : 80));
            }
        }

        public void Finish() =>
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(Console.IsOutputRedirected ? "" : " ")}{label} took {clock.Elapsed.TotalSeconds:F1}s"));

        private void Render(int value, string status)
        {
            var fraction = total == 0 ? 1 : (double)value / total;
            var rate = value / Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
            var line = string.Create(CultureInfo.InvariantCulture, $"{label} [{new string('#', (int)(fraction * 30)).PadRight(30, '.')}] {value}/{total} {rate:F1}/s {status}");
            if (!Console.IsOutputRedirected)
            {
                Console.Write("\r" + line);
            }
            else if ((int)(fraction * 10) is var decile && decile != lastDecile)
            {
                lastDecile = decile;
                Console.WriteLine(line);
            }
        }
    }
}
