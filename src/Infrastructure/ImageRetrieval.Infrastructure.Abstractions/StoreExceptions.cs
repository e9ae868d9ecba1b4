using ImageRetrieval.SharedKernel;

namespace ImageRetrieval.Infrastructure.Abstractions;

/// <summary>
/// A store did not answer or answered with a server-side error; callers may retry later.
/// The message carries the provider's own words for the log; callers are told only <see cref="Store"/>.
/// </summary>
public sealed class StoreUnavailableException(string store, string detail, Exception? inner = null)
    : ServiceProblemException(503, ProblemTypes.StoreUnavailable, "Store unavailable", $"{store}: {detail}", inner)
{
    /// <summary>The store's name; <see cref="ServiceProblemException.RetryAfter"/> is the provider's own Retry-After when it sent one.</summary>
    public string Store { get; } = store;
}

/// <summary>A store rejected a request as invalid: the caller's data (a filter or metadata it cannot take), a bug or a misconfiguration.</summary>
public sealed class StoreRequestException(string store, int statusCode, string detail)
    : Exception($"{store} rejected the request ({statusCode}): {detail}")
{
    public string Store { get; } = store;

    public int ProviderStatusCode { get; } = statusCode;

    /// <summary>The provider judged the content of the request (400/413/422), not our credentials or its configuration.</summary>
    public bool RejectedContent => ProviderStatusCode is 400 or 413 or 422;
}

/// <summary>A list cursor that this store did not hand out: a 400 naming <c>cursor</c>.</summary>
public sealed class InvalidCursorException : ServiceProblemException
{
    private const string Detail = "cursor is not one this service returned; start again without it.";

    public InvalidCursorException(Exception? inner = null)
        : base(400, ProblemTypes.Validation, "The request is invalid", Detail, inner) =>
        Extensions = new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { ["cursor"] = [Detail] } };
}
