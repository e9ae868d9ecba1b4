namespace ImageRetrieval.Ingesting.DeleteImage;

internal static class DeleteImageEndpoint
{
    public static void MapDeleteImage(this RouteGroupBuilder images) =>
        images.MapDelete("/{id}", DeleteAsync)
            .Documented("DeleteImage", "Delete an image", problems: [404, 503]);

    private static async Task<NoContent> DeleteAsync(string id, IMediator mediator, CancellationToken cancellationToken)
    {
        await mediator.Send(new Contracts.DeleteImage(id), cancellationToken);
        return TypedResults.NoContent();
    }
}
