using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Ingesting.GetImage;

internal sealed class GetImageHandler(ImageCatalog catalog) : IRequestHandler<Contracts.GetImage, ImageRecord>
{
    public async ValueTask<ImageRecord> Handle(Contracts.GetImage request, CancellationToken cancellationToken) =>
        await catalog.ToRecordAsync(await catalog.GetAsync(request.Id, cancellationToken), cancellationToken);
}
