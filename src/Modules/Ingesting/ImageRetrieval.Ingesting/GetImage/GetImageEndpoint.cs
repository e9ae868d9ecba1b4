using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.GetImage;

internal static class GetImageEndpoint
{
    public static void MapGetImage(this RouteGroupBuilder images) =>
        images.MapGet("/{id}", GetAsync)
            .Documented("GetImage", "Get one image's record", problems: [404, 503]);

    private static async Task<Ok<ImageResponse>> GetAsync(string id, HttpContext context, IMediator mediator, IOptions<ServiceOptions> service, CancellationToken cancellationToken) =>
        TypedResults.Ok(ImageResponse.From(await mediator.Send(new Contracts.GetImage(id), cancellationToken), context, service.Value.PublicBaseUrl));
}
