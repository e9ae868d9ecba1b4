using FluentValidation;
using ImageRetrieval.SharedKernel;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace ImageRetrieval.Host.Api;

internal static partial class ProblemSetup
{
    /// <summary>Every problem, including those the framework writes for 404/405/413/415, gets a stable <c>type</c> and the trace id.</summary>
    public static IServiceCollection AddProblemDetailsWithStableTypes(this IServiceCollection services) =>
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            if (problem.Type is null || problem.Type.StartsWith("https://tools.ietf.org", StringComparison.Ordinal))
            {
                problem.Type = ProblemTypes.Uri(SlugFor(problem.Status ?? context.HttpContext.Response.StatusCode));
            }

            problem.Instance ??= context.HttpContext.Request.Path;
            problem.Extensions.TryAdd("traceId", System.Diagnostics.Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier);
        });

    private static string SlugFor(int status) => status switch
    {
        400 => "bad-request",
        401 => "unauthorized",
        404 => ProblemTypes.NotFound,
        405 => "method-not-allowed",
        413 => "request-too-large",
        415 => ProblemTypes.UnsupportedMediaType,
        500 => ProblemTypes.Unexpected,
        _ => "http-" + status,
    };
}

/// <summary>Turns exceptions that describe the caller's mistake or a known outage into problem responses; anything else is a logged 500 that reveals nothing.</summary>
internal sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var problem = exception switch
        {
            ValidationException validation => Validation(validation),
            ServiceProblemException known => new ProblemDetails
            {
                Status = known.StatusCode,
                Type = ProblemTypes.Uri(known.Slug),
                Title = known.Title,
                Detail = known.Message,
                Extensions = new Dictionary<string, object?>(known.Extensions),
            },
            BadHttpRequestException bad => new ProblemDetails { Status = bad.StatusCode, Title = "Bad request", Detail = bad.Message },
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

        if (problem.Status >= 500 && exception is ServiceProblemException)
        {
            LogServiceProblem(logger, httpContext.Request.Path, exception.Message);
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        if (exception is ServiceProblemException { RetryAfter: { } retryAfter })
        {
            httpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(retryAfter.TotalSeconds, 1))).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

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

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Service problem on {Path}: {Detail}")]
    private static partial void LogServiceProblem(ILogger logger, string path, string detail);
}
