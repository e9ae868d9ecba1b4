using System.ComponentModel.DataAnnotations;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>Settings under <c>ImageRetrieval:VectorStore:Qdrant</c>.</summary>
public sealed class QdrantOptions : IStoreResilienceSettings
{
    public const string Section = "ImageRetrieval:VectorStore:Qdrant";

    /// <summary>
    /// Address of Qdrant's gRPC API (port 6334 by default; 6333 is its REST API, which this client does
    /// not speak). <c>https://</c> for Qdrant Cloud and TLS nodes.
    /// </summary>
    [Required]
    [Url]
    public string Url { get; set; } = "http://localhost:6334";

    /// <summary>Sent as the <c>api-key</c> metadata of every call when set (Qdrant Cloud and secured self-hosted nodes).</summary>
    public string? ApiKey { get; set; }

    /// <summary>Deadline of one gRPC attempt; retries get their own.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after the first attempt when Qdrant is unavailable, exhausted (rate limit) or past the deadline.</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 3;

    /// <summary>First backoff delay; doubles per retry, with jitter. A <c>retry-after</c> in Qdrant's answer wins.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Points per upsert call; gRPC messages are capped at 32 MB by default in Qdrant, 256 x 768-d stays far below.</summary>
    [Range(1, 10_000)]
    public int UpsertBatchSize { get; set; } = 256;
}
