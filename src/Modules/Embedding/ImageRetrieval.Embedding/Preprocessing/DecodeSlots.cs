using ImageRetrieval.Embedding.Inference;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>
/// A bound on interactive images decoded at the same time (<see cref="EmbeddingOptions.DecodeParallelism"/>);
/// bulk images have threads of their own (<see cref="BulkPreprocessing"/>). Admission to the inference
/// queue comes before this, so an overloaded service refuses before anything waits here.
/// </summary>
internal sealed class DecodeSlots(IOptions<EmbeddingOptions> options) : IDisposable
{
    private readonly SemaphoreSlim slots = new(options.Value.DecodeParallelism);

    /// <summary>Waits for a decode slot; a request aborted meanwhile never starts decoding.</summary>
    public async Task<IDisposable> WaitAsync(CancellationToken cancellationToken)
    {
        await slots.WaitAsync(cancellationToken);
        return new Slot(slots);
    }

    public void Dispose() => slots.Dispose();

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
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
