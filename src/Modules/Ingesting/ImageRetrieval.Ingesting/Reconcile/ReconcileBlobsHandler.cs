using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;
using Mediator;

namespace ImageRetrieval.Ingesting.Reconcile;

/// <summary>
/// Removes blobs that no vector points at. Run it while no ingest is in flight: an ingest between
/// its blob write and its vector upsert looks exactly like an orphan.
/// </summary>
internal sealed class ReconcileBlobsHandler(IVectorStore vectors, IBlobStore blobs) : IRequestHandler<ReconcileBlobs, ReconcileResult>
{
    private const int BatchSize = 256;

    public async ValueTask<ReconcileResult> Handle(ReconcileBlobs request, CancellationToken cancellationToken)
    {
        var scanned = 0;
        var removed = 0;
        var batch = new List<(string Key, string? Id)>(BatchSize);
        await foreach (var key in blobs.ListKeysAsync("images/", cancellationToken))
        {
            scanned++;
            batch.Add((key, ImageIdentity.IdFromBlobKey(key)));
            if (batch.Count == BatchSize)
            {
                removed += await RemoveOrphansAsync(batch, cancellationToken);
                batch.Clear();
            }
        }

        removed += await RemoveOrphansAsync(batch, cancellationToken);
        return new ReconcileResult(scanned, removed);
    }

    private async Task<int> RemoveOrphansAsync(List<(string Key, string? Id)> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Where(b => b.Id is not null).Select(b => b.Id!).ToList();
        var known = ids.Count == 0 ? [] : (await vectors.FetchAsync(ids, includeVectors: false, cancellationToken)).Select(r => r.Id).ToHashSet();
        var orphans = batch.Where(b => b.Id is not null && !known.Contains(b.Id)).ToList();
        foreach (var (key, _) in orphans)
        {
            await blobs.DeleteAsync(key, cancellationToken);
        }

        return orphans.Count;
    }
}
