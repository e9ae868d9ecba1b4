using FluentValidation;
using ImageRetrieval.Embedding.Contracts;

namespace ImageRetrieval.Retrieval.QueryImages;

internal sealed class QueryImagesValidator : AbstractValidator<Contracts.QueryImages>
{
    public QueryImagesValidator(IMediator mediator)
    {
        RuleFor(r => r.Terms).NotEmpty().OverridePropertyName("terms").WithMessage("Send at least one term in 'terms'.");
        RuleFor(r => r.Terms.Count).LessThanOrEqualTo(Contracts.QueryImages.MaxTerms).OverridePropertyName("terms").WithMessage($"At most {Contracts.QueryImages.MaxTerms} terms.");
        RuleFor(r => r.Terms.Count(t => t.Text != null)).LessThanOrEqualTo(EmbedTexts.MaxTexts).OverridePropertyName("terms");
        RuleForEach(r => r.Terms).ChildRules(term =>
        {
            term.RuleFor(t => (t.Text != null ? 1 : 0) + (t.ImageId != null ? 1 : 0) + (t.Image != null ? 1 : 0) + (t.Vector != null ? 1 : 0))
                .Equal(1).OverridePropertyName("kind").WithMessage("A term has exactly one of text, imageId, image or vector.");
            term.RuleFor(t => t.Weight).Must(float.IsFinite).OverridePropertyName("weight").WithMessage("weight must be a finite number.");
            term.RuleFor(t => t.Text).NotEmpty().MaximumLength(EmbedTexts.MaxTextLength).When(t => t.Text is not null).OverridePropertyName("text")
                .WithMessage($"text must have 1 to {EmbedTexts.MaxTextLength} characters.");
            term.RuleFor(t => t.ImageId).NotEmpty().MaximumLength(128).When(t => t.ImageId is not null).OverridePropertyName("imageId");
            term.RuleFor(t => t.Image!.Content.Length).GreaterThan(0).When(t => t.Image is not null).OverridePropertyName("image").WithMessage("image is empty.");
            term.RuleFor(t => t.Vector).Must(v => v!.Length is > 0 and <= 8192 && v.All(float.IsFinite)).When(t => t.Vector is not null)
                .OverridePropertyName("vector").WithMessage("vector must be 1 to 8192 finite numbers.");
        }).OverridePropertyName("terms");
        Include(new SearchOptionsValidator(mediator));
    }
}
