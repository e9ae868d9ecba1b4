using System.Text.Json;
using ImageRetrieval.SharedKernel;
using Mediator;

namespace ImageRetrieval.Retrieval.Contracts;

/// <summary>The stored images closest to a text, embedded by the model's text tower (422 text-not-supported without one).</summary>
public sealed record SearchByText(string Text, int TopK = 10, float? MinScore = null, JsonElement? Filter = null) : IRequest<SearchResult>, ISearchOptions;

/// <summary>
/// The stored images closest to a weighted combination of terms: the query vector is
/// normalize(sum(weight_i * normalize(embedding_i))). Images named by a term's
/// <see cref="QueryTerm.ImageId"/> are never returned.
/// </summary>
public sealed record QueryImages(IReadOnlyList<QueryTerm> Terms, int TopK = 10, float? MinScore = null, JsonElement? Filter = null) : IRequest<SearchResult>, ISearchOptions
{
    public const int MaxTerms = 32;
}

/// <summary>Exactly one of text, a stored image's id, image bytes or a raw vector; a negative weight pushes away.</summary>
public sealed record QueryTerm(string? Text = null, string? ImageId = null, ImageUpload? Image = null, float[]? Vector = null, float Weight = 1f);
