using FluentValidation;

namespace ImageRetrieval.Retrieval.FindSimilar;

internal sealed class FindSimilarValidator : AbstractValidator<Contracts.FindSimilar>
{
    public FindSimilarValidator(IMediator mediator) => Include(new SearchOptionsValidator(mediator));
}
