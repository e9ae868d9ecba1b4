using FluentValidation;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.EmbedImages;

internal sealed class EmbedImagesValidator : AbstractValidator<Contracts.EmbedImages>
{
    public EmbedImagesValidator(IOptions<ImageLimitsOptions> limits)
    {
        RuleFor(r => r.Images).NotEmpty().WithName("files").WithMessage("Send at least one image in the 'files' field.");
        RuleFor(r => r.Images.Count).LessThanOrEqualTo(limits.Value.MaxFilesPerRequest).WithName("files")
            .WithMessage($"At most {limits.Value.MaxFilesPerRequest} files per request.");
    }
}
