using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.Adapters;

namespace ImageRetrieval.Host.Cli;

/// <summary>
/// Verbs of the same binary for operators: bulk ingest, re-index, reconcile, compaction and model pre-pull. They
/// compose the same modules as the web service (configuration from appsettings and environment
/// variables) and talk to them through the mediator, so there is one ingest path, not two.
/// </summary>
internal static class CommandLine
{
    public static bool IsCommand(string[] args) =>
        args.Length > 0 && args[0] is "ingest" or "reindex" or "reconcile" or "compact" or "download-model" or "search" or "help" or "--help";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args[0] is "help" or "--help")
        {
            Console.WriteLine(CommandLineArguments.Usage);
            return 0;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        if (args[0] == "ingest" && CommandLineArguments.OptionValue(args, "--server") is { } server)
        {
            // Talks to a running service: opens no store and loads no model, so it needs no data directory.
            return await IngestCommand.RunAgainstServerAsync(args[1..], server, cancel.Token);
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
            case "compact":
                // The service compacts its own store when enough of it is dead; this is for a stopped one.
                builder.Services.AddDataDirectoryLock(builder.Configuration, "compact", DataDirectoryLock.WriterLockName);
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

        var mediator = host.Services.GetRequiredService<IMediator>();
        try
        {
            if (args[0] == "download-model")
            {
                // Loads the model without starting the host: nothing else runs, so nothing else waits for it.
                return await DownloadModelCommand.RunAsync(mediator, cancel.Token);
            }

            if (args[0] == "compact")
            {
                // Needs the store alone: no model is loaded.
                return await CompactCommand.RunAsync(host.Services, cancel.Token);
            }

            await host.StartAsync(cancel.Token);
            var loaded = await mediator.Send(new WaitForModel(), cancel.Token);
            Console.WriteLine($"model: {loaded.ModelId} ({loaded.Dimension}-d)");
            var exit = args[0] switch
            {
                "ingest" => await IngestCommand.RunAsync(mediator, args[1..], cancel.Token),
                "reindex" => await ReindexCommand.RunAsync(mediator, cancel.Token),
                "reconcile" => await ReconcileCommand.RunAsync(mediator, cancel.Token),
                "search" => await SearchCommand.RunAsync(mediator, args[1..], cancel.Token),
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
        catch (Exception ex) when (ex is ServiceProblemException or FluentValidation.ValidationException or Infrastructure.Onnx.ModelLoadException or IOException or ArgumentException or StoreRequestException or StoreUnavailableException or InvalidCursorException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }
}
