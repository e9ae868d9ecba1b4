using System.Diagnostics.Metrics;
using System.Text.Json;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.SharedKernel;
using Mediator;

namespace ImageRetrieval.Ingesting.IngestImages;

internal sealed class IngestImagesHandler(IMediator mediator, IVectorStore vectors, IBlobStore blobs, ImageCatalog catalog, CollectionGuard guard, TimeProvider clock)
    : IRequestHandler<Contracts.IngestImages, IngestImagesResult>
{
    private static readonly Meter Meter = new("ImageRetrieval");
    private static readonly Counter<long> Ingested = Meter.CreateCounter<long>("imageretrieval.images.ingested", description: "Images newly stored");

    public async ValueTask<IngestImagesResult> Handle(Contracts.IngestImages request, CancellationToken cancellationToken)
    {
        var model = await mediator.Send(new GetEmbeddingModel(), cancellationToken);
        await guard.EnsureCompatibleAsync(model.ModelId, model.Dimension, cancellationToken);

        var ids = request.Images.Select(image => ImageIdentity.For(image.Content.Span)).ToList();
        var existing = await FetchAsync(ids.Select(i => i.Id), cancellationToken);

        // Only the first occurrence of unknown bytes is embedded; repeats in the same request share its outcome.
        var toEmbed = Enumerable.Range(0, request.Images.Count)
            .Where(i => !existing.ContainsKey(ids[i].Id))
            .DistinctBy(i => ids[i].Id)
            .ToList();
        var embedded = toEmbed.Count == 0
            ? []
            : (await mediator.Send(new EmbedImages(toEmbed.Select(i => request.Images[i]).ToList()), cancellationToken)).Items;

        var errors = new Dictionary<string, IngestError>();
        var candidates = new List<(StoredImage Image, float[] Vector, ReadOnlyMemory<byte> Content)>();
        var metadata = request.Metadata ?? new Dictionary<string, JsonElement>();
        foreach (var (index, result) in toEmbed.Zip(embedded))
        {
            var (id, sha) = ids[index];
            if (result.Rejection is { } rejection)
            {
                errors[id] = new IngestError(rejection.StatusCode, ProblemTypes.Uri(rejection.Slug), rejection.Detail);
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
        var created = await CommitAsync(candidates, existing, cancellationToken);

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
        List<(StoredImage Image, float[] Vector, ReadOnlyMemory<byte> Content)> candidates, Dictionary<string, StoredImage> existing, CancellationToken cancellationToken)
    {
        if (candidates.Count == 0)
        {
            return [];
        }

        using var locks = await CommitLocks.AcquireAsync(candidates.Select(c => c.Image.Id), cancellationToken);
        foreach (var (id, raced) in await FetchAsync(candidates.Select(c => c.Image.Id), cancellationToken))
        {
            existing[id] = raced;
        }

        var fresh = candidates.Where(c => !existing.ContainsKey(c.Image.Id)).ToList();
        if (fresh.Count > 0)
        {
            await vectors.UpsertAsync(fresh.Select(c => c.Image.ToVectorRecord(c.Vector)).ToList(), cancellationToken);
            Ingested.Add(fresh.Count);
        }

        return fresh.ToDictionary(c => c.Image.Id, c => c.Image);
    }

    private async Task<Dictionary<string, StoredImage>> FetchAsync(IEnumerable<string> ids, CancellationToken cancellationToken) =>
        (await vectors.FetchAsync(ids.Distinct().ToList(), includeVectors: false, cancellationToken)).ToDictionary(r => r.Id, StoredImage.FromVectorRecord);
}

/// <summary>Striped locks by image id, taken in stripe order so two requests never wait on each other in a cycle.</summary>
internal static class CommitLocks
{
    private static readonly SemaphoreSlim[] Stripes = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public static async Task<IDisposable> AcquireAsync(IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var held = new Held();
        var stripes = ids.Select(id => (int)((uint)StringComparer.Ordinal.GetHashCode(id) % (uint)Stripes.Length)).Distinct().Order();
        foreach (var stripe in stripes)
        {
            try
            {
                await Stripes[stripe].WaitAsync(cancellationToken);
            }
            catch
            {
                held.Dispose();
                throw;
            }

            held.Taken.Add(Stripes[stripe]);
        }

        return held;
    }

    private sealed class Held : IDisposable
    {
        public List<SemaphoreSlim> Taken { get; } = [];

        public void Dispose()
        {
            foreach (var stripe in Taken)
            {
                stripe.Release();
            }

            Taken.Clear();
        }
    }
}
