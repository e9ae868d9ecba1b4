using System.Diagnostics;
using System.Numerics.Tensors;
using FluentValidation;
using FluentValidation.Results;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Retrieval.Contracts;
using ImageRetrieval.Retrieval.Filters;
using ImageRetrieval.Retrieval.Search;
using ImageRetrieval.SharedKernel;
using Mediator;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Retrieval.Query;

internal sealed class SearchByTextHandler(IMediator mediator, NearestImages nearest, IOptions<ImageLimitsOptions> limits) : IRequestHandler<SearchByText, SearchResult>
{
    public async ValueTask<SearchResult> Handle(SearchByText request, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var embedded = await mediator.Send(new EmbedTexts([request.Text]), cancellationToken);
        var query = new VectorQuery(embedded.Vectors[0], request.TopK, FilterParser.Parse(request.Filter, limits.Value, out _), request.MinScore);
        return await nearest.FindAsync(embedded.Model, embedded.Dimension, query, clock, cancellationToken);
    }
}

internal sealed class QueryImagesHandler(IMediator mediator, IVectorStore vectors, NearestImages nearest, IOptions<ImageLimitsOptions> limits) : IRequestHandler<QueryImages, SearchResult>
{
    public async ValueTask<SearchResult> Handle(QueryImages request, CancellationToken cancellationToken)
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
                    ? throw new ServiceProblemException(rejection.StatusCode, rejection.Slug, "Query image rejected", $"terms[{images[k]}].image: {rejection.Detail}")
                    : item.Vector!;
            }
        }

        var stored = Indices(terms, t => t.ImageId is not null);
        var ids = stored.Select(i => terms[i].ImageId!).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count > 0)
        {
            var found = (await vectors.FetchAsync(ids, includeVectors: true, cancellationToken)).ToDictionary(r => r.Id, StringComparer.Ordinal);
            foreach (var i in stored)
            {
                embeddings[i] = found.TryGetValue(terms[i].ImageId!, out var record) ? record.Vector.ToArray() : throw new NotFoundException("Image", terms[i].ImageId!);
            }
        }

        foreach (var i in Indices(terms, t => t.Vector is not null))
        {
            embeddings[i] = terms[i].Vector!.Length == model.Dimension
                ? terms[i].Vector!
                : throw Invalid($"terms[{i}].vector", $"The vector has {terms[i].Vector!.Length} values; the model's embeddings have {model.Dimension}.");
        }

        var combined = Combine(terms, embeddings, model.Dimension);
        var query = new VectorQuery(combined, request.TopK, FilterParser.Parse(request.Filter, limits.Value, out _), request.MinScore, ids);
        return await nearest.FindAsync(model.ModelId, model.Dimension, query, clock, cancellationToken);
    }

    /// <summary>normalize(sum(weight_i * normalize(e_i))): each term counts by its weight, not by its vector's length.</summary>
    private static float[] Combine(IReadOnlyList<QueryTerm> terms, float[][] embeddings, int dimension)
    {
        var sum = new float[dimension];
        var scaled = new float[dimension];
        for (var i = 0; i < terms.Count; i++)
        {
            var norm = TensorPrimitives.Norm(embeddings[i]);
            if (!(norm > 0) || !float.IsFinite(norm))
            {
                throw Invalid($"terms[{i}]", "The term's vector is zero (or not finite), so it has no direction to search in.");
            }

            TensorPrimitives.Multiply(embeddings[i], terms[i].Weight / norm, scaled);
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

internal sealed class SearchByTextValidator : AbstractValidator<SearchByText>
{
    public SearchByTextValidator(IOptions<ImageLimitsOptions> limits)
    {
        RuleFor(r => r.Text).NotEmpty().OverridePropertyName("text").WithMessage("Send the query text in 'text'.")
            .MaximumLength(EmbedTexts.MaxTextLength).WithMessage($"The text may have at most {EmbedTexts.MaxTextLength} characters.");
        RuleFor(r => r.TopK).InclusiveBetween(1, 100).OverridePropertyName("topK").WithName("topK");
        RuleFor(r => r.MinScore).InclusiveBetween(-1f, 1f).When(r => r.MinScore is not null).OverridePropertyName("minScore").WithName("minScore");
        RuleFor(r => r.Filter).Custom((filter, context) => FilterParser.Validate(filter, context, limits.Value));
    }
}

internal sealed class QueryImagesValidator : AbstractValidator<QueryImages>
{
    public QueryImagesValidator(IOptions<ImageLimitsOptions> limits)
    {
        RuleFor(r => r.Terms).NotEmpty().OverridePropertyName("terms").WithMessage("Send at least one term in 'terms'.");
        RuleFor(r => r.Terms.Count).LessThanOrEqualTo(QueryImages.MaxTerms).OverridePropertyName("terms").WithMessage($"At most {QueryImages.MaxTerms} terms.");
        RuleFor(r => r.Terms.Count(t => t.Text != null)).LessThanOrEqualTo(EmbedTexts.MaxTexts).OverridePropertyName("terms");
        RuleForEach(r => r.Terms).ChildRules(term =>
        {
            term.RuleFor(t => (t.Text != null ? 1 : 0) + (t.ImageId != null ? 1 : 0) + (t.Image != null ? 1 : 0) + (t.Vector != null ? 1 : 0))
                .Equal(1).OverridePropertyName("kind").WithMessage("A term has exactly one of text, imageId, image or vector.");
            term.RuleFor(t => t.Weight).Must(float.IsFinite).OverridePropertyName("weight").WithMessage("weight must be a finite number.");
            term.RuleFor(t => t.Text).NotEmpty().MaximumLength(EmbedTexts.MaxTextLength).When(t => t.Text is not null).OverridePropertyName("text")
                .WithMessage($"text must have 1 to {EmbedTexts.MaxTextLength} characters.");
            term.RuleFor(t => t.ImageId).NotEmpty().MaximumLength(128).When(t => t.ImageId is not null).OverridePropertyName("imageId");
            term.RuleFor(t => t.Image!.Content.Length).GreaterThan(0).When(t => t.Image is not null).OverridePropertyName("image").WithMessage("image is empty.");
            term.RuleFor(t => t.Vector).Must(v => v!.Length is > 0 and <= 8192 && v.All(float.IsFinite)).When(t => t.Vector is not null)
                .OverridePropertyName("vector").WithMessage("vector must be 1 to 8192 finite numbers.");
        }).OverridePropertyName("terms");
        RuleFor(r => r.TopK).InclusiveBetween(1, 100).OverridePropertyName("topK").WithName("topK");
        RuleFor(r => r.MinScore).InclusiveBetween(-1f, 1f).When(r => r.MinScore is not null).OverridePropertyName("minScore").WithName("minScore");
        RuleFor(r => r.Filter).Custom((filter, context) => FilterParser.Validate(filter, context, limits.Value));
    }
}
