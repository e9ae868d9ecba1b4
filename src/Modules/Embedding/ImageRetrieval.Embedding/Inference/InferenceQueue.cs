using System.Diagnostics;
using System.Threading.Channels;
using ImageRetrieval.Embedding.Contracts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>
/// Batches preprocessed images from concurrent requests into one inference run. A single consumer
/// takes whatever is waiting (up to the batch limit) as soon as the previous run ends, so a lone
/// request is never delayed and a busy service runs full batches. Two lanes: interactive images
/// (searches) are taken before any bulk image (ingest) and run in batches of their own, so a query
/// waits at most for the run in progress, never for the ingest backlog or for a large bulk batch.
/// </summary>
internal sealed class InferenceQueue(IOptions<EmbeddingOptions> options) : BackgroundService
{
    private readonly Channel<Pending> interactive = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<Pending> bulk = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });

    // One count per image written to either lane, so the consumer sleeps on one thing for both.
    private readonly SemaphoreSlim written = new(0);
    private readonly int maxBatch = options.Value.MaxBatchSize;
    private long lastRunTicks = TimeSpan.FromMilliseconds(100).Ticks;

    /// <summary>Wall time of the latest inference run, for estimating how long the queue takes to drain.</summary>
    public double LastRunSeconds => TimeSpan.FromTicks(Interlocked.Read(ref lastRunTicks)).TotalSeconds;

    private sealed class Pending(LoadedModel model, float[] pixels)
    {
        private const int Waiting = 0;
        private const int Taken = 1;
        private const int Abandoned = 2;
        private int state;

        public LoadedModel Model { get; } = model;

        public float[] Pixels { get; } = pixels;

        public TaskCompletionSource<float[]> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The consumer's claim; false when the caller has gone and its buffer may already be reused.</summary>
        public bool TryTake() => Interlocked.CompareExchange(ref state, Taken, Waiting) == Waiting;

        public void Abandon(CancellationToken cancellationToken)
        {
            if (Interlocked.CompareExchange(ref state, Abandoned, Waiting) == Waiting)
            {
                Result.TrySetCanceled(cancellationToken);
            }
        }
    }

    /// <summary>
    /// Queues one image's pixel tensor. The caller keeps ownership of <paramref name="pixels"/> and must
    /// not reuse it before the returned task completes. Cancelling before the image is taken into a
    /// batch drops it (the task is cancelled and the buffer is never read); once taken, the task
    /// completes with the batch.
    /// </summary>
    public async Task<float[]> EmbedAsync(LoadedModel model, float[] pixels, EmbeddingPriority priority, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new Pending(model, pixels);
        if (!Lane(priority).Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("The inference queue is closed.");
        }

        written.Release();

        await using var registration = cancellationToken.Register(() => pending.Abandon(cancellationToken));
        return await pending.Result.Task;
    }

    private Channel<Pending> Lane(EmbeddingPriority priority) => priority == EmbeddingPriority.Bulk ? bulk : interactive;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(maxBatch);
        float[] buffer = [];
        try
        {
            while (true)
            {
                await written.WaitAsync(stoppingToken);
                batch.Clear();

                // Interactive images never share a run with bulk ones: a bulk batch of eight would make
                // a query wait for eight images' worth of inference instead of its own.
                var lane = interactive.Reader.TryPeek(out _) ? interactive : bulk;
                var priority = lane == interactive ? "interactive" : "bulk";
                var read = 0;
                while (batch.Count < maxBatch && lane.Reader.TryPeek(out var next)
                       && (batch.Count == 0 || ReferenceEquals(next.Model, batch[0].Model))
                       && lane.Reader.TryRead(out next))
                {
                    // The count of the first image was taken by the wait above; a writer may not have
                    // released its count yet, which only costs one empty turn of this loop later.
                    if (read++ > 0)
                    {
                        written.Wait(0, CancellationToken.None);
                    }

                    // Work for a client that has gone away is dropped here, before it costs inference.
                    if (next.TryTake())
                    {
                        batch.Add(next);
                    }
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                var model = batch[0].Model;
                var length = model.Writer.Length;
                if (buffer.Length < batch.Count * length)
                {
                    buffer = new float[maxBatch * length];
                }

                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Pixels.AsSpan(0, length).CopyTo(buffer.AsSpan(i * length));
                }

                Run(model, buffer, batch, priority);
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

    private void Run(LoadedModel model, float[] buffer, List<Pending> batch, string priority)
    {
        using var activity = EmbeddingMetrics.ActivitySource.StartActivity("embed batch");
        activity?.SetTag("batch.size", batch.Count);
        activity?.SetTag("batch.priority", priority);
        var clock = Stopwatch.StartNew();
        try
        {
            var vectors = model.RunBatch(buffer, batch.Count);
            Interlocked.Exchange(ref lastRunTicks, clock.Elapsed.Ticks);
            EmbeddingMetrics.InferenceDuration.Record(clock.Elapsed.TotalSeconds);
            EmbeddingMetrics.BatchSize.Record(batch.Count, new KeyValuePair<string, object?>("priority", priority));
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
}
