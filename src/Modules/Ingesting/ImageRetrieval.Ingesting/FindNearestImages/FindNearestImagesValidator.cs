using FluentValidation;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.FindNearestImages;

internal sealed class FindNearestImagesValidator : AbstractValidator<Contracts.FindNearestImages>
{
    public FindNearestImagesValidator(IOptions<ImageLimitsOptions> limits)
    {
        RuleFor(r => r.Vector.Length).GreaterThan(0).OverridePropertyName("vector");
        RuleFor(r => r.TopK).InclusiveBetween(1, 100).OverridePropertyName("topK").WithName("topK");
        RuleFor(r => r.MinScore).InclusiveBetween(-1f, 1f).When(r => r.MinScore is not null).OverridePropertyName("minScore").WithName("minScore");
        RuleFor(r => r.Filter).Custom((filter, context) => FilterParser.Validate(filter, context, limits.Value));
    }
}
