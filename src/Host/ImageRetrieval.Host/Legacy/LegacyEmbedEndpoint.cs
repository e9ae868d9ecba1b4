using ImageRetrieval.Embedding.Contracts;

namespace ImageRetrieval.Host.Legacy;

/// <summary><c>POST /embed</c> of the old embedding service: the raw CLS vector of the uploaded <c>file</c>.</summary>
internal static class LegacyEmbedEndpoint
{
    /// <summary>The old service's words for any file that does not decode as an image; its clients' tests compare them.</summary>
    public const string NotAnImage = "Uploaded file is not a valid image.";

    public static async Task<Results<Ok<float[]>, BadRequest<LegacyHttpError>, UnprocessableEntity<LegacyHttpValidationError>>> HandleAsync(
        HttpRequest request, IMediator mediator, IOptions<ImageLimitsOptions> limits, CancellationToken cancellationToken)
    {
        var upload = await LegacyUpload.ReadAsync(request, limits.Value, cancellationToken);
        if (upload.RefusalAs<float[]>(whenEmpty: new LegacyHttpError(NotAnImage)) is { } refusal)
        {
            return refusal;
        }

        // Normalize: false is the pooled vector as the model produced it, which is what the old /embed answered.
        var embedded = (await mediator.Send(new EmbedImages([upload.Image!], Normalize: false), cancellationToken)).Items[0];
        if (embedded.Rejection is { } rejection)
        {
            return ProblemTypes.IsImageRejection(rejection.Slug)
                ? TypedResults.BadRequest(new LegacyHttpError(IsNotAnImage(rejection.Slug) ? NotAnImage : rejection.Detail))
                : throw new ServiceProblemException(rejection);
        }

        return TypedResults.Ok(embedded.Vector!);
    }

    // Too large (file or pixels) keeps our wording, which names the limit; the old service had no limits to name.
    private static bool IsNotAnImage(string slug) => slug is ProblemTypes.UndecodableImage or ProblemTypes.UnsupportedMediaType;
}
