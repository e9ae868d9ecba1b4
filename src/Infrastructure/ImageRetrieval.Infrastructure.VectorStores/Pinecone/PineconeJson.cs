using System.Text.Json;
using System.Text.Json.Serialization;

namespace ImageRetrieval.Infrastructure.VectorStores.Pinecone;

// Wire shapes of Pinecone's REST API, version 2025-04 (docs.pinecone.io/reference/api/2025-04):
// the control plane (api.pinecone.io) uses snake_case, the data plane (the index host) camelCase.

internal sealed class PineconeIndexModel
{
    public string Name { get; set; } = "";

    public int? Dimension { get; set; }

    public string? Metric { get; set; }

    public string? Host { get; set; }

    public PineconeIndexStatus? Status { get; set; }

    public Dictionary<string, string>? Tags { get; set; }
}

/// <summary><c>GET /indexes</c> ("List indexes").</summary>
internal sealed class PineconeIndexList
{
    public List<PineconeIndexModel> Indexes { get; set; } = [];
}

internal sealed class PineconeIndexStatus
{
    public bool Ready { get; set; }

    public string? State { get; set; }
}

internal sealed class PineconeCreateIndex
{
    public required string Name { get; init; }

    public required int Dimension { get; init; }

    public string Metric { get; init; } = "cosine";

    [JsonPropertyName("vector_type")]
    public string VectorType { get; init; } = "dense";

    public required PineconeIndexSpec Spec { get; init; }

    [JsonPropertyName("deletion_protection")]
    public string DeletionProtection { get; init; } = "disabled";

    public required Dictionary<string, string> Tags { get; init; }
}

internal sealed class PineconeIndexSpec
{
    public required PineconeServerlessSpec Serverless { get; init; }
}

internal sealed class PineconeServerlessSpec
{
    public required string Cloud { get; init; }

    public required string Region { get; init; }
}

internal sealed class PineconeConfigureIndex
{
    public required Dictionary<string, string> Tags { get; init; }
}

internal sealed class PineconeVector
{
    public string Id { get; set; } = "";

    public float[]? Values { get; set; }

    public Dictionary<string, JsonElement>? Metadata { get; set; }
}

internal sealed class PineconeQuery
{
    public string? Namespace { get; init; }

    public required int TopK { get; init; }

    public required float[] Vector { get; init; }

    public JsonElement? Filter { get; init; }

    public bool IncludeValues { get; init; }

    public bool IncludeMetadata { get; init; } = true;
}

internal sealed class PineconeQueryResponse
{
    public List<PineconeMatch> Matches { get; set; } = [];
}

internal sealed class PineconeMatch
{
    public string Id { get; set; } = "";

    public float Score { get; set; }

    public Dictionary<string, JsonElement>? Metadata { get; set; }
}

internal sealed class PineconeFetchResponse
{
    public Dictionary<string, PineconeVector> Vectors { get; set; } = [];
}

internal sealed class PineconeDelete
{
    public required IReadOnlyList<string> Ids { get; init; }

    public string? Namespace { get; init; }
}

internal sealed class PineconeListResponse
{
    public List<PineconeVector> Vectors { get; set; } = [];

    public PineconePagination? Pagination { get; set; }
}

internal sealed class PineconePagination
{
    public string? Next { get; set; }
}

internal sealed class PineconeIndexStats
{
    public Dictionary<string, PineconeNamespaceSummary> Namespaces { get; set; } = [];

    public int? Dimension { get; set; }
}

internal sealed class PineconeNamespaceSummary
{
    public long VectorCount { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PineconeIndexModel))]
[JsonSerializable(typeof(PineconeIndexList))]
[JsonSerializable(typeof(PineconeCreateIndex))]
[JsonSerializable(typeof(PineconeConfigureIndex))]
[JsonSerializable(typeof(PineconeVector))]
[JsonSerializable(typeof(PineconeQuery))]
[JsonSerializable(typeof(PineconeQueryResponse))]
[JsonSerializable(typeof(PineconeFetchResponse))]
[JsonSerializable(typeof(PineconeDelete))]
[JsonSerializable(typeof(PineconeListResponse))]
[JsonSerializable(typeof(PineconeIndexStats))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class PineconeJsonContext : JsonSerializerContext;
