using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.SharedKernel;
using ImageRetrieval.SharedKernel.Web;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Host.Legacy;

/// <summary><c>POST /embed</c> of the old embedding service: the raw CLS vector of the uploaded <c>file</c>.</summary>
internal static class LegacyEmbedEndpoint
{
    public static async Task<Results<Ok<float[]>, BadRequest<LegacyHttpError>, UnprocessableEntity<LegacyHttpValidationError>>> HandleAsync(
        HttpRequest request, IMediator mediator, IOptions<ImageLimitsOptions> limits, CancellationToken cancellationToken)
    {
        var upload = await LegacyUpload.ReadAsync(request, limits.Value, cancellationToken);
        if (upload.Missing is { } missing)
        {
            return TypedResults.UnprocessableEntity(missing);
        }

        if (upload.Invalid is { } invalid)
        {
            return TypedResults.BadRequest(invalid);
        }

        // Normalize: false is the pooled vector as the model produced it, which is what the old /embed answered.
        var embedded = (await mediator.Send(new EmbedImages([upload.Image!], Normalize: false), cancellationToken)).Items[0];
        if (embedded.Rejection is { } rejection)
        {
            return LegacyUpload.IsImageRejection(rejection.Slug)
                ? TypedResults.BadRequest(new LegacyHttpError(rejection.Detail))
                : throw new ServiceProblemException(rejection.StatusCode, rejection.Slug, "Image rejected", rejection.Detail);
        }

        return TypedResults.Ok(embedded.Vector!);
    }
}
