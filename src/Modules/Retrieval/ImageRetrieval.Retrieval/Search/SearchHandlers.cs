using System.Diagnostics;
using FluentValidation;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.Retrieval.Contracts;
using ImageRetrieval.Retrieval.Filters;
using ImageRetrieval.SharedKernel;
using Mediator;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Retrieval.Search;

internal sealed class SearchByImageHandler(IMediator mediator, NearestImages nearest, IOptions<ImageLimitsOptions> limits) : IRequestHandler<SearchByImage, SearchResult>
{
    public async ValueTask<SearchResult> Handle(SearchByImage request, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var embedded = await mediator.Send(new EmbedImages([request.Image]), cancellationToken);
        var item = embedded.Items[0];
        if (item.Rejection is { } rejection)
        {
            throw new ServiceProblemException(rejection.StatusCode, rejection.Slug, "Query image rejected", rejection.Detail);
        }

        var query = new VectorQuery(item.Vector!, request.TopK, FilterParser.Parse(request.Filter, limits.Value, out _), request.MinScore);
        return await nearest.FindAsync(embedded.Model, embedded.Dimension, query, clock, cancellationToken);
    }
}

internal sealed class FindSimilarHandler(IMediator mediator, IVectorStore vectors, NearestImages nearest, IOptions<ImageLimitsOptions> limits) : IRequestHandler<FindSimilar, SearchResult>
{
    public async ValueTask<SearchResult> Handle(FindSimilar request, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var model = await mediator.Send(new GetEmbeddingModel(), cancellationToken);
        var found = await vectors.FetchAsync([request.Id], includeVectors: true, cancellationToken);
        if (found.Count == 0)
        {
            throw new NotFoundException("Image", request.Id);
        }

        var query = new VectorQuery(found[0].Vector, request.TopK, FilterParser.Parse(request.Filter, limits.Value, out _), request.MinScore, [request.Id]);
        return await nearest.FindAsync(model.ModelId, model.Dimension, query, clock, cancellationToken);
    }
}

/// <summary>The query both searches share: same-model check, vector query, then only hits whose image is still stored.</summary>
internal sealed class NearestImages(IMediator mediator, IVectorStore vectors, CollectionGuard guard)
{
    public async Task<SearchResult> FindAsync(string modelId, int dimension, VectorQuery query, Stopwatch clock, CancellationToken cancellationToken)
    {
        await guard.EnsureCompatibleAsync(modelId, dimension, cancellationToken);
        var hits = await vectors.QueryAsync(query, cancellationToken);
        var records = hits.Count == 0 ? [] : await mediator.Send(new GetImages(hits.Select(h => h.Record.Id).ToList()), cancellationToken);
        var byId = records.ToDictionary(r => r.Id);
        var results = hits.Where(h => byId.ContainsKey(h.Record.Id)).Select(h => new SearchHit(h.Score, byId[h.Record.Id])).ToList();
        return new SearchResult(modelId, results, clock.Elapsed.TotalMilliseconds);
    }
}

internal sealed class SearchByImageValidator : AbstractValidator<SearchByImage>
{
    public SearchByImageValidator(IOptions<ImageLimitsOptions> limits)
    {
        RuleFor(r => r.TopK).InclusiveBetween(1, 100).OverridePropertyName("topK").WithName("topK");
        RuleFor(r => r.MinScore).InclusiveBetween(-1f, 1f).When(r => r.MinScore is not null).OverridePropertyName("minScore").WithName("minScore");
        RuleFor(r => r.Image.Content.Length).GreaterThan(0).OverridePropertyName("file").WithMessage("Send the query image in the 'file' field.");
        RuleFor(r => r.Filter).Custom((filter, context) => FilterParser.Validate(filter, context, limits.Value));
    }
}

internal sealed class FindSimilarValidator : AbstractValidator<FindSimilar>
{
    public FindSimilarValidator(IOptions<ImageLimitsOptions> limits)
    {
        RuleFor(r => r.TopK).InclusiveBetween(1, 100).OverridePropertyName("topK").WithName("topK");
        RuleFor(r => r.MinScore).InclusiveBetween(-1f, 1f).When(r => r.MinScore is not null).OverridePropertyName("minScore").WithName("minScore");
        RuleFor(r => r.Filter).Custom((filter, context) => FilterParser.Validate(filter, context, limits.Value));
    }
}
