using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Ingesting.ListImages;

internal sealed class ListImagesHandler(IVectorStore vectors, ImageCatalog catalog) : IRequestHandler<Contracts.ListImages, ImagePage>
{
    public async ValueTask<ImagePage> Handle(Contracts.ListImages request, CancellationToken cancellationToken)
    {
        RecordPage page;
        try
        {
            page = await vectors.ListAsync(request.Limit, request.Cursor, cancellationToken);
        }
        catch (StoreRequestException ex) when (!string.IsNullOrEmpty(request.Cursor) && ex.RejectedContent)
        {
            // Qdrant's offset and Pinecone's token are the provider's own; only the provider can tell a forged one.
            throw new InvalidCursorException(ex);
        }

        var records = await catalog.ToRecordsAsync(page.Items.Select(StoredImage.FromVectorRecord), cancellationToken);
        return new ImagePage(records, page.NextCursor);
    }
}
