using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.Inference;

internal sealed class OverloadedException : ServiceProblemException
{
    public OverloadedException(int admitted, int asked, int limit, TimeSpan retryAfter)
        : base(503, ProblemTypes.Overloaded, "Overloaded",
            $"{admitted} images are already waiting to be embedded; {asked} more would pass the limit of {limit}. Retry after {(int)retryAfter.TotalSeconds} s.")
    {
        RetryAfter = retryAfter;
    }
}

/// <summary>
/// Back-pressure in front of the model: a bound on images admitted and not yet embedded
/// (<see cref="EmbeddingOptions.MaxQueueLength"/>), checked before any decoding so an overloaded
/// service answers 503 at once, and a bound on images decoded at the same time
/// (<see cref="EmbeddingOptions.DecodeParallelism"/>).
/// </summary>
internal sealed class EmbeddingCapacity : IDisposable
{
    private readonly int maxQueue;
    private readonly int maxBatch;
    private readonly SemaphoreSlim decodeSlots;
    private readonly InferenceQueue queue;
    private int admitted;

    public EmbeddingCapacity(IOptions<EmbeddingOptions> options, InferenceQueue queue)
    {
        maxQueue = options.Value.MaxQueueLength;
        maxBatch = options.Value.MaxBatchSize;
        decodeSlots = new SemaphoreSlim(options.Value.DecodeParallelism);
        this.queue = queue;
        EmbeddingMetrics.ObserveQueueDepth(() => Volatile.Read(ref admitted));
    }

    public int Admitted => Volatile.Read(ref admitted);

    /// <summary>Reserves room for <paramref name="images"/>; dispose the lease when they are embedded or dropped.</summary>
    /// <exception cref="OverloadedException">The queue is full.</exception>
    public IDisposable Admit(int images)
    {
        while (true)
        {
            var current = Volatile.Read(ref admitted);
            if (current > 0 && current + images > maxQueue)
            {
                EmbeddingMetrics.Overloaded.Add(images);
                throw new OverloadedException(current, images, maxQueue, RetryAfter(current));
            }

            if (Interlocked.CompareExchange(ref admitted, current + images, current) == current)
            {
                return new Lease(this, images);
            }
        }
    }

    /// <summary>Waits for a decode slot; a request aborted meanwhile never starts decoding.</summary>
    public async Task<IDisposable> WaitToDecodeAsync(CancellationToken cancellationToken)
    {
        await decodeSlots.WaitAsync(cancellationToken);
        return new DecodeSlot(decodeSlots);
    }

    /// <summary>About how long the batches ahead take at the last measured speed; at least 1 s, at most 30 s.</summary>
    private TimeSpan RetryAfter(int waiting)
    {
        var batches = Math.Ceiling(waiting / (double)maxBatch);
        return TimeSpan.FromSeconds(Math.Clamp(Math.Ceiling(batches * queue.LastRunSeconds), 1, 30));
    }

    public void Dispose() => decodeSlots.Dispose();

    private sealed class Lease(EmbeddingCapacity owner, int images) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                Interlocked.Add(ref owner.admitted, -images);
            }
        }
    }

    private sealed class DecodeSlot(SemaphoreSlim slots) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                slots.Release();
            }
        }
    }
}
