using FluentValidation;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Retrieval;

/// <summary>
/// The rules every search's options follow, included by each search's validator. The filter itself is the
/// catalogue's language: its owner (Ingesting) checks it when the search reaches it.
/// </summary>
internal sealed class SearchOptionsValidator : AbstractValidator<ISearchOptions>
{
    public SearchOptionsValidator()
    {
        RuleFor(r => r.TopK).InclusiveBetween(1, 100).OverridePropertyName("topK").WithName("topK");
        RuleFor(r => r.MinScore).InclusiveBetween(-1f, 1f).When(r => r.MinScore is not null).OverridePropertyName("minScore").WithName("minScore");
    }
}
