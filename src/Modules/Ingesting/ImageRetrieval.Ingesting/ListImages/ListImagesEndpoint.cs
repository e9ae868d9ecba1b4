using ImageRetrieval.Ingesting.Contracts;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.ListImages;

internal sealed record ImagePageResponse(IReadOnlyList<ImageResponse> Items, string? NextCursor);

internal static class ListImagesEndpoint
{
    public static void MapListImages(this RouteGroupBuilder images) =>
        images.MapGet("/", ListAsync)
            .Documented("ListImages", "List stored images", problems: [400, 503])
            .WithDescription("Pages through every stored image in a stable order; pass `nextCursor` back as `cursor` for the next page.");

    private static async Task<Ok<ImagePageResponse>> ListAsync(
        HttpContext context, IMediator mediator, IOptions<ServiceOptions> service, CancellationToken cancellationToken, int limit = 50, string? cursor = null)
    {
        var page = await mediator.Send(new Contracts.ListImages(limit, cursor), cancellationToken);
        return TypedResults.Ok(new ImagePageResponse(page.Items.Select(i => ImageResponse.From(i, context, service.Value.PublicBaseUrl)).ToList(), page.NextCursor));
    }
}
