using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Host.Cli;

/// <summary><c>reindex</c>: build the configured model's collection beside the active one, then switch to it.</summary>
internal static class ReindexCommand
{
    public static async Task<int> RunAsync(IMediator mediator, CancellationToken cancellationToken)
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
}
