using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace ImageRetrieval.Infrastructure.VectorStores.Pinecone;

internal static partial class PineconeResilience
{
    /// <summary>
    /// Retry (jittered exponential backoff, honouring Retry-After) around a circuit breaker around a
    /// per-attempt timeout. Every Pinecone call we make is idempotent (upserts and deletes by id, describe, create answering 409 when done), so
    /// retrying writes is safe.
    /// </summary>
    public static IHttpClientBuilder AddPineconeResilience(this IHttpClientBuilder builder)
    {
        builder.AddResilienceHandler("pinecone", static (pipeline, context) =>
        {
            var options = context.ServiceProvider.GetRequiredService<IOptions<PineconeOptions>>().Value;
            var logger = context.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(PineconeResilience));
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pinecone request failed (status {Status}, {Error}); retry {Attempt} in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, int attempt, double delayMs, int status, string? error);
}
