using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Retrieval.Contracts;
using ImageRetrieval.SharedKernel;
using ImageRetrieval.SharedKernel.Web;
using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Retrieval;

public sealed record SearchHitResponse(string Id, float Score, string Url, IReadOnlyDictionary<string, JsonElement> Metadata);

public sealed record SearchResponse(string Model, IReadOnlyList<SearchHitResponse> Results, double TookMs);

internal static class SearchApi
{
    public static void MapSearch(this IEndpointRouteBuilder api)
    {
        api.MapPost("/search", SearchAsync)
            .WithName("SearchByImage")
            .WithSummary("Search by image or text")
            .WithDescription("Finds the stored images most similar to the uploaded `file`, or to the `text` (exactly one of them; text needs a model with a text tower, else 422 text-not-supported), best first. `topK` 1-100 (default 10); `minScore` drops weaker hits (cosine, -1..1); `filter` is a JSON object such as {\"camera\": \"x\", \"year\": {\"$in\": [2023, 2024]}}.")
            .WithTags("search")
            .Accepts<IFormFile>("multipart/form-data")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/images/{id}/similar", SimilarAsync)
            .WithName("FindSimilarImages")
            .WithSummary("Images similar to a stored one")
            .WithDescription("Like search, with a stored image as the query; the image itself is left out.")
            .WithTags("search")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

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
        SearchResult result;
        if (file is not null)
        {
            var upload = await FormFileReader.ReadAsync(file, limits.Value, cancellationToken);
            result = await mediator.Send(new SearchByImage(upload, topK ?? 10, minScore, parsedFilter), cancellationToken);
        }
        else
        {
            result = await mediator.Send(new SearchByText(text!, topK ?? 10, minScore, parsedFilter), cancellationToken);
        }

        return TypedResults.Ok(ToResponse(result, context, service.Value));
    }

    private static async Task<Ok<SearchResponse>> SimilarAsync(
        string id, HttpContext context, IMediator mediator, IOptions<ServiceOptions> service, IOptions<ImageLimitsOptions> limits, CancellationToken cancellationToken,
        int topK = 10, float? minScore = null, string? filter = null)
    {
        var result = await mediator.Send(new FindSimilar(id, topK, minScore, FormJson.ParseObject(filter, "filter", limits.Value)), cancellationToken);
        return TypedResults.Ok(ToResponse(result, context, service.Value));
    }

    internal static SearchResponse ToResponse(SearchResult result, HttpContext context, ServiceOptions service) =>
        new(result.Model,
            result.Results.Select(hit => new SearchHitResponse(hit.Image.Id, hit.Score,
                ImageLinks.For(context, hit.Image.Id, hit.Image.SignedUrl, service.PublicBaseUrl), hit.Image.Metadata)).ToList(),
            Math.Round(result.TookMs, 2));
}
