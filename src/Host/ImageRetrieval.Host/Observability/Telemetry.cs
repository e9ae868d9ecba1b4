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
    /// is set; metrics are always served in Prometheus text format at /metrics; logs are ECS JSON lines
    /// or plain text, as <see cref="LogFormatSelection"/> chooses.
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
                // The runtime's own meter: GC, JIT, thread pool and lock contention beside the service's figures.
                .AddMeter("System.Runtime")
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

        if (LogFormatSelection.Choose(builder.Configuration[LogFormatSelection.Key], builder.Environment.IsDevelopment(), Console.IsOutputRedirected) == LogFormat.Ecs)
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

    public static IServiceCollection AddReadinessReporting(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ReadinessOptions>().Bind(configuration.GetSection(ReadinessOptions.Section))
            .Validate(o => o.Interval >= TimeSpan.FromMilliseconds(10) && o.RetryInterval >= TimeSpan.FromMilliseconds(10), "ImageRetrieval:Health:Interval and RetryInterval must be at least 10 ms.")
            .ValidateOnStart();
        services.AddSingleton<ReadinessMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<ReadinessMonitor>());
        return services;
    }
}

/// <summary><c>ImageRetrieval:Health</c>: how often the readiness checks run in the background.</summary>
internal sealed class ReadinessOptions
{
    public const string Section = "ImageRetrieval:Health";

    /// <summary>Between checks while ready.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Between checks while not ready (starting, or a store is down), so recovery shows quickly.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Runs the readiness checks (model loaded, every store answers) in the background and keeps the last
/// report: <c>/healthz/ready</c> answers from it, so a probe never costs a call to every store and a
/// burst of probes cannot load a struggling provider. Publishes <c>imageretrieval_ready</c> and logs every change.
/// </summary>
internal sealed partial class ReadinessMonitor : BackgroundService
{
    private readonly HealthCheckService health;
    private readonly ReadinessOptions options;
    private readonly ILogger<ReadinessMonitor> logger;
    private volatile HealthReport? last;
    private int ready = -1;

    public ReadinessMonitor(HealthCheckService health, IOptions<ReadinessOptions> options, ILogger<ReadinessMonitor> logger, IMeterFactory meters)
    {
        this.health = health;
        this.options = options.Value;
        this.logger = logger;

        // The host's meter, disposed with it: a stopped host leaves no gauge behind (a static meter gained one per host built).
        meters.Create(Telemetry.MeterName).CreateObservableGauge("imageretrieval.ready", () => Math.Max(Volatile.Read(ref ready), 0), description: "1 when the model is loaded and every store answers");
    }

    /// <summary>The last completed check, or null before the first one finished.</summary>
    public HealthReport? Last => last;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            HealthReport report;
            try
            {
                report = await health.CheckHealthAsync(c => c.Tags.Contains(ImageRetrieval.SharedKernel.HealthTags.Ready), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            last = report;
            var now = report.Status == HealthStatus.Healthy ? 1 : 0;
            if (Interlocked.Exchange(ref ready, now) != now)
            {
                // The log gets the checks' own errors (paths, provider words); the probe's answer does not.
                var failing = string.Join("; ", report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy)
                    .Select(e => $"{e.Key}: {e.Value.Description}{(e.Value.Exception is { } ex ? " (" + ex.Message + ")" : "")}"));
                LogReadinessChanged(logger, now == 1 ? "ready" : "not ready", failing);
            }

            try
            {
                await Task.Delay(now == 1 ? options.Interval : options.RetryInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Service is {State} {Failing}")]
    private static partial void LogReadinessChanged(ILogger logger, string state, string failing);
}
