using FluentValidation;

namespace ImageRetrieval.Retrieval.FindSimilar;

internal sealed class FindSimilarValidator : AbstractValidator<Contracts.FindSimilar>
{
    public FindSimilarValidator() => Include(new SearchOptionsValidator());
}
