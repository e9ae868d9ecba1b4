using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.SharedKernel.Web;

public static class RouteDocumentation
{
    /// <summary>
    /// What every public route states in the OpenAPI document: its operation name, its summary and the
    /// RFC 9457 problem statuses it can answer with (listed in the order given). Taking all three in
    /// one call makes a route that leaves one out fail to compile, not just the document test.
    /// </summary>
    public static RouteHandlerBuilder Documented(this RouteHandlerBuilder route, string name, string summary, ReadOnlySpan<int> problems)
    {
        route.WithName(name).WithSummary(summary);
        foreach (var status in problems)
        {
            route.ProducesProblem(status);
        }

        return route;
    }
}
