using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace ImageRetrieval.Infrastructure.BlobStores.Gcs;

internal static partial class GcsResilience
{
    /// <summary>
    /// Retry (jittered exponential backoff, honouring Retry-After) around a circuit breaker around a
    /// per-attempt timeout. Every GCS call we make is idempotent (uploads carry ifGenerationMatch=0, so a retried upload that already landed answers 412), so
    /// retrying writes is safe.
    /// </summary>
    public static IHttpClientBuilder AddGcsResilience(this IHttpClientBuilder builder)
    {
        builder.AddResilienceHandler("gcs", static (pipeline, context) =>
        {
            var options = context.ServiceProvider.GetRequiredService<IOptions<GcsOptions>>().Value;
            var logger = context.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GcsResilience));
            pipeline
                .AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = Math.Max(options.MaxRetries, 0),
                    Delay = options.RetryBaseDelay,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    ShouldRetryAfterHeader = true,
                    MaxDelay = TimeSpan.FromSeconds(30),
                    OnRetry = args =>
                    {
                        LogRetrying(logger, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds,
                            args.Outcome.Result is { } r ? (int)r.StatusCode : 0, args.Outcome.Exception?.Message);
                        return default;
                    },
                })
                .AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
                {
                    FailureRatio = 0.5,
                    MinimumThroughput = 20,
                    SamplingDuration = TimeSpan.FromSeconds(30),
                    BreakDuration = TimeSpan.FromSeconds(15),
                })
                .AddTimeout(options.Timeout);
        });
        return builder;
    }

    public static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    [LoggerMessage(Level = LogLevel.Warning, Message = "GCS request failed (status {Status}, {Error}); retry {Attempt} in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, int attempt, double delayMs, int status, string? error);
}
