using System.Diagnostics;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Retrieval.Search;

internal sealed class SearchByImageHandler(IMediator mediator) : IRequestHandler<SearchByImage, SearchResult>
{
    public async ValueTask<SearchResult> Handle(SearchByImage request, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var embedded = await mediator.Send(new EmbedImages([request.Image]), cancellationToken);
        var item = embedded.Items[0];
        if (item.Rejection is { } rejection)
        {
            throw new ServiceProblemException(rejection with { Title = "Query image rejected" });
        }

        return await mediator.FindNearestAsync(item.Vector!, embedded.Model, embedded.Dimension, request, excludeIds: null, clock, cancellationToken);
    }
}
