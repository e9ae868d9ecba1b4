using System.Text.Json;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.SharedKernel;
using Mediator;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.Reindex;

/// <summary>
/// Re-embeds every stored blob with the current model. The catalogue (metadata) is read first and
/// written to a snapshot file under the data directory, because re-creating the collection for a new
/// dimension drops it; the snapshot is removed only when every record is back.
/// </summary>
internal sealed partial class ReindexImagesHandler(
    IMediator mediator,
    IVectorStore vectors,
    IBlobStore blobs,
    CollectionGuard guard,
    IOptions<VectorStoreOptions> storeOptions,
    IOptions<ServiceOptions> serviceOptions,
    ILogger<ReindexImagesHandler> logger) : IRequestHandler<ReindexImages, ReindexResult>
{
    private const int BatchSize = 16;

    public async ValueTask<ReindexResult> Handle(ReindexImages request, CancellationToken cancellationToken)
    {
        var model = await mediator.Send(new GetEmbeddingModel(), cancellationToken);
        var images = await ReadCatalogAsync(cancellationToken);
        var snapshot = Path.Combine(serviceOptions.Value.FullDataPath, $"reindex-snapshot-{DateTime.UtcNow:yyyyMMddHHmmss}.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(snapshot)!);
        await File.WriteAllLinesAsync(snapshot, images.Select(i => JsonSerializer.Serialize(i.ToVectorMetadata().Append(new("_id", JsonSerializer.SerializeToElement(i.Id))).ToDictionary())), cancellationToken);
        LogStarting(logger, images.Count, model.ModelId, snapshot);

        await vectors.RecreateCollectionAsync(new CollectionDescriptor(storeOptions.Value.Collection, model.ModelId, model.Dimension), cancellationToken);
        guard.Reset();

        int done = 0, missing = 0, failed = 0;
        foreach (var chunk in images.Chunk(BatchSize))
        {
            var uploads = new List<(StoredImage Image, ImageUpload Upload)>();
            foreach (var image in chunk)
            {
                var bytes = await ReadBlobAsync(image.BlobKey, cancellationToken);
                if (bytes is null)
                {
                    missing++;
                    continue;
                }

                uploads.Add((image, new ImageUpload(image.Id, bytes)));
            }

            if (uploads.Count > 0)
            {
                var result = await mediator.Send(new EmbedImages(uploads.Select(u => u.Upload).ToList()), cancellationToken);
                var records = new List<VectorRecord>();
                for (var i = 0; i < uploads.Count; i++)
                {
                    if (result.Items[i].Vector is { } vector)
                    {
                        records.Add(uploads[i].Image.ToVectorRecord(vector));
                    }
                    else
                    {
                        failed++;
                    }
                }

                await vectors.UpsertAsync(records, cancellationToken);
            }

            done += chunk.Length;
            request.Progress?.Report(new ReindexProgress(done, images.Count));
        }

        if (failed == 0)
        {
            File.Delete(snapshot);
        }

        return new ReindexResult(model.ModelId, done - missing - failed, missing, failed);
    }

    private async Task<List<StoredImage>> ReadCatalogAsync(CancellationToken cancellationToken)
    {
        var all = new List<StoredImage>();
        string? cursor = null;
        do
        {
            var page = await vectors.ListAsync(500, cursor, cancellationToken);
            all.AddRange(page.Items.Select(StoredImage.FromVectorRecord));
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-indexing {Count} images with {ModelId}; catalogue snapshot at {Snapshot}")]
    private static partial void LogStarting(ILogger logger, int count, string modelId, string snapshot);
}
