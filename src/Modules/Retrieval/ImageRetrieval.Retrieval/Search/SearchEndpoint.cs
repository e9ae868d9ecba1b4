using ImageRetrieval.Retrieval.Contracts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Retrieval.Search;

/// <summary>POST /search: one form, by an uploaded image (<see cref="SearchByImage"/>) or by a text (<see cref="SearchByText"/>).</summary>
internal static class SearchEndpoint
{
    public static void MapSearch(this IEndpointRouteBuilder api) =>
        api.MapPost("/search", SearchAsync)
            .Documented("SearchByImage", "Search by image or text", problems: [400, 409, 413, 415, 422, 503])
            .WithTags("search")
            .WithDescription("Finds the stored images most similar to the uploaded `file`, or to the `text` (exactly one of them; text needs a model with a text tower, else 422 text-not-supported), best first. `topK` 1-100 (default 10); `minScore` drops weaker hits (cosine, -1..1); `filter` is a JSON object such as {\"camera\": \"x\", \"year\": {\"$in\": [2023, 2024]}}.")
            .Accepts<IFormFile>("multipart/form-data");

    private static async Task<Ok<SearchResponse>> SearchAsync(
        IFormFile? file,
        [FromForm] string? text,
        [FromForm] int? topK,
        [FromForm] float? minScore,
        [FromForm] string? filter,
        HttpContext context,
        IMediator mediator,
        IOptions<ImageLimitsOptions> limits,
        IOptions<ServiceOptions> service,
        CancellationToken cancellationToken)
    {
        if ((file is null) == (text is null))
        {
            const string message = "Send exactly one of 'file' (a query image) or 'text' (a query sentence).";
            throw new FluentValidation.ValidationException(new FluentValidation.Results.ValidationFailure[] { new("file", message), new("text", message) });
        }

        var parsedFilter = FormJson.ParseObject(filter, "filter", limits.Value);
        var result = file is not null
            ? await mediator.Send(new SearchByImage(await FormFileReader.ReadAsync(file, limits.Value, cancellationToken), topK ?? 10, minScore, parsedFilter), cancellationToken)
            : await mediator.Send(new SearchByText(text!, topK ?? 10, minScore, parsedFilter), cancellationToken);
        return TypedResults.Ok(SearchResponse.From(result, context, service.Value.PublicBaseUrl));
    }
}
