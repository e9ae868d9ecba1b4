using System.Globalization;
using System.Text.Json;
using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Host.Cli;

/// <summary>
/// <c>ingest DIR</c>: every image under DIR through the ingest use case of this process, or with
/// <c>--server URL</c> through a running service's HTTP API; the walk, progress and summary are shared.
/// </summary>
internal static class IngestCommand
{
    public static Task<int> RunAsync(IMediator mediator, string[] args, CancellationToken cancellationToken) =>
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

    public static async Task<int> RunAgainstServerAsync(string[] args, string server, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(server.TrimEnd('/') + "/", UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
        {
            Console.Error.WriteLine($"error: --server '{server}' is not an http(s) URL");
            return 2;
        }

        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(5) };
        if ((CommandLineArguments.OptionValue(args, "--api-key") ?? Environment.GetEnvironmentVariable("IMAGE_RETRIEVAL_API_KEY")) is { Length: > 0 } key)
        {
            http.DefaultRequestHeaders.Add(Api.AuthOptions.HeaderName, key);
        }

        var sender = new ServerIngestClient(http);
        return await IngestFilesAsync(args, sender.SendAsync, cancellationToken);
    }

    /// <summary>The walk, concurrency, progress bar and summary both ingest modes share; <paramref name="send"/> stores one file.</summary>
    private static async Task<int> IngestFilesAsync(
        string[] args, Func<ImageUpload, IReadOnlyDictionary<string, JsonElement>?, CancellationToken, Task<IngestOutcome>> send, CancellationToken cancellationToken)
    {
        if (args.Length == 0 || !Directory.Exists(args[0]))
        {
            Console.Error.WriteLine(args.Length == 0 ? CommandLineArguments.Usage : $"error: '{args[0]}' is not a directory");
            return 2;
        }

        var concurrency = CommandLineArguments.OptionValue(args, "--concurrency") is { } c ? int.Parse(c, CultureInfo.InvariantCulture) : Math.Max(2, Environment.ProcessorCount);
        // Parsed within the default bounds; the ingest validator then applies the configured ones.
        var metadata = SharedKernel.Web.FormJson.ParseObject(CommandLineArguments.OptionValue(args, "--metadata"), "metadata", new ImageLimitsOptions())?
            .EnumerateObject().ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
        var files = Directory.EnumerateFiles(args[0], "*", SearchOption.AllDirectories)
            .Where(ImageFileTypes.HasImageExtension)
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
}
