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
        var page = await vectors.ListAsync(request.Limit, request.Cursor, cancellationToken);
        var records = await catalog.ToRecordsAsync(page.Items.Select(StoredImage.FromVectorRecord), cancellationToken);
        return new ImagePage(records, page.NextCursor);
    }
}

internal sealed class ListImagesValidator : AbstractValidator<Contracts.ListImages>
{
    public ListImagesValidator()
    {
        RuleFor(r => r.Limit).InclusiveBetween(1, 500).OverridePropertyName("limit").WithName("limit");
        RuleFor(r => r.Cursor).MaximumLength(512).OverridePropertyName("cursor");
    }
}
