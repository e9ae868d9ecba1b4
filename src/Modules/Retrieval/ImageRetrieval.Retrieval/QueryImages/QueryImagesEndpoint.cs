using System.Text.Json;
using FluentValidation;
using FluentValidation.Results;
using ImageRetrieval.Retrieval.Contracts;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Retrieval.QueryImages;

// Properties, not positional parameters: the OpenAPI document then lists only what a client must send.
internal sealed record QueryRequest
{
    /// <summary>At least one term; a missing list is a validation error naming it.</summary>
    public IReadOnlyList<QueryTermRequest>? Terms { get; init; }

    public int? TopK { get; init; }

    public float? MinScore { get; init; }

    /// <summary>A JSON object of field conditions, as in search.</summary>
    public JsonElement? Filter { get; init; }
}

/// <summary>Exactly one of text, imageId, image (base64, or a data: URL) or vector; weight defaults to 1 and may be negative.</summary>
internal sealed record QueryTermRequest
{
    public string? Text { get; init; }

    public string? ImageId { get; init; }

    public string? Image { get; init; }

    public float[]? Vector { get; init; }

    public float? Weight { get; init; }
}

internal static class QueryImagesEndpoint
{
    public static void MapQueryImages(this IEndpointRouteBuilder api) =>
        api.MapPost("/query", HandleAsync)
            .Documented("Query", "Search by a weighted combination of texts, images, stored images and vectors", problems: [400, 404, 409, 413, 415, 422, 503])
            .WithTags("search")
            .WithDescription("Each term is one of {\"text\"}, {\"imageId\"} (a stored image), {\"image\": base64} or {\"vector\": [...]}, with an optional \"weight\" (default 1, negative pushes away). The query vector is normalize(sum(weight * normalize(embedding))); stored images named by imageId are not returned. `topK` 1-100 (default 10), `minScore`, `filter` as in search. Text terms need a model with a text tower (else 422 text-not-supported).")
            .Accepts<QueryRequest>("application/json");

    private static async Task<Ok<SearchResponse>> HandleAsync(
        QueryRequest request, HttpContext context, IMediator mediator, IOptions<ImageLimitsOptions> limits, IOptions<ServiceOptions> service, CancellationToken cancellationToken)
    {
        var terms = (request.Terms ?? []).Select((t, i) => t is null
            ? throw new ValidationException(new[] { new ValidationFailure($"terms[{i}]", $"terms[{i}] is null; a term is an object with one of text, imageId, image or vector.") })
            : new QueryTerm(t.Text, t.ImageId, t.Image is null ? null : Decode(t.Image, i, limits.Value), t.Vector, t.Weight ?? 1f)).ToList();
        var result = await mediator.Send(new Contracts.QueryImages(terms, request.TopK ?? 10, request.MinScore, request.Filter), cancellationToken);
        return TypedResults.Ok(SearchResponse.From(result, context, service.Value.PublicBaseUrl));
    }

    private static ImageUpload Decode(string base64, int index, ImageLimitsOptions limits)
    {
        var field = $"terms[{index}].image";
        var payload = base64.AsSpan();
        if (payload.StartsWith("data:", StringComparison.Ordinal) && payload.IndexOf(',') is var comma and > 0)
        {
            payload = payload[(comma + 1)..];
        }

        // Checked before decoding, from the length alone, like uploads are from their declared size.
        if ((long)payload.Length * 3 / 4 > limits.MaxFileBytes + 3)
        {
            throw new ServiceProblemException(ProblemTypes.FileTooLarge, "File too large",
                $"{field} holds about {(long)payload.Length * 3 / 4} bytes; the limit is {limits.MaxFileBytes}.");
        }

        var bytes = new byte[payload.Length * 3 / 4 + 3];
        return Convert.TryFromBase64Chars(payload, bytes, out var written)
            ? new ImageUpload(field, bytes.AsMemory(0, written))
            : throw new ValidationException(new[] { new ValidationFailure(field, $"{field} is not valid base64.") });
    }
}
