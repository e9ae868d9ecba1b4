using FluentValidation;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Retrieval.Search;

internal sealed class SearchByTextValidator : AbstractValidator<SearchByText>
{
    public SearchByTextValidator(IMediator mediator)
    {
        RuleFor(r => r.Text).NotEmpty().OverridePropertyName("text").WithMessage("Send the query text in 'text'.")
            .MaximumLength(EmbedTexts.MaxTextLength).WithMessage($"The text may have at most {EmbedTexts.MaxTextLength} characters.");
        Include(new SearchOptionsValidator(mediator));
    }
}
