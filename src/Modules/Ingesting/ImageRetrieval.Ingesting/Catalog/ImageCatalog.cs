using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Ingesting.Catalog;

/// <summary>Reads catalogue entries from the vector store and presents them as <see cref="ImageRecord"/>s.</summary>
internal sealed class ImageCatalog(IVectorStore vectors, IBlobStore blobs)
{
    public async Task<StoredImage?> FindAsync(string id, CancellationToken cancellationToken)
    {
        if (!ImageIdentity.IsValidId(id))
        {
            return null;
        }

        var found = await vectors.FetchAsync([id], includeVectors: false, cancellationToken);
        return found.Count == 0 ? null : StoredImage.FromVectorRecord(found[0]);
    }

    public async Task<StoredImage> GetAsync(string id, CancellationToken cancellationToken) =>
        await FindAsync(id, cancellationToken) ?? throw new NotFoundException("Image", id);

    /// <summary>A record not written by this service (see <see cref="StoredImage.HasBlob"/>) is presented with what is known: no location, no link.</summary>
    public async Task<ImageRecord> ToRecordAsync(StoredImage image, CancellationToken cancellationToken) =>
        new(image.Id, image.Sha256, image.ContentType, image.Width, image.Height, image.SizeBytes, image.CreatedAt,
            image.HasBlob ? blobs.DescribeLocation(image.BlobKey) : "",
            image.HasBlob ? await blobs.TryGetSignedUrlAsync(image.BlobKey, cancellationToken) : null,
            image.Metadata);

    public async Task<IReadOnlyList<ImageRecord>> ToRecordsAsync(IEnumerable<StoredImage> images, CancellationToken cancellationToken) =>
        await Task.WhenAll(images.Select(image => ToRecordAsync(image, cancellationToken)));
}
