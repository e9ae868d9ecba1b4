namespace ImageRetrieval.Host.Api;

internal static class ApiV1
{
    public static RouteGroupBuilder MapApiV1(this IEndpointRouteBuilder app) =>
        app.MapGroup("/api/v1").DisableAntiforgery().RequireApiKey().RequireSingleValues();
}
