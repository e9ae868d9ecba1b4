namespace ImageRetrieval.Infrastructure.Abstractions;

// The stores' own failures, as the ports promise them. None carries an HTTP status: what a caller is
// told (503, 400, 502) is the Host's decision, made in one place (Api/Problems.cs).

/// <summary>
/// A store did not answer or answered with a server-side error; callers may retry later.
/// The message carries the provider's own words for the log; callers are told only <see cref="Store"/>.
/// </summary>
public sealed class StoreUnavailableException(string store, string detail, Exception? inner = null)
    : Exception($"{store}: {detail}", inner)
{
    /// <summary>The store's name.</summary>
    public string Store { get; } = store;

    /// <summary>The provider's own Retry-After, when it sent one.</summary>
    public TimeSpan? RetryAfter { get; init; }
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

/// <summary>A list cursor that this store did not hand out.</summary>
public sealed class InvalidCursorException(Exception? inner = null)
    : Exception("cursor is not one this service returned; start again without it.", inner);
