namespace ImageRetrieval.SharedKernel;

/// <summary>
/// A failure the caller can act on, in the one shape every module uses: a stable <see cref="Slug"/>
/// (its <see cref="Type"/> is <c>urn:image-retrieval:problem:&lt;slug&gt;</c>, so clients can branch on
/// it), a title, a detail and optional extensions. It carries no HTTP status: the web layer derives
/// that from the slug (<c>ProblemStatus</c> in SharedKernel.Web), so modules and the CLI speak of
/// failures without speaking HTTP.
/// </summary>
public sealed record Problem(string Slug, string Title, string Detail)
{
    private static readonly IReadOnlyDictionary<string, object?> NoExtensions = new Dictionary<string, object?>();

    public string Type => ProblemTypes.Uri(Slug);

    /// <summary>Members written beside type/title/status/detail (such as <c>errors</c> naming the fields at fault).</summary>
    public IReadOnlyDictionary<string, object?> Extensions { get; init; } = NoExtensions;

    /// <summary>A 400 <c>validation</c> problem about one field, in the shape FluentValidation failures are answered in.</summary>
    public static Problem InvalidField(string field, string message) =>
        new(ProblemTypes.Validation, "The request is invalid", message)
        {
            Extensions = new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { [field] = [message] } },
        };
}

/// <summary>A <see cref="Problem"/> thrown: the Host answers it as an RFC 9457 problem, the CLI prints its detail.</summary>
public class ServiceProblemException : Exception
{
    public ServiceProblemException(Problem problem, Exception? inner = null)
        : base(problem.Detail, inner) => Problem = problem;

    public ServiceProblemException(string slug, string title, string detail, Exception? inner = null)
        : this(new Problem(slug, title, detail), inner)
    {
    }

    public Problem Problem { get; }

    public string Slug => Problem.Slug;

    /// <summary>When set, sent as the <c>Retry-After</c> header (whole seconds): the caller may try again then.</summary>
    public TimeSpan? RetryAfter { get; init; }
}

/// <summary>The slugs this service answers with; each one's HTTP status is in <c>ProblemStatus</c> (SharedKernel.Web).</summary>
public static class ProblemTypes
{
    public const string Prefix = "urn:image-retrieval:problem:";

    public static string Uri(string slug) => Prefix + slug;

    public const string Validation = "validation";
    public const string BadRequest = "bad-request";
    public const string Unauthorized = "unauthorized";
    public const string NotFound = "not-found";
    public const string MethodNotAllowed = "method-not-allowed";
    public const string RequestTooLarge = "request-too-large";
    public const string FileTooLarge = "file-too-large";
    public const string ImageTooLarge = "image-too-large";
    public const string UnsupportedMediaType = "unsupported-media-type";
    public const string UndecodableImage = "undecodable-image";
    public const string ModelNotReady = "model-not-ready";
    public const string ModelMismatch = "model-mismatch";
    public const string StoreUnavailable = "store-unavailable";
    public const string TextNotSupported = "text-not-supported";
    public const string Overloaded = "overloaded";
    public const string ReindexUnfinished = "reindex-unfinished";
    public const string StoreRejectedRequest = "store-rejected-request";
    public const string StoreError = "store-error";
    public const string RateLimited = "rate-limited";
    public const string UploadsBusy = "uploads-busy";
    public const string Unexpected = "unexpected";

    /// <summary>The ways one uploaded file is refused as an image (too big, not an image, unreadable), whatever the route.</summary>
    public static bool IsImageRejection(string slug) => slug is FileTooLarge or ImageTooLarge or UnsupportedMediaType or UndecodableImage;
}

public sealed class NotFoundException(string what, string id)
    : ServiceProblemException(ProblemTypes.NotFound, "Not found", $"{what} '{id}' does not exist.");
