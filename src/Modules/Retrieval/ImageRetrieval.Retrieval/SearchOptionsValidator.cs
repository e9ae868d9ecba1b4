using FluentValidation;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Retrieval;

/// <summary>
/// The rules every search's options follow, included by each search's validator. The filter is the
/// catalogue's language, so its owner (Ingesting) judges it, here, before the search embeds its query:
/// a bad filter costs no inference and is reported even when the query image is bad too.
/// </summary>
internal sealed class SearchOptionsValidator : AbstractValidator<ISearchOptions>
{
    public SearchOptionsValidator(IMediator mediator)
    {
        RuleFor(r => r.TopK).InclusiveBetween(1, 100).OverridePropertyName("topK").WithName("topK");
        RuleFor(r => r.MinScore).InclusiveBetween(-1f, 1f).When(r => r.MinScore is not null).OverridePropertyName("minScore").WithName("minScore");
        RuleFor(r => r.Filter).CustomAsync(async (filter, context, cancellationToken) =>
        {
            if (filter is not null && (await mediator.Send(new CheckFilter(filter), cancellationToken)).Error is { } error)
            {
                context.AddFailure("filter", error);
            }
        });
    }
}
