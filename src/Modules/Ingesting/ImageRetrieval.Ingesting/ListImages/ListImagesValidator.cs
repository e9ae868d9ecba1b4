using FluentValidation;

namespace ImageRetrieval.Ingesting.ListImages;

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
