using System.Text.Json;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.SharedKernel;
using Mediator;

namespace ImageRetrieval.Retrieval.Contracts;

/// <summary>
/// The stored images most similar to <paramref name="Image"/>, best first. <paramref name="Filter"/> is
/// a JSON object of field conditions: <c>{"camera": "x"}</c>, <c>{"year": {"$in": [2023, 2024]}}</c>, <c>{"k": {"$eq": true}}</c>.
/// </summary>
public sealed record SearchByImage(ImageUpload Image, int TopK = 10, float? MinScore = null, JsonElement? Filter = null) : IRequest<SearchResult>, ISearchOptions;

/// <summary>The stored images most similar to a stored one, excluding itself.</summary>
public sealed record FindSimilar(string Id, int TopK = 10, float? MinScore = null, JsonElement? Filter = null) : IRequest<SearchResult>, ISearchOptions;

/// <summary>What every search takes besides its query: how many hits, how close at least, which metadata.</summary>
public interface ISearchOptions
{
    /// <summary>1-100.</summary>
    int TopK { get; }

    /// <summary>Cosine, -1..1; weaker hits are dropped.</summary>
    float? MinScore { get; }

    /// <summary>A JSON object of field conditions on the images' metadata.</summary>
    JsonElement? Filter { get; }
}

public sealed record SearchResult(string Model, IReadOnlyList<SearchHit> Results, double TookMs);

public sealed record SearchHit(float Score, ImageRecord Image);
