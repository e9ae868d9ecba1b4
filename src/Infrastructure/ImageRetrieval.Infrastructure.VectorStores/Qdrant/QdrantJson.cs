using System.Text.Json;
using System.Text.Json.Serialization;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

// Wire shapes of Qdrant's REST API (https://api.qdrant.tech/api-reference), only the fields we use.

/// <summary>Every Qdrant answer: <c>{"result": ..., "status": "ok" | {"error": "..."}, "time": 0.001}</c>.</summary>
internal sealed class QdrantResponse<T>
{
    public T? Result { get; set; }

    public JsonElement Status { get; set; }
}

internal sealed class QdrantCreateCollection
{
    public required QdrantVectorParams Vectors { get; init; }
}

internal sealed class QdrantVectorParams
{
    public int Size { get; set; }

    public string Distance { get; set; } = "";
}

internal sealed class QdrantCollectionInfo
{
    public string? Status { get; set; }

    public QdrantCollectionConfig? Config { get; set; }
}

internal sealed class QdrantCollectionConfig
{
    public QdrantCollectionParams? Params { get; set; }
}

internal sealed class QdrantCollectionParams
{
    /// <summary>One unnamed vector (<c>{"size", "distance"}</c>) or a map of named vectors.</summary>
    public JsonElement Vectors { get; set; }
}

internal sealed class QdrantPoint
{
    public required string Id { get; init; }

    public required float[] Vector { get; init; }

    public required Dictionary<string, JsonElement> Payload { get; init; }
}

internal sealed class QdrantUpsert
{
    public required IReadOnlyList<QdrantPoint> Points { get; init; }
}

internal sealed class QdrantPointIds
{
    public required IReadOnlyList<string> Points { get; init; }
}

internal sealed class QdrantRetrieve
{
    public required IReadOnlyList<string> Ids { get; init; }

    public bool WithPayload { get; init; } = true;

    public bool WithVector { get; init; }
}

/// <summary>A stored point as retrieve, scroll and query return it; <c>score</c> only from query.</summary>
internal sealed class QdrantRecord
{
    public JsonElement Id { get; set; }

    public float? Score { get; set; }

    public Dictionary<string, JsonElement>? Payload { get; set; }

    /// <summary>Unnamed vector as a plain array (null unless <c>with_vector</c>).</summary>
    public float[]? Vector { get; set; }
}

internal sealed class QdrantQuery
{
    public required float[] Query { get; init; }

    public int Limit { get; init; }

    public QdrantFilter? Filter { get; init; }

    public float? ScoreThreshold { get; init; }

    public bool WithPayload { get; init; } = true;

    public bool WithVector { get; init; }
}

internal sealed class QdrantQueryResult
{
    public List<QdrantRecord> Points { get; set; } = [];
}

internal sealed class QdrantScroll
{
    public int Limit { get; init; }

    public string? Offset { get; init; }

    public bool WithPayload { get; init; } = true;

    public bool WithVector { get; init; }
}

internal sealed class QdrantScrollResult
{
    public List<QdrantRecord> Points { get; set; } = [];

    public JsonElement NextPageOffset { get; set; }
}

internal sealed class QdrantCount
{
    public bool Exact { get; init; } = true;
}

internal sealed class QdrantCountResult
{
    public long Count { get; set; }
}

/// <summary>Filter clauses: <c>must</c> is AND, <c>must_not</c> is NOR, <c>should</c> is OR.</summary>
internal sealed class QdrantFilter
{
    public List<QdrantCondition>? Must { get; set; }

    public List<QdrantCondition>? MustNot { get; set; }

    public List<QdrantCondition>? Should { get; set; }
}

/// <summary>
/// One condition: a field condition (<c>key</c> + <c>match</c> or <c>range</c>), a <c>has_id</c>
/// condition, or a nested filter (<c>should</c>) — Qdrant tells them apart by which keys are present.
/// </summary>
internal sealed class QdrantCondition
{
    public string? Key { get; set; }

    public QdrantMatch? Match { get; set; }

    public QdrantRange? Range { get; set; }

    public List<string>? HasId { get; set; }

    public List<QdrantCondition>? Should { get; set; }
}

internal sealed class QdrantMatch
{
    public JsonElement? Value { get; set; }

    public List<JsonElement>? Any { get; set; }
}

internal sealed class QdrantRange
{
    public double? Gte { get; set; }

    public double? Lte { get; set; }
}

/// <summary><c>GET /aliases</c>: every alias of the node.</summary>
internal sealed class QdrantAliasList
{
    public List<QdrantAlias> Aliases { get; set; } = [];
}

internal sealed class QdrantAlias
{
    public string AliasName { get; set; } = "";

    public string CollectionName { get; set; } = "";
}

/// <summary><c>GET /collections</c>: every collection name of the node.</summary>
internal sealed class QdrantCollectionList
{
    public List<QdrantCollectionName> Collections { get; set; } = [];
}

internal sealed class QdrantCollectionName
{
    public string Name { get; set; } = "";
}

/// <summary><c>POST /collections/aliases</c>: the actions are applied together, atomically.</summary>
internal sealed class QdrantAliasChange
{
    public required List<QdrantAliasAction> Actions { get; init; }
}

internal sealed class QdrantAliasAction
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public QdrantAlias? CreateAlias { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public QdrantAliasName? DeleteAlias { get; init; }
}

internal sealed class QdrantAliasName
{
    public required string AliasName { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(QdrantResponse<JsonElement>))]
[JsonSerializable(typeof(QdrantResponse<QdrantAliasList>))]
[JsonSerializable(typeof(QdrantResponse<QdrantCollectionList>))]
[JsonSerializable(typeof(QdrantAliasChange))]
[JsonSerializable(typeof(QdrantResponse<QdrantCollectionInfo>))]
[JsonSerializable(typeof(QdrantResponse<List<QdrantRecord>>))]
[JsonSerializable(typeof(QdrantResponse<QdrantQueryResult>))]
[JsonSerializable(typeof(QdrantResponse<QdrantScrollResult>))]
[JsonSerializable(typeof(QdrantResponse<QdrantCountResult>))]
[JsonSerializable(typeof(QdrantCreateCollection))]
[JsonSerializable(typeof(QdrantVectorParams))]
[JsonSerializable(typeof(QdrantUpsert))]
[JsonSerializable(typeof(QdrantPointIds))]
[JsonSerializable(typeof(QdrantRetrieve))]
[JsonSerializable(typeof(QdrantQuery))]
[JsonSerializable(typeof(QdrantScroll))]
[JsonSerializable(typeof(QdrantCount))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
internal sealed partial class QdrantJsonContext : JsonSerializerContext;
