using System.Text.Json;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Retrieval;

internal sealed record SearchHitResponse(string Id, float Score, string Url, IReadOnlyDictionary<string, JsonElement> Metadata);

/// <summary>What every search endpoint answers.</summary>
internal sealed record SearchResponse(string Model, IReadOnlyList<SearchHitResponse> Results, double TookMs)
{
    public static SearchResponse From(SearchResult result, HttpContext context, string? publicBaseUrl) =>
        new(result.Model,
            result.Results.Select(hit => new SearchHitResponse(hit.Image.Id, hit.Score,
                ImageLinks.For(context, hit.Image.Id, hit.Image.SignedUrl, publicBaseUrl), hit.Image.Metadata)).ToList(),
            Math.Round(result.TookMs, 2));
}
