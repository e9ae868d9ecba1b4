using FluentValidation;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;
using Mediator;

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

internal sealed class ListImagesValidator : AbstractValidator<Contracts.ListImages>
{
    public ListImagesValidator()
    {
        RuleFor(r => r.Limit).InclusiveBetween(1, 500).OverridePropertyName("limit").WithName("limit");
        // Every store's cursor is an id, a UUID or base64: anything else is refused before a store sees it.
        RuleFor(r => r.Cursor).MaximumLength(512).Matches("^[A-Za-z0-9_.:+/=-]+$").When(r => !string.IsNullOrEmpty(r.Cursor))
            .OverridePropertyName("cursor").WithMessage("cursor is not one this service returned; start again without it.");
    }
}
