using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;

namespace ImageRetrieval.Ingesting.DeleteImage;

internal sealed class DeleteImageHandler(ImageCatalog catalog, IVectorStore vectors, IBlobStore blobs, CommitLocks locks) : IRequestHandler<Contracts.DeleteImage, Unit>
{
    public async ValueTask<Unit> Handle(Contracts.DeleteImage request, CancellationToken cancellationToken)
    {
        // The ingest commit lock: an ingest of the same bytes either commits before (and this deletes it) or
        // after (and re-writes the blob this removed), never in between with a record whose bytes are gone.
        using var held = await locks.AcquireAsync([request.Id], cancellationToken);
        var image = await catalog.GetAsync(request.Id, cancellationToken);

        // Vector first: once it is gone the image is unreachable, and a blob left by a crash here is an orphan that reconcile removes.
        await vectors.DeleteAsync([image.Id], cancellationToken);
        if (image.HasBlob)
        {
            await blobs.DeleteAsync(image.BlobKey, cancellationToken);
        }

        return Unit.Value;
    }
}
