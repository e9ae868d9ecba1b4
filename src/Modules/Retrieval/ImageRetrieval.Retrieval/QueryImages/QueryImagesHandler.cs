using System.Diagnostics;
using System.Numerics.Tensors;
using FluentValidation;
using FluentValidation.Results;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Retrieval.QueryImages;

internal sealed class QueryImagesHandler(IMediator mediator) : IRequestHandler<Contracts.QueryImages, SearchResult>
{
    public async ValueTask<SearchResult> Handle(Contracts.QueryImages request, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var model = await mediator.Send(new GetEmbeddingModel(), cancellationToken);
        var terms = request.Terms;
        var embeddings = new float[terms.Count][];

        var texts = Indices(terms, t => t.Text is not null);
        if (texts.Count > 0)
        {
            var embedded = await mediator.Send(new EmbedTexts(texts.Select(i => terms[i].Text!).ToList()), cancellationToken);
            for (var k = 0; k < texts.Count; k++)
            {
                embeddings[texts[k]] = embedded.Vectors[k];
            }
        }

        var images = Indices(terms, t => t.Image is not null);
        if (images.Count > 0)
        {
            var embedded = await mediator.Send(new EmbedImages(images.Select(i => terms[i].Image!).ToList()), cancellationToken);
            for (var k = 0; k < images.Count; k++)
            {
                var item = embedded.Items[k];
                embeddings[images[k]] = item.Rejection is { } rejection
                    ? throw new ServiceProblemException(rejection with { Title = "Query image rejected", Detail = $"terms[{images[k]}].image: {rejection.Detail}" })
                    : item.Vector!;
            }
        }

        var stored = Indices(terms, t => t.ImageId is not null);
        var ids = stored.Select(i => terms[i].ImageId!).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count > 0)
        {
            var found = await mediator.Send(new GetImageVectors(ids), cancellationToken);
            foreach (var i in stored)
            {
                embeddings[i] = found.TryGetValue(terms[i].ImageId!, out var vector) ? vector.ToArray() : throw new NotFoundException("Image", terms[i].ImageId!);
            }
        }

        foreach (var i in Indices(terms, t => t.Vector is not null))
        {
            embeddings[i] = terms[i].Vector!.Length == model.Dimension
                ? terms[i].Vector!
                : throw Invalid($"terms[{i}].vector", $"The vector has {terms[i].Vector!.Length} values; the model's embeddings have {model.Dimension}.");
        }

        var combined = Combine(terms, embeddings, model.Dimension);
        return await mediator.FindNearestAsync(combined, model.ModelId, model.Dimension, request, ids, clock, cancellationToken);
    }

    /// <summary>normalize(sum(weight_i * normalize(e_i))): each term counts by its weight, not by its vector's length.</summary>
    private static float[] Combine(IReadOnlyList<QueryTerm> terms, float[][] embeddings, int dimension)
    {
        var sum = new float[dimension];
        var scaled = new float[dimension];
        // The direction does not change when every weight is divided by the largest, and then no sum can overflow:
        // weights such as 1e20 (finite, so valid) made the sum's norm infinite and the query vector NaN.
        var largest = terms.Max(t => MathF.Abs(t.Weight));
        for (var i = 0; i < terms.Count; i++)
        {
            var norm = TensorPrimitives.Norm(embeddings[i]);
            if (!(norm > 0) || !float.IsFinite(norm))
            {
                throw Invalid($"terms[{i}]", "The term's vector is zero (or not finite), so it has no direction to search in.");
            }

            TensorPrimitives.Multiply(embeddings[i], largest > 0 ? terms[i].Weight / largest / norm : 0f, scaled);
            TensorPrimitives.Add(sum, scaled, sum);
        }

        var total = TensorPrimitives.Norm(sum);
        if (!(total > 1e-6f))
        {
            throw Invalid("terms", "The weighted terms cancel out: their sum is the zero vector.");
        }

        TensorPrimitives.Divide(sum, total, sum);
        return sum;
    }

    private static List<int> Indices(IReadOnlyList<QueryTerm> terms, Func<QueryTerm, bool> predicate) =>
        Enumerable.Range(0, terms.Count).Where(i => predicate(terms[i])).ToList();

    private static ValidationException Invalid(string field, string message) => new(new[] { new ValidationFailure(field, message) });
}
