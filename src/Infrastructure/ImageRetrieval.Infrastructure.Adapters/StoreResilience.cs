using ImageRetrieval.Infrastructure.Abstractions;
using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Timeout;

namespace ImageRetrieval.Infrastructure.Adapters;

/// <summary>
/// The knobs, with their bounds and defaults, of every remote store's resilience pipeline (HTTP, or
/// Qdrant's gRPC calls); each provider's options class adds its own settings to these.
/// </summary>
public abstract class StoreResilienceOptions
{
    /// <summary>Deadline of one attempt; retries get their own.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after the first attempt when the provider is unavailable, rate-limits or is past the deadline.</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 3;

    /// <summary>First backoff delay; doubles per retry, with jitter. A retry-after in the provider's answer wins.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);
}

public static partial class StoreResilience
{
    /// <summary>
    /// Retry (jittered exponential backoff on 408/429/5xx and transport errors, honouring Retry-After)
    /// around a circuit breaker around a per-attempt timeout. Every store call we make is idempotent
    /// (upserts and deletes by id, content-addressed uploads), so retrying writes is safe.
    /// </summary>
    public static IHttpClientBuilder AddStoreResilience<TOptions>(this IHttpClientBuilder builder, string store)
        where TOptions : StoreResilienceOptions
    {
        builder.AddResilienceHandler(store, (pipeline, context) =>
        {
            var options = context.ServiceProvider.GetRequiredService<IOptions<TOptions>>().Value;
            var logger = context.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StoreResilience));
            // MaxRetries 0 means no retry strategy at all (Polly refuses a retry of zero attempts).
            if (options.MaxRetries > 0)
            {
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = options.MaxRetries,
                    Delay = options.RetryBaseDelay,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    ShouldRetryAfterHeader = true,
                    MaxDelay = TimeSpan.FromSeconds(30),
                    OnRetry = args =>
                    {
                        LogRetrying(logger, store, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds,
                            args.Outcome.Result is { } r ? (int)r.StatusCode : 0, args.Outcome.Exception?.Message);
                        return default;
                    },
                });
            }

            pipeline
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

    /// <summary>Sends through the resilient client; a transport failure left after retries becomes <see cref="StoreUnavailableException"/>.</summary>
    public static async Task<HttpResponseMessage> SendAsync(
        HttpClient http, string store, string description, HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        try
        {
            return await http.SendAsync(request, completion, cancellationToken);
        }
        catch (Exception ex) when (IsTransportFailure(ex, cancellationToken))
        {
            throw new StoreUnavailableException(store, $"{description} failed: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The exception for a provider's error answer, with the message <paramref name="providerMessage"/> finds in
    /// its JSON error body, else the raw body (a proxy's page, say), at most 500 characters.
    /// </summary>
    public static async Task<Exception> FailureFromAsync(
        string store, string description, HttpResponseMessage response, Func<JsonElement, string?> providerMessage, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        string? detail = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                detail = providerMessage(document.RootElement);
            }
        }
        catch (JsonException)
        {
            // Not JSON: the raw text is the best detail there is.
        }

        detail ??= body;
        return FailureFor(store, description, response.StatusCode, detail.Length > 500 ? detail[..500] : detail, RetryAfterOf(response));
    }

    /// <summary>
    /// Reads a success answer's JSON; a body that is not what the provider documents (a proxy's page, a
    /// truncated answer) is the provider's failure, never our 500.
    /// </summary>
    public static async Task<T?> ReadJsonAsync<T>(string store, string description, HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        try
        {
            return await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync(response.Content, typeInfo, cancellationToken);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
        {
            throw new StoreUnavailableException(store, $"{description} answered {(int)response.StatusCode} with a body that is not the expected JSON: {ex.Message}", ex);
        }
    }

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow,
        _ => null,
    };

    /// <summary>
    /// Our exception for a provider's error answer: <see cref="StoreUnavailableException"/> (503 to our
    /// callers) when it may pass, <see cref="StoreRequestException"/> when the request itself was wrong.
    /// </summary>
    public static Exception FailureFor(string store, string request, HttpStatusCode status, string detail, TimeSpan? retryAfter = null) =>
        IsTransient(status)
            ? new StoreUnavailableException(store, $"{request} answered {(int)status}: {detail}") { RetryAfter = retryAfter }
            : new StoreRequestException(store, (int)status, $"{request}: {detail}");

    /// <summary>The provider could not be reached or did not answer in time (after the pipeline's retries).</summary>
    public static bool IsTransportFailure(Exception ex, CancellationToken cancellationToken) => ex switch
    {
        HttpRequestException or TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException or IOException => true,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        _ => false,
    };

    /// <summary>Answers worth retrying later; anything else in 4xx is a request we got wrong.</summary>
    public static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Store} request failed (status {Status}, {Error}); retry {Attempt} in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, string store, int attempt, double delayMs, int status, string? error);
}
