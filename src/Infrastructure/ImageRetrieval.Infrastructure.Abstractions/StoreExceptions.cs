using ImageRetrieval.SharedKernel;

namespace ImageRetrieval.Infrastructure.Abstractions;

/// <summary>A store did not answer or answered with a server-side error; callers may retry later.</summary>
public sealed class StoreUnavailableException(string store, string detail, Exception? inner = null)
    : ServiceProblemException(503, ProblemTypes.StoreUnavailable, "Store unavailable", $"{store}: {detail}", inner);

/// <summary>A store rejected a request as invalid: a bug or a misconfiguration, not a transient fault.</summary>
public sealed class StoreRequestException(string store, int statusCode, string detail)
    : Exception($"{store} rejected the request ({statusCode}): {detail}")
{
    public string Store { get; } = store;

    public int ProviderStatusCode { get; } = statusCode;
}
