using System.Globalization;
using Grpc.Core;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Qdrant.Client;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>
/// Runs one call of the official client through retry (jittered exponential backoff, honouring Qdrant's
/// <c>retry-after</c>) around a circuit breaker; each attempt has the client's gRPC deadline
/// (<see cref="QdrantOptions.Timeout"/>). gRPC answers always come back as HTTP 200 with a status in the
/// trailers, so the HTTP resilience handler the REST adapters use would see none of them: the pipeline
/// sits here, on <see cref="RpcException"/> status codes. What is left after the retries becomes one of our
/// store exceptions. Every call we make is idempotent (upserts and deletes by id, alias batches that
/// re-read state first), so retrying writes is safe.
/// </summary>
internal sealed partial class QdrantCalls
{
    public const string StoreName = "Qdrant";

    private readonly QdrantClient _client;
    private readonly ResiliencePipeline _pipeline;

    public QdrantCalls(QdrantConnection connection, IOptions<QdrantOptions> options, ILogger<QdrantCalls> logger)
    {
        _client = connection.Client;
        _pipeline = BuildPipeline(options.Value, logger);
    }

    /// <summary>
    /// <paramref name="call"/> may catch the status codes it expects (NotFound for a probe, AlreadyExists for a
    /// create that raced another replica) and return; anything it lets through is retried or mapped.
    /// </summary>
    public async Task<T> RunAsync<T>(string operation, Func<QdrantClient, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await _pipeline.ExecuteAsync(async token => await call(_client, token), cancellationToken);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            // Our caller gave up: OperationCanceledException, as from every other store. (Grpc.Net.Client's
            // ThrowOperationCanceledOnCancellation would also turn an exceeded deadline into one, which is Qdrant's failure.)
            throw new OperationCanceledException(ex.Status.Detail, ex, cancellationToken);
        }
        catch (RpcException ex)
        {
            throw Failure(operation, ex);
        }
        catch (BrokenCircuitException ex)
        {
            throw new StoreUnavailableException(StoreName, $"{operation}: calls are paused after repeated failures ({ex.Message})", ex);
        }
        catch (QdrantException ex)
        {
            // The client's own "answered but did not do it" (a create or an alias batch whose result is false).
            throw new StoreUnavailableException(StoreName, $"{operation}: {ex.Message}", ex);
        }
    }

    public Task RunAsync(string operation, Func<QdrantClient, CancellationToken, Task> call, CancellationToken cancellationToken) =>
        RunAsync(operation, async (client, token) =>
        {
            await call(client, token);
            return true;
        }, cancellationToken);

    /// <summary>
    /// Our exception for a status Qdrant (or Grpc.Net.Client for an HTTP-level failure) answered:
    /// content it judged is a rejected request, an outage or rate limit is unavailable (with its
    /// <c>retry-after</c>), credentials or configuration refused are a refused service.
    /// </summary>
    internal static Exception Failure(string operation, RpcException ex)
    {
        var detail = string.IsNullOrEmpty(ex.Status.Detail) ? ex.StatusCode.ToString() : ex.Status.Detail;
        detail = detail.Length > 500 ? detail[..500] : detail;
        return ex.StatusCode switch
        {
            StatusCode.InvalidArgument or StatusCode.OutOfRange =>
                new StoreRequestException(StoreName, 400, $"{operation} ({ex.StatusCode}): {detail}"),
            StatusCode.Unauthenticated => new StoreRequestException(StoreName, 401, $"{operation} ({ex.StatusCode}): {detail}"),
            StatusCode.PermissionDenied => new StoreRequestException(StoreName, 403, $"{operation} ({ex.StatusCode}): {detail}"),
            StatusCode.NotFound => new StoreRequestException(StoreName, 404, $"{operation} ({ex.StatusCode}): {detail}"),
            // Grpc.Net.Client reports an HTTP 404 as Unimplemented: most often the REST port (6333) configured for gRPC.
            StatusCode.Unimplemented => new StoreRequestException(StoreName, 404,
                $"{operation} ({ex.StatusCode}): {detail}. Is VectorStore:Qdrant:Url Qdrant's gRPC port (6334 by default)?"),
            StatusCode.AlreadyExists or StatusCode.FailedPrecondition or StatusCode.Aborted =>
                new StoreRequestException(StoreName, 409, $"{operation} ({ex.StatusCode}): {detail}"),
            // Unavailable, ResourceExhausted, DeadlineExceeded, Internal, Unknown, DataLoss, and Cancelled that we did
            // not ask for (a reset stream, a body that was not gRPC): Qdrant did not do it, a later call may.
            _ => new StoreUnavailableException(StoreName, $"{operation} ({ex.StatusCode}): {detail}", ex) { RetryAfter = RetryAfterOf(ex) },
        };
    }

    internal static bool IsTransient(RpcException ex) =>
        ex.StatusCode is StatusCode.Unavailable or StatusCode.ResourceExhausted or StatusCode.DeadlineExceeded
            or StatusCode.Internal or StatusCode.Unknown;

    /// <summary>Qdrant's rate limiter (strict mode) sends <c>retry-after</c> in seconds with ResourceExhausted.</summary>
    internal static TimeSpan? RetryAfterOf(RpcException ex)
    {
        var value = ex.Trailers.GetValue("retry-after");
        return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0
            ? TimeSpan.FromSeconds(seconds)
            : null;
    }

    private static ResiliencePipeline BuildPipeline(QdrantOptions options, ILogger logger)
    {
        var transient = new PredicateBuilder().Handle<RpcException>(IsTransient);
        var builder = new ResiliencePipelineBuilder();
        // MaxRetries 0 means no retry strategy at all (Polly refuses a retry of zero attempts).
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = transient,
                MaxRetryAttempts = options.MaxRetries,
                Delay = options.RetryBaseDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                MaxDelay = TimeSpan.FromSeconds(30),
                DelayGenerator = static args => ValueTask.FromResult(
                    args.Outcome.Exception is RpcException rpc && RetryAfterOf(rpc) is { } wait ? wait : (TimeSpan?)null),
                OnRetry = args =>
                {
                    var rpc = args.Outcome.Exception as RpcException;
                    LogRetrying(logger, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, rpc?.StatusCode.ToString() ?? "none", rpc?.Status.Detail);
                    return default;
                },
            });
        }

        return builder
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = transient,
                FailureRatio = 0.5,
                MinimumThroughput = 20,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = TimeSpan.FromSeconds(15),
            })
            .Build();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Qdrant call failed (status {Status}, {Error}); retry {Attempt} in {DelayMs} ms")]
    private static partial void LogRetrying(ILogger logger, int attempt, double delayMs, string status, string? error);
}
