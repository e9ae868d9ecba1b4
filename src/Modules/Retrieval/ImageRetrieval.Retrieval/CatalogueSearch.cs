using System.Diagnostics;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Retrieval;

/// <summary>
/// The path every search ends on, once it has its query vector: one request to the catalogue's owner
/// (Ingesting), which checks the model, queries and drops hits whose bytes are gone.
/// </summary>
internal static class CatalogueSearch
{
    public static async Task<SearchResult> FindNearestAsync(
        this IMediator mediator, ReadOnlyMemory<float> vector, string modelId, int dimension, ISearchOptions options, IReadOnlyCollection<string>? excludeIds,
        Stopwatch clock, CancellationToken cancellationToken)
    {
        var hits = await mediator.Send(
            new FindNearestImages(vector, modelId, dimension, options.TopK, options.MinScore, options.Filter, excludeIds), cancellationToken);
        return new SearchResult(modelId, hits.Select(h => new SearchHit(h.Score, h.Image)).ToList(), clock.Elapsed.TotalMilliseconds);
    }
}
