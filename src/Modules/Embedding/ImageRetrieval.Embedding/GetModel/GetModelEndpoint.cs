using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.SharedKernel.Web;

namespace ImageRetrieval.Embedding.GetModel;

/// <param name="TextSearch">Whether text queries work: true only when the model has a text tower.</param>
internal sealed record ModelResponse(string Model, int Dimension, bool TextSearch);

internal static class GetModelEndpoint
{
    public static void MapGetModel(this IEndpointRouteBuilder api) =>
        api.MapGet("/model", HandleAsync)
            .Documented("GetModel", "The loaded embedding model", problems: [401, 503])
            .WithDescription("The model id the collection records, the vector dimension, and whether the model can embed text (textSearch), so a client knows whether to offer text search.")
            .WithTags("embeddings");

    private static async Task<Ok<ModelResponse>> HandleAsync(IMediator mediator, CancellationToken cancellationToken)
    {
        var model = await mediator.Send(new GetEmbeddingModel(), cancellationToken);
        return TypedResults.Ok(new ModelResponse(model.ModelId, model.Dimension, model.TextSearch));
    }
}
