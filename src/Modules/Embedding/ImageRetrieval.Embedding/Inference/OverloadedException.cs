using ImageRetrieval.SharedKernel;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>An inference queue is full: 503 <c>overloaded</c> with a Retry-After of about how long it takes to drain.</summary>
internal sealed class OverloadedException : ServiceProblemException
{
    /// <param name="kind">What is queued, in the singular: "image", "text".</param>
    public OverloadedException(string kind, int admitted, int asked, int limit, TimeSpan retryAfter)
        : base(ProblemTypes.Overloaded, "Overloaded",
            $"{admitted} {kind}s are already waiting to be embedded; {asked} more would pass the limit of {limit}. Retry after {(int)retryAfter.TotalSeconds} s.")
    {
        RetryAfter = retryAfter;
    }
}
