using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ImageRetrieval.Host.Observability;

internal static class Telemetry
{
    public const string MeterName = "ImageRetrieval";

    /// <summary>
    /// Traces (requests, outgoing HTTP, our own spans) go over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT
    /// is set; metrics are always served in Prometheus text format at /metrics; logs are ECS JSON lines.
    /// </summary>
    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder)
    {
        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } configured ? configured : "image-retrieval";
        var otlp = builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddMeter(MeterName)
                .AddPrometheusExporter())
            .WithTracing(tracing =>
            {
                tracing.AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics") && !context.Request.Path.StartsWithSegments("/healthz"))
                    .AddHttpClientInstrumentation()
                    .AddSource("ImageRetrieval.*");
                if (!string.IsNullOrEmpty(otlp))
                {
                    tracing.AddOtlpExporter();
                }
            });

        if (!string.Equals(builder.Configuration["ImageRetrieval:Logging:Format"], "text", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddConsole(options => options.FormatterName = EcsConsoleFormatter.FormatterName);
            builder.Logging.AddConsoleFormatter<EcsConsoleFormatter, ConsoleFormatterOptions>();
            builder.Services.Configure<EcsFormatterOptions>(o => o.ServiceName = serviceName);
        }

        return builder;
    }

    public static void MapTelemetryEndpoints(this WebApplication app) =>
        app.MapPrometheusScrapingEndpoint("/metrics");

    public static IServiceCollection AddReadinessReporting(this IServiceCollection services)
    {
        services.Configure<HealthCheckPublisherOptions>(o =>
        {
            o.Delay = TimeSpan.FromSeconds(2);
            o.Period = TimeSpan.FromSeconds(10);
            o.Predicate = check => check.Tags.Contains(ImageRetrieval.SharedKernel.HealthTags.Ready);
        });
        services.AddSingleton<IHealthCheckPublisher, ReadinessGauge>();
        return services;
    }
}

/// <summary>Publishes <c>imageretrieval_ready</c> (1 or 0) from the periodic readiness checks, and logs every change.</summary>
internal sealed partial class ReadinessGauge : IHealthCheckPublisher
{
    private static readonly Meter Meter = new(Telemetry.MeterName);
    private readonly ILogger<ReadinessGauge> logger;
    private volatile int ready = -1;

    public ReadinessGauge(ILogger<ReadinessGauge> logger)
    {
        this.logger = logger;
        Meter.CreateObservableGauge("imageretrieval.ready", () => Math.Max(ready, 0), description: "1 when the model is loaded and every store answers");
    }

    public Task PublishAsync(HealthReport report, CancellationToken cancellationToken)
    {
        var now = report.Status == HealthStatus.Healthy ? 1 : 0;
        if (Interlocked.Exchange(ref ready, now) != now)
        {
            var failing = string.Join("; ", report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).Select(e => $"{e.Key}: {e.Value.Description}"));
            LogReadinessChanged(logger, now == 1 ? "ready" : "not ready", failing);
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Service is {State} {Failing}")]
    private static partial void LogReadinessChanged(ILogger logger, string state, string failing);
}
