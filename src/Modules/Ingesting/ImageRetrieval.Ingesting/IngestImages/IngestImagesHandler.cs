using System.Diagnostics.Metrics;
using System.Text.Json;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.SharedKernel;
using Mediator;

namespace ImageRetrieval.Ingesting.IngestImages;

internal sealed class IngestImagesHandler(IMediator mediator, IVectorStore vectors, IBlobStore blobs, ImageCatalog catalog, CollectionGuard guard, TimeProvider clock)
    : IRequestHandler<Contracts.IngestImages, IngestImagesResult>
{
    private static readonly Meter Meter = new("ImageRetrieval");
    private static readonly Counter<long> Ingested = Meter.CreateCounter<long>("imageretrieval.images.ingested", description: "Images newly stored");

    public async ValueTask<IngestImagesResult> Handle(Contracts.IngestImages request, CancellationToken cancellationToken)
    {
        var model = await mediator.Send(new GetEmbeddingModel(), cancellationToken);
        await guard.EnsureCompatibleAsync(model.ModelId, model.Dimension, cancellationToken);

        var identities = request.Images.Select(image => ImageIdentity.For(image.Content.Span)).ToList();
        var existing = (await vectors.FetchAsync(identities.Select(i => i.Id).Distinct().ToList(), includeVectors: false, cancellationToken))
            .ToDictionary(r => r.Id, StoredImage.FromVectorRecord);

        // Only the first occurrence of new bytes is embedded; repeats in the same request point at it.
        var toEmbed = Enumerable.Range(0, request.Images.Count)
            .Where(i => !existing.ContainsKey(identities[i].Id))
            .GroupBy(i => identities[i].Id)
            .Select(g => g.First())
            .ToList();
        var embedded = toEmbed.Count == 0
            ? []
            : (await mediator.Send(new EmbedImages(toEmbed.Select(i => request.Images[i]).ToList()), cancellationToken)).Items;

        var created = new Dictionary<string, StoredImage>();
        var errors = new Dictionary<int, IngestError>();
        var newRecords = new List<(StoredImage Image, float[] Vector)>();
        var metadata = request.Metadata ?? new Dictionary<string, JsonElement>();
        for (var n = 0; n < toEmbed.Count; n++)
        {
            var index = toEmbed[n];
            var result = embedded[n];
            if (result.Rejection is { } rejection)
            {
                errors[index] = new IngestError(rejection.StatusCode, ProblemTypes.Uri(rejection.Slug), rejection.Detail);
                continue;
            }

            var (id, sha) = identities[index];
            var info = result.Image!;
            var image = new StoredImage(id, sha, info.ContentType, info.Width, info.Height, request.Images[index].Content.Length,
                clock.GetUtcNow(), ImageIdentity.BlobKey(id, info.ContentType), metadata);
            newRecords.Add((image, result.Vector!));
            created[id] = image;
        }

        // Blobs first; the vector upsert is the commit point, so a failure in between leaves only an orphan blob for reconcile.
        await Task.WhenAll(newRecords.Select(r =>
        {
            var index = identities.FindIndex(i => i.Id == r.Image.Id);
            return blobs.PutAsync(r.Image.BlobKey, request.Images[index].Content, r.Image.ContentType, cancellationToken);
        }));
        if (newRecords.Count > 0)
        {
            await vectors.UpsertAsync(newRecords.Select(r => r.Image.ToVectorRecord(r.Vector)).ToList(), cancellationToken);
            Ingested.Add(newRecords.Count);
        }

        var items = new List<IngestedImage>(request.Images.Count);
        var reported = new HashSet<string>();
        for (var i = 0; i < request.Images.Count; i++)
        {
            var name = request.Images[i].FileName;
            var id = identities[i].Id;
            if (errors.TryGetValue(i, out var error) || (!created.ContainsKey(id) && !existing.ContainsKey(id)))
            {
                items.Add(new IngestedImage(name, null, false, error ?? errors.First(e => identities[e.Key].Id == id).Value));
                continue;
            }

            var isNew = created.TryGetValue(id, out var stored) && reported.Add(id);
            stored ??= existing[id];
            items.Add(new IngestedImage(name, await catalog.ToRecordAsync(stored, cancellationToken), isNew, null));
        }

        return new IngestImagesResult(items);
    }
}
