using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.Reindex;

/// <summary>
/// Re-embeds every stored image into a staging collection beside the active one and switches only when
/// it holds them all, so a stop at any point (Ctrl-C, OOM kill, node drain) leaves the active collection
/// untouched and serving, and a re-run resumes from what the staging collection holds.
/// <list type="number">
/// <item>Fill: passes over the active collection embed what staging lacks and remove from staging what
/// was deleted meanwhile, until a pass finds nothing new (ingests keep going on the old model).</item>
/// <item>Switch: one atomic pointer move (<see cref="IVectorStore.PromoteStagingAsync"/>).</item>
/// <item>Carry over: replicas notice the switch within <see cref="VectorStoreOptions.ModelCheckInterval"/>
/// and until then still write the old (now retired) collection; after twice that, what they added is
/// embedded into the new one, and only then is the old one dropped.</item>
/// </list>
/// </summary>
internal sealed partial class ReindexImagesHandler(
    IMediator mediator,
    IVectorStore vectors,
    IBlobStore blobs,
    CollectionGuard guard,
    IOptions<VectorStoreOptions> storeOptions,
    TimeProvider clock,
    ILogger<ReindexImagesHandler> logger) : IRequestHandler<ReindexImages, ReindexResult>
{
    private const int BatchSize = 16;
    private const int PageSize = 500;
    private const int MaxFillPasses = 10;

    public async ValueTask<ReindexResult> Handle(ReindexImages request, CancellationToken cancellationToken)
    {
        var model = await mediator.Send(new GetEmbeddingModel(), cancellationToken);
        var wanted = new CollectionDescriptor(storeOptions.Value.Collection, model.ModelId, model.Dimension);
        var active = await vectors.EnsureCollectionAsync(wanted, cancellationToken);
        var tally = new Tally();

        if (active.ModelId == wanted.ModelId && active.Dimension == wanted.Dimension)
        {
            // Already switched (a run stopped after its switch, or nothing to do): finish what is left.
            LogAlreadyCurrent(logger, wanted.Name, model.ModelId);
            foreach (var stale in (await vectors.ListInactiveAsync(cancellationToken)).Where(c => c.Role == CollectionRole.Staging))
            {
                await vectors.DropInactiveAsync(stale.Name, cancellationToken);
            }

            await CarryOverAsync(known: null, tally, cancellationToken);
            return tally.Result(model.ModelId, switched: true);
        }

        var staging = await vectors.OpenStagingAsync(wanted, cancellationToken);
        var skipped = new HashSet<string>(StringComparer.Ordinal);
        Dictionary<string, StoredImage> source = [];
        for (var pass = 1; pass <= MaxFillPasses; pass++)
        {
            source = await ReadAllAsync(vectors, cancellationToken);
            var staged = (await ReadAllAsync(staging, cancellationToken)).Keys.ToHashSet(StringComparer.Ordinal);
            if (pass == 1)
            {
                tally.Resumed = staged.Count(source.ContainsKey);
                LogStarting(logger, source.Count, tally.Resumed, model.ModelId);
            }

            // Deleted from the active collection since they were staged: they must not come back with the switch.
            var deleted = staged.Where(id => !source.ContainsKey(id)).ToList();
            if (deleted.Count > 0)
            {
                await staging.DeleteAsync(deleted, cancellationToken);
            }

            var todo = source.Values.Where(i => !staged.Contains(i.Id) && !skipped.Contains(i.Id)).ToList();
            if (todo.Count == 0)
            {
                break;
            }

            var done = source.Count - todo.Count;
            await EmbedIntoAsync(staging, todo, skipped, tally, (n) => request.Progress?.Report(new ReindexProgress(done + n, source.Count)), cancellationToken);
        }

        request.Progress?.Report(new ReindexProgress(source.Count, source.Count));
        if (tally.Failed > 0)
        {
            // Switching now would drop those images from the catalogue; the staging collection stays for a re-run.
            LogNotSwitched(logger, tally.Failed);
            return tally.Result(model.ModelId, switched: false);
        }

        await vectors.PromoteStagingAsync(cancellationToken);
        guard.Reset();
        LogSwitched(logger, model.ModelId);

        await Task.Delay(storeOptions.Value.ModelCheckInterval * 2, clock, cancellationToken);
        await CarryOverAsync(source.Keys.ToHashSet(StringComparer.Ordinal), tally, cancellationToken);
        return tally.Result(model.ModelId, switched: true);
    }

    /// <summary>
    /// Embeds into the (new) active collection what retired collections gained after the last fill pass,
    /// then drops them. <paramref name="known"/> is what the fill saw; without it (a re-run after a stop past
    /// the switch) everything the active collection lacks is carried, which may bring back an image deleted
    /// in those seconds rather than lose one that was acknowledged.
    /// </summary>
    private async Task CarryOverAsync(HashSet<string>? known, Tally tally, CancellationToken cancellationToken)
    {
        foreach (var retired in (await vectors.ListInactiveAsync(cancellationToken)).Where(c => c.Role == CollectionRole.Retired))
        {
            var old = await vectors.OpenInactiveAsync(retired.Name, cancellationToken);
            var late = (await ReadAllAsync(old, cancellationToken)).Values.Where(i => known is null || !known.Contains(i.Id)).ToList();
            if (late.Count > 0)
            {
                var present = (await vectors.FetchAsync(late.Select(i => i.Id).ToList(), includeVectors: false, cancellationToken)).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
                var missing = late.Where(i => !present.Contains(i.Id)).ToList();
                var before = tally.Reindexed;
                await EmbedIntoAsync(vectors, missing, [], tally, _ => { }, cancellationToken);
                tally.CarriedOver += tally.Reindexed - before;
                tally.Reindexed = before;
                if (tally.Failed > 0)
                {
                    // Keep the retired collection: a re-run carries the rest over.
                    return;
                }
            }

            await vectors.DropInactiveAsync(retired.Name, cancellationToken);
            LogDroppedRetired(logger, retired.Name, retired.Descriptor.ModelId);
        }
    }

    private async Task EmbedIntoAsync(
        IVectorStore target, List<StoredImage> images, HashSet<string> skipped, Tally tally, Action<int> progress, CancellationToken cancellationToken)
    {
        var handled = 0;
        foreach (var chunk in images.Chunk(BatchSize))
        {
            var uploads = new List<(StoredImage Image, ImageUpload Upload)>();
            foreach (var image in chunk)
            {
                if (!image.HasBlob)
                {
                    tally.Foreign++;
                    skipped.Add(image.Id);
                    continue;
                }

                var bytes = await ReadBlobAsync(image.BlobKey, cancellationToken);
                if (bytes is null)
                {
                    tally.MissingBlobs++;
                    skipped.Add(image.Id);
                    continue;
                }

                uploads.Add((image, new ImageUpload(image.Id, bytes)));
            }

            if (uploads.Count > 0)
            {
                var result = await mediator.Send(new EmbedImages(uploads.Select(u => u.Upload).ToList(), Priority: EmbeddingPriority.Bulk), cancellationToken);
                var records = new List<VectorRecord>();
                for (var i = 0; i < uploads.Count; i++)
                {
                    if (result.Items[i].Vector is { } vector)
                    {
                        records.Add(uploads[i].Image.ToVectorRecord(vector));
                    }
                    else
                    {
                        tally.Failed++;
                        skipped.Add(uploads[i].Image.Id);
                        LogEmbedFailed(logger, uploads[i].Image.Id, result.Items[i].Rejection?.Detail ?? "no vector");
                    }
                }

                await target.UpsertAsync(records, cancellationToken);
                tally.Reindexed += records.Count;
            }

            handled += chunk.Length;
            progress(handled);
        }
    }

    private static async Task<Dictionary<string, StoredImage>> ReadAllAsync(IVectorStore store, CancellationToken cancellationToken)
    {
        var all = new Dictionary<string, StoredImage>(StringComparer.Ordinal);
        string? cursor = null;
        do
        {
            var page = await store.ListAsync(PageSize, cursor, cancellationToken);
            foreach (var record in page.Items)
            {
                all[record.Id] = StoredImage.FromVectorRecord(record);
            }

            cursor = page.NextCursor;
        }
        while (cursor is not null);
        return all;
    }

    private async Task<byte[]?> ReadBlobAsync(string key, CancellationToken cancellationToken)
    {
        await using var blob = await blobs.OpenReadAsync(key, cancellationToken);
        if (blob is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        await blob.Content.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    private sealed class Tally
    {
        public int Reindexed { get; set; }

        public int Resumed { get; set; }

        public int MissingBlobs { get; set; }

        public int Failed { get; set; }

        public int Foreign { get; set; }

        public int CarriedOver { get; set; }

        public ReindexResult Result(string modelId, bool switched) =>
            new(modelId, Reindexed, MissingBlobs, Failed, Resumed, Foreign, CarriedOver, switched);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-indexing {Count} images with {ModelId} into a staging collection ({Resumed} already there from an earlier run)")]
    private static partial void LogStarting(ILogger logger, int count, int resumed, string modelId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Collection {Collection} already holds model {ModelId}; finishing any earlier run")]
    private static partial void LogAlreadyCurrent(ILogger logger, string collection, string modelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Switched the collection to {ModelId}")]
    private static partial void LogSwitched(ILogger logger, string modelId);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Failed} images did not embed; the collection was not switched (re-run reindex to resume)")]
    private static partial void LogNotSwitched(ILogger logger, int failed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Image {Id} did not embed: {Reason}")]
    private static partial void LogEmbedFailed(ILogger logger, string id, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped the retired collection {Name} (model {ModelId})")]
    private static partial void LogDroppedRetired(ILogger logger, string name, string modelId);
}
