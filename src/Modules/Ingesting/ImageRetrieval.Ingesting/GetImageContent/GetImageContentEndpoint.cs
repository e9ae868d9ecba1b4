using ImageRetrieval.Ingesting.Contracts;

namespace ImageRetrieval.Ingesting.GetImageContent;

internal static class GetImageContentEndpoint
{
    public static void MapGetImageContent(this RouteGroupBuilder images) =>
        images.MapGet("/{id}/content", GetContentAsync)
            .Produces<Stream>(StatusCodes.Status200OK, "image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/heif")
            .Documented("GetImageContent", "Download the image's bytes", problems: [404, 503]);

    private static async Task<FileStreamHttpResult> GetContentAsync(string id, IMediator mediator, CancellationToken cancellationToken)
    {
        var content = await mediator.Send(new OpenImageContent(id), cancellationToken);
        return TypedResults.Stream(content.Content, content.ContentType, fileDownloadName: null, enableRangeProcessing: content.Content.CanSeek);
    }
}
