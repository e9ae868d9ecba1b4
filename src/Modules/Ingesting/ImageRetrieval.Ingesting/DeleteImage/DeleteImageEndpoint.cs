
namespace ImageRetrieval.Ingesting.DeleteImage;

internal static class DeleteImageEndpoint
{
    public static void MapDeleteImage(this RouteGroupBuilder images) =>
        images.MapDelete("/{id}", DeleteAsync)
            .WithName("DeleteImage")
            .WithSummary("Delete an image")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<NoContent> DeleteAsync(string id, IMediator mediator, CancellationToken cancellationToken)
    {
        await mediator.Send(new Contracts.DeleteImage(id), cancellationToken);
        return TypedResults.NoContent();
    }
}
