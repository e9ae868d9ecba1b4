using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Ingesting.GetImageVectors;

internal sealed class GetImageVectorsHandler(IVectorStore vectors) : IRequestHandler<Contracts.GetImageVectors, IReadOnlyDictionary<string, ReadOnlyMemory<float>>>
{
    public async ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<float>>> Handle(Contracts.GetImageVectors request, CancellationToken cancellationToken)
    {
        // Any id the store knows, ours or a foreign record's: a foreign image has a vector to search with.
        var ids = request.Ids.Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count == 0)
        {
            return new Dictionary<string, ReadOnlyMemory<float>>();
        }

        var found = await vectors.FetchAsync(ids, includeVectors: true, cancellationToken);
        return found.ToDictionary(r => r.Id, r => r.Vector, StringComparer.Ordinal);
    }
}
