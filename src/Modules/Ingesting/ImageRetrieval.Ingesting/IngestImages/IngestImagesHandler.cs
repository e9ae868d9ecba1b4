using System.Text.Json;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Ingesting.IngestImages;

internal sealed class IngestImagesHandler(
    IMediator mediator, IVectorStore vectors, IBlobStore blobs, ImageCatalog catalog, CollectionGuard guard, CommitLocks locks, IngestingMetrics metrics, TimeProvider clock)
    : IRequestHandler<Contracts.IngestImages, IngestImagesResult>
{
    public async ValueTask<IngestImagesResult> Handle(Contracts.IngestImages request, CancellationToken cancellationToken)
    {
        var model = await mediator.Send(new GetEmbeddingModel(), cancellationToken);
        await guard.EnsureCompatibleAsync(model.ModelId, model.Dimension, cancellationToken);

        var ids = request.Images.Select(image => ImageIdentity.For(image.Content.Span)).ToList();
        var existing = await FetchAsync(ids.Select(i => i.Id), cancellationToken);
        await RepairDuplicatesAsync(request.Images, ids, existing, cancellationToken);

        // Only the first occurrence of unknown bytes is embedded; repeats in the same request share its outcome.
        var toEmbed = Enumerable.Range(0, request.Images.Count)
            .Where(i => !existing.ContainsKey(ids[i].Id))
            .DistinctBy(i => ids[i].Id)
            .ToList();
        var embedded = toEmbed.Count == 0
            ? []
            : (await mediator.Send(new EmbedImages(toEmbed.Select(i => request.Images[i]).ToList(), Priority: EmbeddingPriority.Bulk), cancellationToken)).Items;

        var errors = new Dictionary<string, Problem>();
        var candidates = new List<(StoredImage Image, float[] Vector, ReadOnlyMemory<byte> Content)>();
        var metadata = request.Metadata ?? new Dictionary<string, JsonElement>();
        foreach (var (index, result) in toEmbed.Zip(embedded))
        {
            var (id, sha) = ids[index];
            if (result.Rejection is { } rejection)
            {
                errors[id] = rejection;
                continue;
            }

            var info = result.Image!;
            var content = request.Images[index].Content;
            var image = new StoredImage(id, sha, info.ContentType, info.Width, info.Height, content.Length,
                clock.GetUtcNow(), ImageIdentity.BlobKey(id, info.ContentType), metadata);
            candidates.Add((image, result.Vector!, content));
        }

        // Blobs first (content-addressed, so rewriting one is harmless); the vector upsert is the commit
        // point, so a failure in between leaves only an orphan blob for reconcile.
        await Task.WhenAll(candidates.Select(c => blobs.PutAsync(c.Image.BlobKey, c.Content, c.Image.ContentType, cancellationToken)));
        var created = await CommitAsync(candidates, existing, model.ModelId, model.Dimension, cancellationToken);

        var items = new List<IngestedImage>(request.Images.Count);
        var reported = new HashSet<string>();
        for (var i = 0; i < request.Images.Count; i++)
        {
            var (id, _) = ids[i];
            var name = request.Images[i].FileName;
            if (errors.TryGetValue(id, out var error))
            {
                items.Add(new IngestedImage(name, null, false, error));
                continue;
            }

            var isNew = created.TryGetValue(id, out var stored) && reported.Add(id);
            items.Add(new IngestedImage(name, await catalog.ToRecordAsync(stored ?? existing[id], cancellationToken), isNew, null));
        }

        return new IngestImagesResult(items);
    }

    /// <summary>
    /// Upserts the candidates no concurrent request stored meanwhile, under per-id locks held only for
    /// the check and the upsert, so the same bytes sent twice at once are created once (in this replica).
    /// </summary>
    private async Task<Dictionary<string, StoredImage>> CommitAsync(
        List<(StoredImage Image, float[] Vector, ReadOnlyMemory<byte> Content)> candidates, Dictionary<string, StoredImage> existing, string modelId, int dimension,
        CancellationToken cancellationToken)
    {
        if (candidates.Count == 0)
        {
            return [];
        }

        using var held = await locks.AcquireAsync(candidates.Select(c => c.Image.Id), cancellationToken);
        foreach (var (id, raced) in await FetchAsync(candidates.Select(c => c.Image.Id), cancellationToken))
        {
            existing[id] = raced;
        }

        var fresh = candidates.Where(c => !existing.ContainsKey(c.Image.Id)).ToList();
        if (fresh.Count > 0)
        {
            // A delete of the same bytes may have removed the blob between our put and this lock (it holds
            // the same lock while it removes vector and blob): put it again rather than commit a record without bytes.
            await Task.WhenAll(fresh.Select(c => EnsureBlobAsync(c.Image, c.Content, cancellationToken)));

            // The collection may have switched to another model (a reindex elsewhere) since the request began.
            await guard.EnsureCompatibleAsync(modelId, dimension, cancellationToken);
            await vectors.UpsertAsync(fresh.Select(c => c.Image.ToVectorRecord(c.Vector)).ToList(), cancellationToken);
            metrics.Ingested.Add(fresh.Count);
        }

        return fresh.ToDictionary(c => c.Image.Id, c => c.Image);
    }

    /// <summary>
    /// Same bytes as a stored image: nothing to embed, but its blob may have gone missing (a crash of an
    /// old version, an operator's mistake). The caller just sent the bytes, so write them back, under the
    /// commit lock so a concurrent delete finishes first and is not undone.
    /// </summary>
    private async Task RepairDuplicatesAsync(IReadOnlyList<ImageUpload> uploads, List<(string Id, string Sha256)> ids, Dictionary<string, StoredImage> existing, CancellationToken cancellationToken)
    {
        var hits = Enumerable.Range(0, uploads.Count).Where(i => existing.ContainsKey(ids[i].Id)).DistinctBy(i => ids[i].Id).ToList();
        if (hits.Count == 0)
        {
            return;
        }

        var present = await Task.WhenAll(hits.Select(i => blobs.ExistsAsync(existing[ids[i].Id].BlobKey, cancellationToken)));
        var missing = hits.Where((_, n) => !present[n]).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        using var held = await locks.AcquireAsync(missing.Select(i => ids[i].Id), cancellationToken);
        var still = await FetchAsync(missing.Select(i => ids[i].Id), cancellationToken);
        foreach (var i in missing)
        {
            if (still.TryGetValue(ids[i].Id, out var image) && image.HasBlob)
            {
                await EnsureBlobAsync(image, uploads[i].Content, cancellationToken);
                metrics.BlobsRepaired.Add(1);
            }
        }
    }

    private async Task EnsureBlobAsync(StoredImage image, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        if (!await blobs.ExistsAsync(image.BlobKey, cancellationToken))
        {
            await blobs.PutAsync(image.BlobKey, content, image.ContentType, cancellationToken);
        }
    }

    private async Task<Dictionary<string, StoredImage>> FetchAsync(IEnumerable<string> ids, CancellationToken cancellationToken) =>
        (await vectors.FetchAsync(ids.Distinct().ToList(), includeVectors: false, cancellationToken)).ToDictionary(r => r.Id, StoredImage.FromVectorRecord);
}
