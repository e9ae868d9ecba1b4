using System.ComponentModel.DataAnnotations;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>Settings under <c>ImageRetrieval:VectorStore:Qdrant</c>.</summary>
public sealed class QdrantOptions : IStoreResilienceSettings
{
    public const string Section = "ImageRetrieval:VectorStore:Qdrant";

    /// <summary>Base URL of Qdrant's REST API (port 6333 by default).</summary>
    [Required]
    [Url]
    public string Url { get; set; } = "http://localhost:6333";

    /// <summary>Sent as the <c>api-key</c> header when set (Qdrant Cloud and secured self-hosted nodes).</summary>
    public string? ApiKey { get; set; }

    /// <summary>Limit for one HTTP attempt; retries get their own.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after the first attempt on 408/429/5xx and transport errors.</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 3;

    /// <summary>First backoff delay; doubles per retry, with jitter. A Retry-After header wins.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Points per upsert request; Qdrant's default request limit is 32 MB, 256 x 768-d stays far below.</summary>
    [Range(1, 10_000)]
    public int UpsertBatchSize { get; set; } = 256;
}
