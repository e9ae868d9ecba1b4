using System.ComponentModel.DataAnnotations;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>Settings under <c>ImageRetrieval:VectorStore:Qdrant</c>.</summary>
public sealed class QdrantOptions : StoreResilienceOptions
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

    /// <summary>Points per upsert call; gRPC messages are capped at 32 MB by default in Qdrant, 256 x 768-d stays far below.</summary>
    [Range(1, 10_000)]
    public int UpsertBatchSize { get; set; } = 256;
}
