using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Ingesting.GetImageContent;

internal sealed class OpenImageContentHandler(ImageCatalog catalog, IBlobStore blobs) : IRequestHandler<OpenImageContent, ImageContent>
{
    public async ValueTask<ImageContent> Handle(OpenImageContent request, CancellationToken cancellationToken)
    {
        var image = await catalog.GetAsync(request.Id, cancellationToken);
        var blob = (image.HasBlob ? await blobs.OpenReadAsync(image.BlobKey, cancellationToken) : null) ?? throw new NotFoundException("Image content", request.Id);
        return new ImageContent(blob.Content, image.ContentType, blob.Length);
    }
}
