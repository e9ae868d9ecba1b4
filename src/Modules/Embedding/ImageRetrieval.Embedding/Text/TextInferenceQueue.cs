using System.Diagnostics;
using System.Threading.Channels;
using ImageRetrieval.Embedding.Inference;
using Microsoft.Extensions.Hosting;

namespace ImageRetrieval.Embedding.Text;

/// <summary>
/// Batches tokenized texts from concurrent requests into one text-tower run, beside the image queue so
/// a burst of image work never holds text queries up behind it (and the reverse). Like the image
/// queue, a single consumer takes whatever is waiting as soon as the previous run ends.
/// </summary>
internal sealed class TextInferenceQueue : BackgroundService
{
    /// <summary>Texts per run: a text tower is cheap, and padding to the longest text in a batch costs little.</summary>
    public const int MaxBatch = 32;

    private const int Capacity = 4096;

    private readonly Channel<Pending> channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Capacity) { SingleReader = true });

    private sealed record Pending(LoadedTextModel Model, int[] Ids, TaskCompletionSource<float[]> Result);

    public async Task<float[]> EmbedAsync(LoadedTextModel model, int[] ids, CancellationToken cancellationToken)
    {
        var pending = new Pending(model, ids, new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            await channel.Writer.WriteAsync(pending, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException("The text inference queue is closed.");
        }

        // A caller that gives up does not wait for the run; the run itself completes for the others.
        return await pending.Result.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(MaxBatch);
        try
        {
            while (await channel.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                var limit = MaxBatch;
                while (batch.Count < limit && channel.Reader.TryPeek(out var next)
                       && (batch.Count == 0 || ReferenceEquals(next.Model, batch[0].Model))
                       && channel.Reader.TryRead(out next))
                {
                    batch.Add(next);
                    limit = Math.Min(MaxBatch, next.Model.MaxBatch);
                }

                Run(batch);
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

    private static void Run(List<Pending> batch)
    {
        using var activity = EmbeddingMetrics.ActivitySource.StartActivity("embed text batch");
        activity?.SetTag("batch.size", batch.Count);
        var clock = Stopwatch.StartNew();
        try
        {
            var vectors = batch[0].Model.Run(batch.Select(p => p.Ids).ToList());
            EmbeddingMetrics.TextInferenceDuration.Record(clock.Elapsed.TotalSeconds);
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
