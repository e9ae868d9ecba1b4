using ImageRetrieval.Host.Api;
using ImageRetrieval.Host.Observability;
using ImageRetrieval.Infrastructure.Adapters;

namespace ImageRetrieval.Host;

/// <summary>Cross-cutting concerns every endpoint shares: problems, OpenAPI, health, telemetry, limits.</summary>
internal static class ServiceDefaults
{
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddServiceOptions(builder.Configuration);
        // Numbers are numbers: the default web setting also accepts strings, which makes every number schema "integer|string".
        // A member given twice is refused, not last-wins, as FormJson refuses a metadata key given twice.
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
            o.SerializerOptions.AllowDuplicateProperties = false;
        });
        services.AddProblemDetailsWithStableTypes();
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddHttpContextAccessor();
        services.AddApiKeys(builder.Configuration);
        services.AddApiRateLimiting(builder.Configuration);
        services.AddExposure(builder.Configuration);
        services.AddApiDocument();
        services.AddReadinessReporting(builder.Configuration);
        builder.AddTelemetry();
        builder.ConfigureRequestLimits();

        // Port 8080 on a developer machine, as in the container; any configured address (ASPNETCORE_URLS,
        // ASPNETCORE_HTTP_PORTS, --urls) wins. Kept out of appsettings.json, which would override those.
        var configuration = builder.Configuration;
        if (string.IsNullOrEmpty(configuration["urls"]) && string.IsNullOrEmpty(configuration["http_ports"]) && string.IsNullOrEmpty(configuration["https_ports"]))
        {
            builder.WebHost.UseUrls("http://localhost:8080");
        }

        return builder;
    }

    public static WebApplication UseServiceDefaults(this WebApplication app)
    {
        app.UseExposure();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseCorsWhenConfigured();
        app.UseApiRateLimiting();
        app.UseRequestLimits();
        app.UseApiKeys();
        app.UseKnownJsonCharsets();
        app.UseBufferedBodyBudget();
        app.MapApiDocument();
        app.MapHealthEndpoints();
        app.MapTelemetryEndpoints();
        return app;
    }
}
