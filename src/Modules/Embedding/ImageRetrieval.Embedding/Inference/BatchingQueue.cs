using System.Diagnostics;
using System.Threading.Channels;
using ImageRetrieval.Embedding.Contracts;
using Microsoft.Extensions.Hosting;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>
/// Batches inputs of concurrent requests into one model run; images and texts each have one (a text run
/// never waits behind an image batch, nor the reverse). A single consumer takes whatever is waiting (up
/// to the batch limit) as soon as the previous run ends, so a lone request is never delayed and a busy
/// service runs full batches. Two lanes: interactive inputs (searches) are taken before any bulk input
/// (ingest, many at once) and run in batches of their own, so a query waits at most for the run in
/// progress, never for the bulk backlog or for a large bulk batch. Bounded: <see cref="Admit"/>
/// reserves places before any work is spent on the inputs, and past the bound answers 503.
/// </summary>
/// <typeparam name="TModel">The loaded graph; inputs of different models never share a run.</typeparam>
/// <typeparam name="TInput">One input ready for the graph (a pixel tensor, token ids).</typeparam>
internal abstract class BatchingQueue<TModel, TInput> : BackgroundService
    where TModel : class
{
    private readonly Channel<Pending> interactive = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<Pending> bulk = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });

    // One count per input written to either lane, so the consumer sleeps on one thing for both.
    private readonly SemaphoreSlim written = new(0);
    private readonly int maxBatch;
    private readonly int maxQueue;
    private readonly string kind;
    private long lastRunTicks;
    private int admitted;

    /// <param name="maxBatch">Most inputs one run takes (<see cref="BatchLimit"/> may lower it per model).</param>
    /// <param name="maxQueue">Most inputs admitted and not yet embedded.</param>
    /// <param name="kind">What an input is, in the singular ("image", "text"): metric tags and problem details.</param>
    /// <param name="firstRunGuess">What a run is taken to cost before one has been measured.</param>
    protected BatchingQueue(int maxBatch, int maxQueue, string kind, TimeSpan firstRunGuess)
    {
        this.maxBatch = maxBatch;
        this.maxQueue = maxQueue;
        this.kind = kind;
        lastRunTicks = firstRunGuess.Ticks;
    }

    /// <summary>Wall time of the latest run, for estimating how long the queue takes to drain.</summary>
    public double LastRunSeconds => TimeSpan.FromTicks(Interlocked.Read(ref lastRunTicks)).TotalSeconds;

    /// <summary>Inputs admitted and not yet embedded (or dropped).</summary>
    public int Admitted => Volatile.Read(ref admitted);

    /// <summary>
    /// Reserves room for <paramref name="count"/> inputs; dispose the lease when they are embedded or
    /// dropped. A request larger than the bound is admitted only when nothing else is in flight.
    /// </summary>
    /// <exception cref="OverloadedException">The queue is full.</exception>
    public IDisposable Admit(int count)
    {
        while (true)
        {
            var current = Volatile.Read(ref admitted);
            if (current > 0 && current + count > maxQueue)
            {
                RecordRefused(count, kind);
                throw new OverloadedException(kind, current, count, maxQueue, RetryAfter(current));
            }

            if (Interlocked.CompareExchange(ref admitted, current + count, current) == current)
            {
                return new Lease(this, count);
            }
        }
    }

    /// <summary>
    /// Queues one input. The caller keeps ownership of <paramref name="input"/> and must not reuse it
    /// before the returned task completes. Cancelling before the input is taken into a batch drops it
    /// (the task is cancelled and the input is never read); once taken, the task completes with the batch.
    /// </summary>
    public async Task<float[]> EmbedAsync(TModel model, TInput input, EmbeddingPriority priority, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new Pending(model, input);
        if (!Lane(priority).Writer.TryWrite(pending))
        {
            throw new InvalidOperationException($"The {kind} inference queue is closed.");
        }

        written.Release();

        await using var registration = cancellationToken.Register(() => pending.Abandon(cancellationToken));
        return await pending.Result.Task;
    }

    /// <summary>Most inputs one run of <paramref name="model"/> takes, when the graph itself limits it.</summary>
    protected virtual int BatchLimit(TModel model) => int.MaxValue;

    /// <summary>Runs one batch (all of one model) on the consumer thread and returns each input's vector in order.</summary>
    protected abstract float[][] RunBatch(TModel model, IReadOnlyList<TInput> inputs);

    /// <summary>Records a finished run's metrics.</summary>
    protected abstract void Record(TimeSpan elapsed, int count, string priority);

    /// <summary>Records inputs refused because the queue was full.</summary>
    protected abstract void RecordRefused(int count, string kind);

    /// <summary>Records how long one input waited between being queued and its run starting.</summary>
    protected virtual void RecordWait(TimeSpan waited, string priority)
    {
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(Math.Min(maxBatch, 256));
        var inputs = new List<TInput>(batch.Capacity);
        try
        {
            while (true)
            {
                await written.WaitAsync(stoppingToken);
                batch.Clear();

                // Interactive inputs never share a run with bulk ones: a full bulk batch would make a
                // query wait for the whole batch's inference instead of its own.
                var lane = interactive.Reader.TryPeek(out _) ? interactive : bulk;
                var priority = lane == interactive ? "interactive" : "bulk";
                var limit = maxBatch;
                var read = 0;
                while (batch.Count < limit && lane.Reader.TryPeek(out var next)
                       && (batch.Count == 0 || ReferenceEquals(next.Model, batch[0].Model))
                       && lane.Reader.TryRead(out next))
                {
                    // The count of the first input was taken by the wait above; a writer may not have
                    // released its count yet, which only costs one empty turn of this loop later.
                    if (read++ > 0)
                    {
                        written.Wait(0, CancellationToken.None);
                    }

                    // Work for a client that has gone away is dropped here, before it costs inference.
                    if (next.TryTake())
                    {
                        batch.Add(next);
                        limit = Math.Min(maxBatch, BatchLimit(next.Model));
                    }
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                inputs.Clear();
                inputs.AddRange(batch.Select(p => p.Input));
                Run(batch, inputs, priority);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: waiting requests are cancelled below.
        }
        finally
        {
            foreach (var lane in (Channel<Pending>[])[interactive, bulk])
            {
                lane.Writer.TryComplete();
                while (lane.Reader.TryRead(out var orphan))
                {
                    orphan.Result.TrySetCanceled(CancellationToken.None);
                }
            }
        }
    }

    public override void Dispose()
    {
        written.Dispose();
        base.Dispose();
    }

    private Channel<Pending> Lane(EmbeddingPriority priority) => priority == EmbeddingPriority.Bulk ? bulk : interactive;

    private void Run(List<Pending> batch, List<TInput> inputs, string priority)
    {
        using var activity = EmbeddingMetrics.ActivitySource.StartActivity($"embed {kind} batch");
        activity?.SetTag("batch.size", batch.Count);
        activity?.SetTag("batch.priority", priority);
        var started = Stopwatch.GetTimestamp();
        foreach (var pending in batch)
        {
            RecordWait(Stopwatch.GetElapsedTime(pending.Queued, started), priority);
        }

        var clock = Stopwatch.StartNew();
        try
        {
            var vectors = RunBatch(batch[0].Model, inputs);
            Interlocked.Exchange(ref lastRunTicks, clock.Elapsed.Ticks);
            Record(clock.Elapsed, batch.Count, priority);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Result.TrySetResult(vectors[i]);
            }
        }
#pragma warning disable CA1031 // Any inference failure belongs to the waiting requests, not to this loop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            foreach (var pending in batch)
            {
                pending.Result.TrySetException(ex);
            }
        }
    }

    /// <summary>About how long the batches ahead take at the last measured speed; at least 1 s, at most 30 s.</summary>
    private TimeSpan RetryAfter(int waiting)
    {
        var batches = Math.Ceiling(waiting / (double)maxBatch);
        return TimeSpan.FromSeconds(Math.Clamp(Math.Ceiling(batches * LastRunSeconds), 1, 30));
    }

    private sealed class Pending(TModel model, TInput input)
    {
        private const int Waiting = 0;
        private const int Taken = 1;
        private const int Abandoned = 2;
        private int state;

        public TModel Model { get; } = model;

        public TInput Input { get; } = input;

        public long Queued { get; } = Stopwatch.GetTimestamp();

        public TaskCompletionSource<float[]> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The consumer's claim; false when the caller has gone and its input may already be reused.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref state, Taken, Waiting) == Waiting;

        public void Abandon(CancellationToken cancellationToken)
        {
            if (Interlocked.CompareExchange(ref state, Abandoned, Waiting) == Waiting)
            {
                Result.TrySetCanceled(cancellationToken);
            }
        }
    }

    private sealed class Lease(BatchingQueue<TModel, TInput> owner, int count) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                Interlocked.Add(ref owner.admitted, -count);
            }
        }
    }
}
