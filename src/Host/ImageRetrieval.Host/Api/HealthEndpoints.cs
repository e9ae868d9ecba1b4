using ImageRetrieval.Host.Observability;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ImageRetrieval.Host.Api;

internal static class HealthEndpoints
{
    /// <summary>
    /// Live: the process answers. Ready: the model is loaded and every store answered the last
    /// background check (<see cref="ReadinessMonitor"/>); the probe itself calls nothing.
    /// </summary>
    public static void MapHealthEndpoints(this WebApplication app)
    {
        app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync })
            .WithName("Live").WithSummary("Liveness probe").WithTags("health").ExcludeFromDescription();
        app.MapGet("/healthz/ready", (HttpContext context, ReadinessMonitor monitor) =>
            {
                var report = monitor.Last ?? new HealthReport(new Dictionary<string, HealthReportEntry>(), HealthStatus.Unhealthy, TimeSpan.Zero);
                context.Response.StatusCode = report.Status == HealthStatus.Healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
                context.Response.Headers.CacheControl = "no-store, no-cache";
                return WriteAsync(context, report);
            })
            .WithName("Ready").WithSummary("Readiness probe").WithTags("health").ExcludeFromDescription();
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, new
        {
            status = report.Entries.Count == 0 && report.Status != HealthStatus.Healthy ? "Starting" : report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        }, cancellationToken: context.RequestAborted);
    }
}
