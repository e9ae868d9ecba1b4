namespace ImageRetrieval.SharedKernel;

/// <summary>
/// A failure the caller can act on. The Host renders it as an RFC 9457 problem whose
/// <c>type</c> is <see cref="ProblemTypes.Uri"/> of <see cref="Slug"/>, so clients can branch on it.
/// </summary>
public class ServiceProblemException : Exception
{
    public ServiceProblemException(int statusCode, string slug, string title, string detail, Exception? inner = null)
        : base(detail, inner)
    {
        StatusCode = statusCode;
        Slug = slug;
        Title = title;
    }

    public int StatusCode { get; }

    public string Slug { get; }

    public string Title { get; }

    public IReadOnlyDictionary<string, object?> Extensions { get; init; } = new Dictionary<string, object?>();

    /// <summary>When set, sent as the <c>Retry-After</c> header (whole seconds): the caller may try again then.</summary>
    public TimeSpan? RetryAfter { get; init; }
}

public static class ProblemTypes
{
    public const string Prefix = "urn:image-retrieval:problem:";

    public static string Uri(string slug) => Prefix + slug;

    public const string Validation = "validation";
    public const string NotFound = "not-found";
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
}

public sealed class NotFoundException(string what, string id)
    : ServiceProblemException(404, ProblemTypes.NotFound, "Not found", $"{what} '{id}' does not exist.");
