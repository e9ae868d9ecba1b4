using FluentValidation;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Retrieval.Search;

internal sealed class SearchByImageValidator : AbstractValidator<SearchByImage>
{
    public SearchByImageValidator(IMediator mediator)
    {
        Include(new SearchOptionsValidator(mediator));
        RuleFor(r => r.Image.Content.Length).GreaterThan(0).OverridePropertyName("file").WithMessage("Send the query image in the 'file' field.");
    }
}
