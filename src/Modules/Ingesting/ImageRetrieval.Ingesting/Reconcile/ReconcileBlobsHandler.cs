using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Ingesting.Reconcile;

/// <summary>
/// Removes blobs that no vector points at. Run it while no ingest is in flight: an ingest between
/// its blob write and its vector upsert looks exactly like an orphan. Refused while a reindex is
/// unfinished: a staging collection, or a retired one whose late writes are not carried over yet,
/// may reference blobs the active collection does not.
/// </summary>
internal sealed class ReconcileBlobsHandler(IVectorStore vectors, IBlobStore blobs) : IRequestHandler<ReconcileBlobs, ReconcileResult>
{
    private const int BatchSize = 256;

    public async ValueTask<ReconcileResult> Handle(ReconcileBlobs request, CancellationToken cancellationToken)
    {
        var inactive = await vectors.ListInactiveAsync(cancellationToken);
        if (inactive.Count > 0)
        {
            var which = string.Join(", ", inactive.Select(c => $"{c.Name} ({c.Role.ToString().ToLowerInvariant()}, model {c.Descriptor.ModelId})"));
            throw new ServiceProblemException(ProblemTypes.ReindexUnfinished, "A reindex is unfinished",
                $"Collections beside the active one exist: {which}. Their images may have no vector in the active collection yet, so their blobs " +
                "would look orphaned. Run `reindex` again to finish (it carries them over and drops them), then reconcile.");
        }

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
