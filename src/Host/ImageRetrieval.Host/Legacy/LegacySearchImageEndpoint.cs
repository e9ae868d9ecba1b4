using ImageRetrieval.Host.Api;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Host.Legacy;

/// <summary><c>POST /search_image</c> of the old retriever service: the links of the most similar stored images.</summary>
internal static class LegacySearchImageEndpoint
{
    /// <summary>The old retriever always answered its best five.</summary>
    public const int SearchTopK = 5;

    public static async Task<Results<Ok<IReadOnlyList<string>>, BadRequest<LegacyHttpError>, UnprocessableEntity<LegacyHttpValidationError>>> HandleAsync(
        HttpContext context, IMediator mediator, IOptions<ImageLimitsOptions> limits, IOptions<ServiceOptions> service, CancellationToken cancellationToken)
    {
        var upload = await LegacyUpload.ReadAsync(context.Request, limits.Value, cancellationToken);
        if (upload.RefusalAs<IReadOnlyList<string>>() is { } refusal)
        {
            return refusal;
        }

        Retrieval.Contracts.SearchResult result;
        try
        {
            result = await mediator.Send(new SearchByImage(upload.Image!, SearchTopK), cancellationToken);
        }
        catch (ServiceProblemException ex) when (ProblemTypes.IsImageRejection(ex.Slug))
        {
            return TypedResults.BadRequest(new LegacyHttpError(ex.Message));
        }

        IReadOnlyList<string> urls = result.Results
            .Select(hit => ImageLinks.For(context, hit.Image.Id, hit.Image.SignedUrl, service.Value.PublicBaseUrl))
            .ToList();
        return TypedResults.Ok(urls);
    }
}
