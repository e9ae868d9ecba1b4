using System.Diagnostics;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Retrieval.FindSimilar;

internal sealed class FindSimilarHandler(IMediator mediator) : IRequestHandler<Contracts.FindSimilar, SearchResult>
{
    public async ValueTask<SearchResult> Handle(Contracts.FindSimilar request, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var model = await mediator.Send(new GetEmbeddingModel(), cancellationToken);
        var vectors = await mediator.Send(new GetImageVectors([request.Id]), cancellationToken);
        var vector = vectors.TryGetValue(request.Id, out var found) ? found : throw new NotFoundException("Image", request.Id);
        return await mediator.FindNearestAsync(vector, model.ModelId, model.Dimension, request, [request.Id], clock, cancellationToken);
    }
}
