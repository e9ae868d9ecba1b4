using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Embedding.Inference;

namespace ImageRetrieval.UnitTests.Embedding.Inference;

/// <summary>
/// The batching queue behind both image and text inference: interactive inputs run ahead of a bulk
/// backlog and never share a run with it; the bound refuses past its limit and gives places back.
/// (Through the Host the fixture models run in microseconds, so no backlog forms to order there.)
/// </summary>
public sealed class BatchingQueueTests
{
    [Fact]
    public async Task Given_a_bulk_backlog_behind_a_running_batch_When_interactive_inputs_arrive_Then_they_run_next_in_a_batch_of_their_own()
    {
        using var queue = new GatedQueue(maxBatch: 4);
        await queue.StartAsync(CancellationToken.None);
        var model = new object();

        // The first bulk input starts a run that waits at the gate; ten more pile up behind it.
        var first = queue.EmbedAsync(model, 0, EmbeddingPriority.Bulk, CancellationToken.None);
        await queue.Started.WaitAsync(TimeSpan.FromSeconds(10));
        var backlog = Enumerable.Range(1, 10).Select(i => queue.EmbedAsync(model, i, EmbeddingPriority.Bulk, CancellationToken.None)).ToList();
        var queries = new[] { 100, 101 }.Select(i => queue.EmbedAsync(model, i, EmbeddingPriority.Interactive, CancellationToken.None)).ToList();

        queue.Open();
        await Task.WhenAll(backlog.Append(first).Concat(queries)).WaitAsync(TimeSpan.FromSeconds(10));
        await queue.StopAsync(CancellationToken.None);

        int[][] expected = [[0], [100, 101], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10]];
        Assert.Equal(expected, queue.Runs);
        Assert.Equal(101f, (await queries[1])[0]);
    }

    [Fact]
    public void Given_admitted_inputs_When_more_would_pass_the_bound_Then_overloaded_and_a_disposed_lease_gives_its_places_back()
    {
        using var queue = new GatedQueue(maxBatch: 4, maxQueue: 6);
        var lease = queue.Admit(5);
        var refused = Assert.Throws<OverloadedException>(() => queue.Admit(2));
        Assert.Contains("5 texts are already waiting to be embedded; 2 more would pass the limit of 6", refused.Message, StringComparison.Ordinal);
        Assert.True(refused.RetryAfter >= TimeSpan.FromSeconds(1));
        lease.Dispose();
        lease.Dispose();
        Assert.Equal(0, queue.Admitted);

        // Alone, a request larger than the bound still runs.
        using var large = queue.Admit(10);
        Assert.Equal(10, queue.Admitted);
    }

    private sealed class GatedQueue(int maxBatch, int maxQueue = 100)
        : BatchingQueue<object, int>(maxBatch, maxQueue, "text", TimeSpan.FromMilliseconds(10))
    {
        private readonly TaskCompletionSource started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim gate = new();

        public Task Started => started.Task;

        public List<int[]> Runs { get; } = [];

        public void Open() => gate.Set();

        protected override float[][] RunBatch(object model, IReadOnlyList<int> inputs)
        {
            started.TrySetResult();
            gate.Wait();
            Runs.Add([.. inputs]);
            return inputs.Select(i => new[] { (float)i }).ToArray();
        }

        protected override void Record(TimeSpan elapsed, int count, string priority)
        {
        }

        protected override void RecordRefused(int count, string kind)
        {
        }

        public override void Dispose()
        {
            gate.Dispose();
            base.Dispose();
        }
    }
}
