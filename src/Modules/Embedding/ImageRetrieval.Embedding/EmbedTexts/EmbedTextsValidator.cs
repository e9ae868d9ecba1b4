using FluentValidation;

namespace ImageRetrieval.Embedding.EmbedTexts;

internal sealed class EmbedTextsValidator : AbstractValidator<Contracts.EmbedTexts>
{
    public EmbedTextsValidator()
    {
        RuleFor(r => r.Texts).NotEmpty().OverridePropertyName("texts").WithMessage("Send at least one text in 'texts'.");
        RuleFor(r => r.Texts.Count).LessThanOrEqualTo(Contracts.EmbedTexts.MaxTexts).OverridePropertyName("texts")
            .WithMessage($"At most {Contracts.EmbedTexts.MaxTexts} texts per request.");
        RuleForEach(r => r.Texts).NotNull().WithMessage("A text may not be null.")
            .MaximumLength(Contracts.EmbedTexts.MaxTextLength).WithMessage($"A text may have at most {Contracts.EmbedTexts.MaxTextLength} characters.")
            .OverridePropertyName("texts");
    }
}
