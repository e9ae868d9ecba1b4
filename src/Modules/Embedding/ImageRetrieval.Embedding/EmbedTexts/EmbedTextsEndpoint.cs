using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.SharedKernel.Web;

namespace ImageRetrieval.Embedding.EmbedTexts;

internal sealed record TextEmbeddingsRequest(IReadOnlyList<string>? Texts);

internal sealed record TextEmbeddingsResponse(string Model, int Dimension, IReadOnlyList<TextEmbedding> Embeddings);

internal sealed record TextEmbedding(string Text, float[] Vector);

internal static class EmbedTextsEndpoint
{
    public static void MapEmbedTexts(this IEndpointRouteBuilder api) =>
        api.MapPost("/embeddings/text", HandleAsync)
            .Documented("CreateTextEmbeddings", "Embed texts", problems: [400, 415, 422, 503])
            .WithTags("embeddings")
            .WithDescription($"Embeds each text with the model's text tower into the space of its image embeddings; vectors are L2-normalised. At most {Contracts.EmbedTexts.MaxTexts} texts of at most {Contracts.EmbedTexts.MaxTextLength} characters; one text is embedded ahead of requests with several (bulk work), and past Embedding:MaxQueueLength texts waiting the answer is 503 overloaded with Retry-After; texts longer than the model's context are truncated by its tokenizer. An image-only model answers 422 text-not-supported.")
            .Accepts<TextEmbeddingsRequest>("application/json");

    private static async Task<Ok<TextEmbeddingsResponse>> HandleAsync(TextEmbeddingsRequest request, IMediator mediator, CancellationToken cancellationToken)
    {
        var texts = request.Texts ?? [];
        // One text is someone's query; many are bulk work that interactive queries go ahead of, as for images.
        var priority = texts.Count == 1 ? EmbeddingPriority.Interactive : EmbeddingPriority.Bulk;
        var result = await mediator.Send(new Contracts.EmbedTexts(texts, priority), cancellationToken);
        return TypedResults.Ok(new TextEmbeddingsResponse(result.Model, result.Dimension,
            texts.Select((t, i) => new TextEmbedding(t, result.Vectors[i])).ToList()));
    }
}
