using System.ComponentModel.DataAnnotations;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Pinecone;

/// <summary>Settings under <c>ImageRetrieval:VectorStore:Pinecone</c>.</summary>
public sealed class PineconeOptions : StoreResilienceOptions
{
    public const string Section = "ImageRetrieval:VectorStore:Pinecone";

    /// <summary>Sent as the <c>Api-Key</c> header on control- and data-plane calls.</summary>
    [Required]
    public string ApiKey { get; set; } = "";

    /// <summary>The serverless index; defaults to <c>ImageRetrieval:VectorStore:Collection</c>.</summary>
    [RegularExpression("^[a-z0-9][a-z0-9-]{0,44}$", ErrorMessage = "IndexName must be lowercase letters, digits and '-' (at most 45).")]
    public string? IndexName { get; set; }

    /// <summary>Cloud of a serverless index this service creates (<c>aws</c>, <c>gcp</c>, <c>azure</c>); the service runs on GKE.</summary>
    [Required]
    public string Cloud { get; set; } = "gcp";

    [Required]
    public string Region { get; set; } = "us-central1";

    /// <summary>Sent as <c>X-Pinecone-API-Version</c>; the wire shapes here follow 2025-04.</summary>
    [Required]
    public string ApiVersion { get; set; } = "2025-04";

    [Required]
    [Url]
    public string ControlPlaneUrl { get; set; } = "https://api.pinecone.io";

    /// <summary>Data-plane host (<c>https://name-xxxx.svc....pinecone.io</c>); when unset it comes from describing the index.</summary>
    public string? IndexHost { get; set; }

    /// <summary>How long to wait for a new index to become ready.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:30:00")]
    public TimeSpan IndexReadyTimeout { get; set; } = TimeSpan.FromMinutes(5);

    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan IndexPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Pinecone accepts at most 1000 vectors per upsert request.</summary>
    [Range(1, 1000)]
    public int UpsertBatchSize { get; set; } = 1000;

    /// <summary>Pinecone rejects upsert requests over 2 MB; we stay a little under.</summary>
    [Range(1024, 2 * 1024 * 1024)]
    public int MaxUpsertRequestBytes { get; set; } = (2 * 1024 * 1024) - (16 * 1024);
}
