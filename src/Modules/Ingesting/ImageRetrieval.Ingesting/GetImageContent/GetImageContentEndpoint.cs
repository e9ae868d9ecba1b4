using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Ingesting.GetImageContent;

internal static class GetImageContentEndpoint
{
    public static void MapGetImageContent(this RouteGroupBuilder images) =>
        images.MapGet("/{id}/content", GetContentAsync)
            .WithName("GetImageContent")
            .WithSummary("Download the image's bytes")
            .Produces<Stream>(StatusCodes.Status200OK, "image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/heif")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<FileStreamHttpResult> GetContentAsync(string id, IMediator mediator, CancellationToken cancellationToken)
    {
        var content = await mediator.Send(new OpenImageContent(id), cancellationToken);
        return TypedResults.Stream(content.Content, content.ContentType, fileDownloadName: null, enableRangeProcessing: content.Content.CanSeek);
    }
}
