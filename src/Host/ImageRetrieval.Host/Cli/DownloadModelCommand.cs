using ImageRetrieval.Embedding.Contracts;

namespace ImageRetrieval.Host.Cli;

/// <summary><c>download-model</c>: fetch and verify the configured model into the cache, then exit.</summary>
internal static class DownloadModelCommand
{
    public static async Task<int> RunAsync(IMediator mediator, CancellationToken cancellationToken)
    {
        var model = await mediator.Send(new DownloadModel(), cancellationToken);
        Console.WriteLine($"model ready: {model.ModelId} ({model.Dimension}-d)");
        return 0;
    }
}
