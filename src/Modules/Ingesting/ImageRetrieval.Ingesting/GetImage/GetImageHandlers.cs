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

internal sealed class OpenImageContentHandler(ImageCatalog catalog, IBlobStore blobs) : IRequestHandler<OpenImageContent, ImageContent>
{
    public async ValueTask<ImageContent> Handle(OpenImageContent request, CancellationToken cancellationToken)
    {
        var image = await catalog.GetAsync(request.Id, cancellationToken);
        var blob = (image.HasBlob ? await blobs.OpenReadAsync(image.BlobKey, cancellationToken) : null) ?? throw new NotFoundException("Image content", request.Id);
        return new ImageContent(blob.Content, image.ContentType, blob.Length);
    }
}
