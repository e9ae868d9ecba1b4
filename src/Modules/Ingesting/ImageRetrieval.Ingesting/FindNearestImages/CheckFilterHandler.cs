using ImageRetrieval.Ingesting.Contracts;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.FindNearestImages;

internal sealed class CheckFilterHandler(IOptions<ImageLimitsOptions> limits) : IRequestHandler<CheckFilter, FilterCheck>
{
    public ValueTask<FilterCheck> Handle(CheckFilter request, CancellationToken cancellationToken)
    {
        FilterParser.Parse(request.Filter, limits.Value, out var error);
        return ValueTask.FromResult(new FilterCheck(error));
    }
}
