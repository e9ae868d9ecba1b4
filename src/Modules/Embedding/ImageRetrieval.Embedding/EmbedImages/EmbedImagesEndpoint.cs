using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.SharedKernel;
using ImageRetrieval.SharedKernel.Web;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.EmbedImages;

internal sealed record EmbeddingsResponse(string Model, int Dimension, IReadOnlyList<FileEmbedding> Embeddings);

internal sealed record FileEmbedding(string FileName, float[] Vector);

internal static class EmbedImagesEndpoint
{
    public static void MapEmbedImages(this IEndpointRouteBuilder api) =>
        api.MapPost("/embeddings", HandleAsync)
            .Documented("CreateEmbeddings", "Embed images", problems: [400, 413, 415, 422, 503])
            .WithTags("embeddings")
            .WithDescription("Embeds each uploaded image with the configured model; vectors are L2-normalised. Fails as a whole if any file is not a usable image.")
            .Accepts<IFormFileCollection>("multipart/form-data");

    private static async Task<Results<Ok<EmbeddingsResponse>, ProblemHttpResult>> HandleAsync(
        IFormFileCollection files, IMediator mediator, IOptions<ImageLimitsOptions> limits, CancellationToken cancellationToken)
    {
        var uploads = await FormFileReader.ReadAllAsync(files.GetFiles("files"), limits.Value, cancellationToken);
        var result = await mediator.Send(new Contracts.EmbedImages(uploads, Priority: uploads.Count == 1 ? EmbeddingPriority.Interactive : EmbeddingPriority.Bulk), cancellationToken);
        var failed = result.Items.Where(i => i.Rejection is not null).ToList();
        if (failed.Count > 0)
        {
            var first = failed[0].Rejection!;
            return new Problem(first.Slug, "Image rejected", $"'{failed[0].FileName}': {first.Detail}")
            {
                Extensions = new Dictionary<string, object?>
                {
                    ["errors"] = failed.Select(f => new { fileName = f.FileName, type = f.Rejection!.Type, detail = f.Rejection.Detail }).ToList(),
                },
            }.ToResult();
        }

        return TypedResults.Ok(new EmbeddingsResponse(result.Model, result.Dimension,
            result.Items.Select(i => new FileEmbedding(i.FileName, i.Vector!)).ToList()));
    }
}
