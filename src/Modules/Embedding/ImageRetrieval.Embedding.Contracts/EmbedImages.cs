using ImageRetrieval.SharedKernel;
using Mediator;

namespace ImageRetrieval.Embedding.Contracts;

/// <summary>
/// Embeds each image with the configured model. Each item either has a vector or says why the
/// image was rejected, so a batch with one bad file still embeds the rest.
/// </summary>
/// <param name="Normalize">False returns the pooled vector as the model produced it (what the old /embed returned).</param>
/// <param name="Priority">Whether someone is waiting on this answer (a search) or it is bulk work (ingest, reindex).</param>
public sealed record EmbedImages(IReadOnlyList<ImageUpload> Images, bool Normalize = true, EmbeddingPriority Priority = EmbeddingPriority.Interactive) : IRequest<EmbedImagesResult>;

/// <summary>
/// Interactive work goes ahead of bulk work at every stage (decoding and inference), so a lone query
/// never waits behind an ingest backlog; bulk work still uses every cycle interactive work leaves.
/// </summary>
public enum EmbeddingPriority
{
    /// <summary>A person waits for it: a search, one file to embed.</summary>
    Interactive,

    /// <summary>Throughput matters more than latency: ingest, reindex, many files at once.</summary>
    Bulk,
}

public sealed record EmbedImagesResult(string Model, int Dimension, IReadOnlyList<ImageEmbedding> Items);

/// <summary>Either <see cref="Vector"/> (with what decoding found) or <see cref="Rejection"/>, why the file is not a usable image, is set.</summary>
public sealed record ImageEmbedding(string FileName, float[]? Vector, DecodedImageInfo? Image, Problem? Rejection);

/// <summary>What decoding found: the real format (from the bytes, not the file name) and the upright size.</summary>
public sealed record DecodedImageInfo(string ContentType, int Width, int Height);

/// <summary>The loaded model's identity; throws a 503 problem while the model is still loading.</summary>
public sealed record GetEmbeddingModel : IRequest<EmbeddingModelInfo>;

/// <param name="TextSearch">True when the model has a text tower, so text queries can be embedded into the image space.</param>
public sealed record EmbeddingModelInfo(string ModelId, int Dimension, bool TextSearch = false);
