using System.ComponentModel.DataAnnotations;

namespace ImageRetrieval.Embedding.Inference;

public enum PoolingMode
{
    /// <summary>The CLS token of last_hidden_state: what the old service returned.</summary>
    Cls,

    /// <summary>The mean of all tokens of last_hidden_state.</summary>
    Mean,

    /// <summary>The model's own pooler_output.</summary>
    Pooler,
}

/// <summary><c>ImageRetrieval:Embedding</c>, beside the model source settings.</summary>
public sealed class EmbeddingOptions
{
    public const string Section = "ImageRetrieval:Embedding";

    public PoolingMode Pooling { get; set; } = PoolingMode.Cls;

    /// <summary>Most images one inference run takes; concurrent requests are batched up to it.</summary>
    [Range(1, 256)]
    public int MaxBatchSize { get; set; } = 8;
}
