using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace ImageRetrieval.SharedKernel.Web;

/// <summary>
/// The one slug-to-status table. It lives in the web layer the modules and the Host share, not in the
/// Host, because the modules' own endpoints write problem bodies too: an ingest answers each refused
/// file's status in its item, and an ingest or embedding where every file failed answers the first
/// file's status. The contracts (<see cref="Problem"/>) stay free of HTTP.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1708", Justification = "The analyzer sees the compiler's names for the two extension blocks, which differ only in case; no member of ours does.")]
public static class ProblemStatus
{
    private static readonly FrozenDictionary<string, int> BySlug = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        [ProblemTypes.Validation] = StatusCodes.Status400BadRequest,
        [ProblemTypes.BadRequest] = StatusCodes.Status400BadRequest,
        [ProblemTypes.StoreRejectedRequest] = StatusCodes.Status400BadRequest,
        [ProblemTypes.Unauthorized] = StatusCodes.Status401Unauthorized,
        [ProblemTypes.NotFound] = StatusCodes.Status404NotFound,
        [ProblemTypes.MethodNotAllowed] = StatusCodes.Status405MethodNotAllowed,
        [ProblemTypes.ModelMismatch] = StatusCodes.Status409Conflict,
        [ProblemTypes.ReindexUnfinished] = StatusCodes.Status409Conflict,
        [ProblemTypes.RequestTooLarge] = StatusCodes.Status413PayloadTooLarge,
        [ProblemTypes.FileTooLarge] = StatusCodes.Status413PayloadTooLarge,
        [ProblemTypes.UnsupportedMediaType] = StatusCodes.Status415UnsupportedMediaType,
        [ProblemTypes.ImageTooLarge] = StatusCodes.Status422UnprocessableEntity,
        [ProblemTypes.UndecodableImage] = StatusCodes.Status422UnprocessableEntity,
        [ProblemTypes.TextNotSupported] = StatusCodes.Status422UnprocessableEntity,
        [ProblemTypes.RateLimited] = StatusCodes.Status429TooManyRequests,
        [ProblemTypes.Unexpected] = StatusCodes.Status500InternalServerError,
        [ProblemTypes.StoreError] = StatusCodes.Status502BadGateway,
        [ProblemTypes.ModelNotReady] = StatusCodes.Status503ServiceUnavailable,
        [ProblemTypes.StoreUnavailable] = StatusCodes.Status503ServiceUnavailable,
        [ProblemTypes.Overloaded] = StatusCodes.Status503ServiceUnavailable,
        [ProblemTypes.UploadsBusy] = StatusCodes.Status503ServiceUnavailable,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Whether the table names the slug (a unit test holds every <see cref="ProblemTypes"/> slug to it).</summary>
    public static bool IsKnown(string slug) => BySlug.ContainsKey(slug);

    /// <summary>The status a problem with this slug is answered with; a slug missing from the table is a bug, answered as a 500.</summary>
    public static int Of(string slug) => BySlug.GetValueOrDefault(slug, StatusCodes.Status500InternalServerError);

    extension(Problem problem)
    {
        /// <summary>The HTTP status this problem is answered with.</summary>
        public int Status => Of(problem.Slug);

        /// <summary>The RFC 9457 body of the problem; the Host's problem-details customisation adds <c>instance</c> and <c>traceId</c>.</summary>
        public ProblemDetails ToProblemDetails() => new()
        {
            Status = problem.Status,
            Type = problem.Type,
            Title = problem.Title,
            Detail = problem.Detail,
            Extensions = new Dictionary<string, object?>(problem.Extensions),
        };

        /// <summary>The problem as an endpoint's typed result.</summary>
        public ProblemHttpResult ToResult() => TypedResults.Problem(problem.ToProblemDetails());
    }

    extension(ServiceProblemException exception)
    {
        /// <summary>The HTTP status the thrown problem is answered with.</summary>
        public int StatusCode => Of(exception.Slug);
    }
}
