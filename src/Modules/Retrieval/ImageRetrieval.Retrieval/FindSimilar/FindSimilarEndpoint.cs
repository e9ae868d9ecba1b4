using ImageRetrieval.Retrieval.Contracts;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Retrieval.FindSimilar;

internal static class FindSimilarEndpoint
{
    public static void MapFindSimilar(this IEndpointRouteBuilder api) =>
        api.MapGet("/images/{id}/similar", SimilarAsync)
            .Documented("FindSimilarImages", "Images similar to a stored one", problems: [400, 404, 409, 503])
            .WithDescription("Like search, with a stored image as the query; the image itself is left out.")
            .WithTags("search");

    private static async Task<Ok<SearchResponse>> SimilarAsync(
        string id, HttpContext context, IMediator mediator, IOptions<ServiceOptions> service, IOptions<ImageLimitsOptions> limits, CancellationToken cancellationToken,
        int topK = 10, float? minScore = null, string? filter = null)
    {
        var result = await mediator.Send(new Contracts.FindSimilar(id, topK, minScore, FormJson.ParseObject(filter, "filter", limits.Value)), cancellationToken);
        return TypedResults.Ok(SearchResponse.From(result, context, service.Value.PublicBaseUrl));
    }
}
