using System.ComponentModel.DataAnnotations;

namespace ImageRetrieval.Embedding.Inference;

internal enum PoolingMode
{
    /// <summary>The CLS token of last_hidden_state: what the old service returned.</summary>
    Cls,

    /// <summary>The mean of all tokens of last_hidden_state.</summary>
    Mean,

    /// <summary>The model's own pooler_output.</summary>
    Pooler,
}

/// <summary><c>ImageRetrieval:Embedding</c>, beside the model source settings.</summary>
internal sealed class EmbeddingOptions
{
    public const string Section = "ImageRetrieval:Embedding";

    public PoolingMode Pooling { get; set; } = PoolingMode.Cls;

    /// <summary>Most images one inference run takes; concurrent requests are batched up to it.</summary>
    [Range(1, 256)]
    public int MaxBatchSize { get; set; } = 8;

    /// <summary>
    /// Most images admitted and not yet embedded (decoding or waiting for a batch); past it new work gets
    /// a 503 <c>overloaded</c> problem with <c>Retry-After</c>. The default is one maximal request
    /// (64 files) and eight batches of the default size: a few seconds of work on a small node, so a
    /// client waits at most that long and a burst beyond it is sent back at once instead of piling up
    /// tensors in memory (one image waiting holds about 0.6 MB at 224x224). A request with more images
    /// than this is admitted only when nothing else is in flight.
    /// </summary>
    [Range(1, 100_000)]
    public int MaxQueueLength { get; set; } = 64;

    /// <summary>Images decoded and resized at once; the rest wait (cancellably) for a slot.</summary>
    [Range(1, 1024)]
    public int DecodeParallelism { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// How much lower (Linux nice steps, 0-19, added to the service's own nice value) the threads that
    /// decode bulk images run than inference and interactive decoding, so ingest fills the cycles
    /// inference leaves instead of preempting it; 0 runs them at normal priority.
    /// </summary>
    [Range(0, 19)]
    public int BulkDecodeNiceness { get; set; } = 10;

    /// <summary>
    /// JPEGs larger than twice the model's resize target are decoded at 1/2, 1/4 or 1/8 scale (libjpeg
    /// DCT scaling) before the Pillow-exact resize: several times less decoding and resampling work for
    /// camera-sized photos. Embeddings then differ slightly from the reference pipeline (measured on the
    /// shared photos: see bench/results/profile-notes.md); false decodes every pixel, bit-exact with Pillow.
    /// </summary>
    public bool ShrinkOnLoad { get; set; } = true;
}
