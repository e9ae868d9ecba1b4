using ImageRetrieval.Host.Api;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Host.Legacy;

/// <summary><c>POST /push_image</c> of the old ingesting service: stores and indexes the uploaded <c>file</c>.</summary>
internal static class LegacyPushImageEndpoint
{
    public static async Task<Results<Ok<LegacyPushImageResponse>, BadRequest<LegacyHttpError>, UnprocessableEntity<LegacyHttpValidationError>>> HandleAsync(
        HttpContext context, IMediator mediator, IOptions<ImageLimitsOptions> limits, IOptions<ServiceOptions> service, CancellationToken cancellationToken)
    {
        var upload = await LegacyUpload.ReadAsync(context.Request, limits.Value, cancellationToken);
        if (upload.RefusalAs<LegacyPushImageResponse>() is { } refusal)
        {
            return refusal;
        }

        var item = (await mediator.Send(new IngestImages([upload.Image!]), cancellationToken)).Items[0];
        if (item.Error is { } error)
        {
            return ProblemTypes.IsImageRejection(error.Slug)
                ? TypedResults.BadRequest(new LegacyHttpError(error.Detail))
                : throw new ServiceProblemException(error with { Title = "Image not stored" });
        }

        var image = item.Image!;
        return TypedResults.Ok(new LegacyPushImageResponse(
            LegacyPushImageResponse.Success, image.Id, image.BlobLocation, ImageLinks.For(context, image.Id, image.SignedUrl, service.Value.PublicBaseUrl)));
    }
}
