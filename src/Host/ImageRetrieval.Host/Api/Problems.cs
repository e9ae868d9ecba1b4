using System.Globalization;
using System.Text.RegularExpressions;
using FluentValidation;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace ImageRetrieval.Host.Api;

internal static partial class ProblemSetup
{
    /// <summary>Every problem, including those the framework writes for 404/405/413/415, gets a stable <c>type</c> and the trace id.</summary>
    public static IServiceCollection AddProblemDetailsWithStableTypes(this IServiceCollection services) =>
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
        var problem = exception switch
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
        // "Failed to bind parameter \"int limit\" from \"abc\"." / "Required parameter \"IFormFile file\" was not provided from form."
        if (exception.StatusCode == StatusCodes.Status400BadRequest && ParameterName().Match(exception.Message) is { Success: true } match)
        {
            var field = match.Groups["name"].Value;
            var errors = new Dictionary<string, string[]> { [field] = [exception.Message] };
            return new HttpValidationProblemDetails(errors)
            {
                Status = 400,
                Type = ProblemTypes.Uri(ProblemTypes.Validation),
                Title = "The request is invalid",
                Detail = exception.Message,
            };
        }

        return new ProblemDetails { Status = exception.StatusCode, Title = "Bad request", Detail = exception.Message };
    }

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

    [GeneratedRegex("""parameter "(?:[^"]*\s)?(?<name>[A-Za-z_][A-Za-z0-9_]*)" """, RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex ParameterName();

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Service problem on {Method} {Path} answered {Status}: {Detail}")]
    private static partial void LogServiceProblem(ILogger logger, Exception exception, string method, string path, int status, string detail);
}
