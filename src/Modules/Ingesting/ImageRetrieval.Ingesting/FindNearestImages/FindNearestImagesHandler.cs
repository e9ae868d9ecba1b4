using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.FindNearestImages;

/// <summary>
/// Search asks the catalogue once: same-model check, one vector query (whose hits carry their records),
/// then one blob-store call for the hits whose bytes are gone, which are dropped.
/// </summary>
internal sealed class FindNearestImagesHandler(IVectorStore vectors, IBlobStore blobs, ImageCatalog catalog, CollectionGuard guard, IOptions<ImageLimitsOptions> limits)
    : IRequestHandler<Contracts.FindNearestImages, IReadOnlyList<NearestImage>>
{
    public async ValueTask<IReadOnlyList<NearestImage>> Handle(Contracts.FindNearestImages request, CancellationToken cancellationToken)
    {
        await guard.EnsureCompatibleAsync(request.ModelId, request.Dimension, cancellationToken);
        var query = new VectorQuery(request.Vector, request.TopK, FilterParser.Parse(request.Filter, limits.Value, out _), request.MinScore, request.ExcludeIds);
        var hits = await vectors.QueryAsync(query, cancellationToken);

        // Records without bytes of ours (written by another system) are never offered as results.
        var stored = hits.Select(h => (h.Score, Image: StoredImage.FromVectorRecord(h.Record))).Where(h => h.Image.HasBlob).ToList();
        if (stored.Count == 0)
        {
            return [];
        }

        // A vector whose blob is gone (deleted behind our back) must never be offered to a caller.
        var missing = await blobs.FindMissingAsync(stored.Select(h => h.Image.BlobKey).ToList(), cancellationToken);
        var kept = stored.Where(h => !missing.Contains(h.Image.BlobKey)).ToList();
        var records = await catalog.ToRecordsAsync(kept.Select(h => h.Image), cancellationToken);
        return kept.Select((h, i) => new NearestImage(h.Score, records[i])).ToList();
    }
}
