using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>
/// Batches preprocessed images from concurrent requests into one inference run. A single consumer
/// takes whatever is waiting (up to the batch limit) as soon as the previous run ends, so a lone
/// request is never delayed and a busy service runs full batches.
/// </summary>
internal sealed class InferenceQueue : BackgroundService
{
    private readonly Channel<Pending> channel = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly int maxBatch;
    private int depth;

    public InferenceQueue(IOptions<EmbeddingOptions> options)
    {
        maxBatch = options.Value.MaxBatchSize;
        EmbeddingMetrics.ObserveQueueDepth(() => Volatile.Read(ref depth));
    }

    private sealed record Pending(LoadedModel Model, float[] Pixels, TaskCompletionSource<float[]> Result);

    /// <summary>
    /// Queues one image's pixel tensor; the caller keeps ownership of <paramref name="pixels"/> and must
    /// not reuse it before the returned task completes (so this does not take a cancellation token).
    /// </summary>
    public Task<float[]> EmbedAsync(LoadedModel model, float[] pixels)
    {
        var pending = new Pending(model, pixels, new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        Interlocked.Increment(ref depth);
        if (!channel.Writer.TryWrite(pending))
        {
            Interlocked.Decrement(ref depth);
            throw new InvalidOperationException("The inference queue is closed.");
        }

        return pending.Result.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(maxBatch);
        float[] buffer = [];
        try
        {
            while (await channel.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < maxBatch && channel.Reader.TryPeek(out var next)
                       && (batch.Count == 0 || ReferenceEquals(next.Model, batch[0].Model))
                       && channel.Reader.TryRead(out next))
                {
                    batch.Add(next);
                }

                Interlocked.Add(ref depth, -batch.Count);
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

                Run(model, buffer, batch);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: waiting requests are cancelled below.
        }
        finally
        {
            channel.Writer.TryComplete();
            while (channel.Reader.TryRead(out var orphan))
            {
                orphan.Result.TrySetCanceled(CancellationToken.None);
            }
        }
    }

    private static void Run(LoadedModel model, float[] buffer, List<Pending> batch)
    {
        using var activity = EmbeddingMetrics.ActivitySource.StartActivity("embed batch");
        activity?.SetTag("batch.size", batch.Count);
        var clock = Stopwatch.StartNew();
        try
        {
            var vectors = model.RunBatch(buffer, batch.Count);
            EmbeddingMetrics.InferenceDuration.Record(clock.Elapsed.TotalSeconds);
            EmbeddingMetrics.BatchSize.Record(batch.Count);
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
