using System.Diagnostics;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Retrieval.Contracts;

namespace ImageRetrieval.Retrieval.Search;

internal sealed class SearchByTextHandler(IMediator mediator) : IRequestHandler<SearchByText, SearchResult>
{
    public async ValueTask<SearchResult> Handle(SearchByText request, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var embedded = await mediator.Send(new EmbedTexts([request.Text]), cancellationToken);
        return await mediator.FindNearestAsync(embedded.Vectors[0], embedded.Model, embedded.Dimension, request, excludeIds: null, clock, cancellationToken);
    }
}
