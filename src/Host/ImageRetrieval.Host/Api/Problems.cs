using System.Globalization;
using FluentValidation;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

namespace ImageRetrieval.Host.Api;

internal static partial class ProblemSetup
{
    /// <summary>Every problem, including those the framework writes for 404/405/413/415, gets a stable <c>type</c> and the trace id.</summary>
    public static IServiceCollection AddProblemDetailsWithStableTypes(this IServiceCollection services)
    {
        services
            // Binding failures (limit=abc) throw in every environment, so they reach the handler and name their parameter.
            .Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true)
            .AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            if (problem.Type is null || problem.Type.StartsWith("https://tools.ietf.org", StringComparison.Ordinal))
            {
                problem.Type = ProblemTypes.Uri(SlugFor(problem.Status ?? context.HttpContext.Response.StatusCode));
            }

            problem.Instance ??= context.HttpContext.Request.Path;
            problem.Extensions.TryAdd("traceId", System.Diagnostics.Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier);
        });

        // After the framework's writer, which AddProblemDetails registered: it answers only clients whose Accept names JSON.
        services.AddSingleton<IProblemDetailsWriter, ProblemJsonFallbackWriter>();
        return services;
    }

    /// <summary>Our slug for a problem the framework writes with only a status (routing, binding, body limits).</summary>
    private static string SlugFor(int status) => status switch
    {
        400 => ProblemTypes.BadRequest,
        401 => ProblemTypes.Unauthorized,
        404 => ProblemTypes.NotFound,
        405 => ProblemTypes.MethodNotAllowed,
        413 => ProblemTypes.RequestTooLarge,
        429 => ProblemTypes.RateLimited,
        415 => ProblemTypes.UnsupportedMediaType,
        500 => ProblemTypes.Unexpected,
        _ => "http-" + status,
    };
}

/// <summary>For middleware that answers before any endpoint runs (keys, rate limits, body limits).</summary>
internal static class ProblemResponses
{
    /// <summary>Writes the problem with the status the slug table gives it, through the same problem-details service as every other error.</summary>
    public static async Task WriteProblemAsync(this HttpContext context, Problem problem)
    {
        context.Response.StatusCode = problem.Status;
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = problem.ToProblemDetails(),
        });
    }
}

/// <summary>Turns exceptions that describe the caller's mistake or a known outage into problem responses; anything else is a logged 500 that reveals nothing.</summary>
internal sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    /// <summary>What a caller is told to wait after a store outage when the provider named no time.</summary>
    public static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromSeconds(5);

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ProblemDetails? problem;
        try
        {
            problem = Describe(httpContext, exception);
        }
#pragma warning disable CA1031 // Whatever describing it throws, the caller still gets an answer for the original exception.
        catch (Exception failure)
