using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Host.Cli;

/// <summary><c>reconcile</c>: delete stored blobs that have no vector.</summary>
internal static class ReconcileCommand
{
    public static async Task<int> RunAsync(IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new ReconcileBlobs(), cancellationToken);
        Console.WriteLine($"scanned {result.BlobsScanned} blobs, removed {result.OrphansRemoved} without a vector");
        return 0;
    }
}
