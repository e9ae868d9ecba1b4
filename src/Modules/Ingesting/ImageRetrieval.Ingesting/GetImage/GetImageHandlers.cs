using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.SharedKernel;
using Mediator;

namespace ImageRetrieval.Ingesting.GetImage;

internal sealed class GetImageHandler(ImageCatalog catalog) : IRequestHandler<Contracts.GetImage, ImageRecord>
{
    public async ValueTask<ImageRecord> Handle(Contracts.GetImage request, CancellationToken cancellationToken) =>
        await catalog.ToRecordAsync(await catalog.GetAsync(request.Id, cancellationToken), cancellationToken);
}

internal sealed class GetImagesHandler(IVectorStore vectors, IBlobStore blobs, ImageCatalog catalog) : IRequestHandler<GetImages, IReadOnlyList<ImageRecord>>
{
    public async ValueTask<IReadOnlyList<ImageRecord>> Handle(GetImages request, CancellationToken cancellationToken)
    {
        var found = (await vectors.FetchAsync(request.Ids, includeVectors: false, cancellationToken))
            .ToDictionary(r => r.Id, StoredImage.FromVectorRecord);
        // Records without bytes of ours (written by another system) are never offered as results.
        var ordered = request.Ids.Where(found.ContainsKey).Select(id => found[id]).Where(image => image.HasBlob).ToList();

        // A vector whose blob is gone (deleted behind our back) must never be offered to a caller.
        var present = await Task.WhenAll(ordered.Select(image => blobs.ExistsAsync(image.BlobKey, cancellationToken)));
        return await catalog.ToRecordsAsync(ordered.Where((_, i) => present[i]), cancellationToken);
    }
}

internal sealed class OpenImageContentHandler(ImageCatalog catalog, IBlobStore blobs) : IRequestHandler<OpenImageContent, ImageContent>
{
    public async ValueTask<ImageContent> Handle(OpenImageContent request, CancellationToken cancellationToken)
    {
        var image = await catalog.GetAsync(request.Id, cancellationToken);
        var blob = (image.HasBlob ? await blobs.OpenReadAsync(image.BlobKey, cancellationToken) : null) ?? throw new NotFoundException("Image content", request.Id);
        return new ImageContent(blob.Content, image.ContentType, blob.Length);
    }
}