#pragma warning restore CA1031
        {
            // An exception escaping a handler makes the middleware rethrow the original one: the client would get a
            // bodiless 500 (a test server hands it the exception), even for its own mistake such as limit=abc.
            LogDescribeFailed(logger, failure, exception.GetType().Name, httpContext.Request.Method, httpContext.Request.Path);
            problem = exception is BadHttpRequestException bad
                ? new ProblemDetails { Status = bad.StatusCode, Title = "Bad request", Detail = bad.Message }
                : null;
        }

        if (problem is null)
        {
            if (httpContext.RequestAborted.IsCancellationRequested)
            {
                return true;
            }

            LogUnhandled(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
            problem = new ProblemDetails { Status = 500, Title = "Unexpected error", Detail = "The server failed to handle the request; the trace id identifies it in the logs." };
        }

        if (exception is StoreUnavailableException or StoreRequestException || (problem.Status >= 500 && exception is ServiceProblemException))
        {
            LogServiceProblem(logger, exception, httpContext.Request.Method, httpContext.Request.Path, problem.Status!.Value, exception.Message);
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        if (exception is ServiceProblemException { RetryAfter: { } retryAfter } && !httpContext.Response.Headers.ContainsKey("Retry-After"))
        {
            httpContext.Response.Headers.RetryAfter = Seconds(retryAfter);
        }
        else if (problem.Status == StatusCodes.Status503ServiceUnavailable && !httpContext.Response.Headers.ContainsKey("Retry-After"))
        {
            httpContext.Response.Headers.RetryAfter = Seconds(DefaultRetryAfter);
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>The problem an exception stands for, or null for one that is not the caller's doing nor a known outage.</summary>
    private static ProblemDetails? Describe(HttpContext httpContext, Exception exception) =>
        exception switch
        {
            ValidationException validation => Validation(validation),
            // Store failures carry provider bodies and local paths in their messages: those go to the log, never to the caller.
            StoreUnavailableException unavailable => StoreUnavailable(httpContext, unavailable),
            StoreRequestException rejected => StoreRejected(rejected),
            InvalidCursorException cursor => Problem.InvalidField("cursor", cursor.Message).ToProblemDetails(),
            ServiceProblemException known => known.Problem.ToProblemDetails(),
            BadHttpRequestException bad => BadRequest(bad),
            OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested => null,
            _ => null,
        };

    private static ProblemDetails StoreUnavailable(HttpContext context, StoreUnavailableException exception)
    {
        var wait = exception.RetryAfter is { } asked && asked > TimeSpan.Zero ? asked : DefaultRetryAfter;
        context.Response.Headers.RetryAfter = Seconds(wait);
        return new Problem(ProblemTypes.StoreUnavailable, "Store unavailable",
            $"The {exception.Store} store did not answer or failed; retry after {Seconds(wait)} s.").ToProblemDetails();
    }

    /// <summary>
    /// A provider that judged the request's content (400/413/422: a filter or metadata it will not take)
    /// makes it the caller's 400; one that refused us (401/403/404/409: keys, index, configuration) is a 502.
    /// </summary>
    private static ProblemDetails StoreRejected(StoreRequestException exception) => (exception.RejectedContent
        ? new Problem(ProblemTypes.StoreRejectedRequest, "The store rejected the request",
            $"The {exception.Store} store refused this request's content (for example a filter or metadata it cannot take).")
        : new Problem(ProblemTypes.StoreError, "Store error",
            $"The {exception.Store} store refused the service's request; the trace id identifies it in the logs.")).ToProblemDetails();

    private static ProblemDetails BadRequest(BadHttpRequestException exception)
    {
        if (exception.StatusCode == StatusCodes.Status400BadRequest && ParameterNameOf(exception.Message) is { } parameter)
        {
            // A JSON body of the wrong shape: the reader's words say what and where ("could not be converted to
            // System.Int32. Path: $.topK"), and the field is that member rather than the whole body.
            var (field, message) = exception.InnerException is System.Text.Json.JsonException json
                ? (JsonMember(json.Path) ?? parameter, $"{exception.Message} {json.Message}")
                : (parameter, exception.Message);
            var errors = new Dictionary<string, string[]> { [field] = [message] };
            return new HttpValidationProblemDetails(errors)
            {
                Status = 400,
                Type = ProblemTypes.Uri(ProblemTypes.Validation),
                Title = "The request is invalid",
                Detail = message,
            };
        }

        return new ProblemDetails { Status = exception.StatusCode, Title = "Bad request", Detail = exception.Message };
    }

    /// <summary>"$.terms[0].vector" is terms[0].vector, the name the validators use; the root or an odd path is no member.</summary>
    private static string? JsonMember(string? path) =>
        path is { Length: > 2 } && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : null;

    private static string Seconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    private static HttpValidationProblemDetails Validation(ValidationException exception)
    {
        var errors = exception.Errors
            .GroupBy(e => ToCamelCase(e.PropertyName))
            .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).Distinct().ToArray());
        return new HttpValidationProblemDetails(errors)
        {
            Status = 400,
            Type = ProblemTypes.Uri(ProblemTypes.Validation),
            Title = "The request is invalid",
            Detail = string.Join(" ", errors.SelectMany(e => e.Value)),
        };
    }

    private static string ToCamelCase(string name) => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];

    /// <summary>
    /// The parameter a binding failure names: <c>limit</c> in "Failed to bind parameter "int limit" from "abc".", <c>request</c>
    /// in "Implicit body inferred for parameter "request" but no body was provided.", else null. A plain search, not a regex
    /// with a match timeout: a process's first binding failure compiled the generated matcher inside its 100 ms, which a
    /// busy 2-core machine overran now and then; the timeout escaped this handler and the caller got a 500 for limit=abc.
    /// </summary>
    internal static string? ParameterNameOf(string message)
    {
        const string marker = "parameter \"";
        var start = message.IndexOf(marker, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        // "int limit", "Nullable<int> topK", "IFormFile file", "request": the name is the last word between the quotes.
        var quoted = message.AsSpan(start + marker.Length);
        var end = quoted.IndexOf('"');
        if (end <= 0)
        {
            return null;
        }

        var declaration = quoted[..end];
        var name = declaration[(declaration.LastIndexOfAny(' ', '\t') + 1)..];
        return IsIdentifier(name) ? name.ToString() : null;
    }

    private static bool IsIdentifier(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || !(char.IsAsciiLetter(name[0]) || name[0] == '_'))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                return false;
            }
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Service problem on {Method} {Path} answered {Status}: {Detail}")]
    private static partial void LogServiceProblem(ILogger logger, Exception exception, string method, string path, int status, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Describing a {ExceptionType} for {Method} {Path} failed; answering a plain problem")]
    private static partial void LogDescribeFailed(ILogger logger, Exception exception, string exceptionType, string method, string path);
}

/// <summary>
/// Writes the problem as <c>application/problem+json</c> when the framework's writer will not because the request's
/// Accept names neither JSON nor problem+json (an image client's <c>Accept: image/jpeg</c>, a browser's <c>text/html</c>).
/// Without it a 404 from the exception handler finds no writer, and the middleware turns that into a 500; other errors
/// go out with an empty body or a plain-text line. A problem the client did not ask for beats one it cannot see.
/// </summary>
internal sealed class ProblemJsonFallbackWriter(IOptions<ProblemDetailsOptions> options, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        problem.Status ??= context.HttpContext.Response.StatusCode;
        problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value);
        options.Value.CustomizeProblemDetails?.Invoke(context);
        var typeInfo = json.Value.SerializerOptions.GetTypeInfo(problem.GetType());
        return new ValueTask(context.HttpContext.Response.WriteAsJsonAsync(problem, typeInfo, "application/problem+json", context.HttpContext.RequestAborted));
    }
}
