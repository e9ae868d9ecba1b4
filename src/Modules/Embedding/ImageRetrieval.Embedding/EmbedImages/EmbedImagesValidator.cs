using FluentValidation;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.EmbedImages;

internal sealed class EmbedImagesValidator : AbstractValidator<Contracts.EmbedImages>
{
    public EmbedImagesValidator(IOptions<ImageLimitsOptions> limits)
    {
        RuleFor(r => r.Images).NotEmpty().OverridePropertyName("files").WithMessage("Send at least one image in the 'files' field.");
        RuleFor(r => r.Images.Count).LessThanOrEqualTo(limits.Value.MaxFilesPerRequest).OverridePropertyName("files")
            .WithMessage($"At most {limits.Value.MaxFilesPerRequest} files per request.");
    }
}
