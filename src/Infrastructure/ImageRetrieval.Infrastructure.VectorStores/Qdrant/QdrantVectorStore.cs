using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>
/// <see cref="IVectorStore"/> over Qdrant's REST API: one collection (cosine, the model's dimension),
/// one point per record.
/// <list type="bullet">
/// <item>Point ids must be unsigned integers or UUIDs. Our ids are 32 lowercase hex digits (128 bits),
/// so they are written as the UUID with the same digits; that keeps Qdrant's id order (scroll) equal to
/// our id order. Any other string id maps to a name-based UUID (SHA-256). The original id is kept in
/// the payload under <see cref="IdPayloadKey"/>.</item>
/// <item>The descriptor (model id, dimension) lives in a companion collection <c>&lt;name&gt;__meta</c>
/// holding one point. A reserved point inside the main collection would need a dummy vector that
/// cosine cannot normalise and an exclusion in every query, scroll and count; Qdrant 1.13 has no
/// collection-level metadata.</item>
/// </list>
/// </summary>
internal sealed partial class QdrantVectorStore(
    QdrantApi api,
    IOptions<VectorStoreOptions> storeOptions,
    IOptions<QdrantOptions> qdrantOptions,
    ILogger<QdrantVectorStore> logger) : IVectorStore
{
    /// <summary>Payload key holding our own record id (system keys start with '_', user keys may not).</summary>
    internal const string IdPayloadKey = "_id";
    internal const string MetaSuffix = "__meta";
    internal const string MetaPointId = "00000000-0000-0000-0000-000000000001";
    internal const string CosineDistance = "Cosine";
    private const string ModelKey = "model";
    private const string DimensionKey = "dimension";

    private readonly string _collection = storeOptions.Value.Collection;
    private readonly QdrantOptions _options = qdrantOptions.Value;

    // The collection's dimension once known (Ensure, Recreate or a lookup), so bad vectors are refused
    // before anything is sent: Qdrant would reject the whole batch, we want nothing written and an
    // ArgumentException like every other store.
    private int _dimension;

    public string ProviderName => nameof(VectorStoreProvider.Qdrant);

    private string CollectionPath => $"collections/{Uri.EscapeDataString(_collection)}";

    private string MetaPath => $"collections/{Uri.EscapeDataString(_collection + MetaSuffix)}";

    public async Task<CollectionDescriptor> EnsureCollectionAsync(CollectionDescriptor wanted, CancellationToken cancellationToken)
    {
        var existing = await GetVectorParamsAsync(cancellationToken);
        if (existing is null)
        {
            await CreateAsync(wanted, cancellationToken);
            LogCreated(logger, _collection, wanted.ModelId, wanted.Dimension);
            _dimension = wanted.Dimension;
            return wanted with { Name = _collection };
        }

        _dimension = existing.Size;
        var stored = await ReadDescriptorAsync(cancellationToken);
        if (stored is null)
        {
            // A collection without our descriptor: made by hand, or we stopped between the two
            // creates. Adopt it when its shape fits; otherwise report what it is so the caller refuses.
            if (existing.Size != wanted.Dimension)
            {
                return new CollectionDescriptor(_collection, "unknown", existing.Size);
            }

            await WriteDescriptorAsync(wanted, cancellationToken);
            LogAdopted(logger, _collection, wanted.ModelId);
            return wanted with { Name = _collection };
        }

        return new CollectionDescriptor(_collection, stored.Value.ModelId, existing.Size);
    }

    public async Task RecreateCollectionAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        await DeleteCollectionAsync(CollectionPath, cancellationToken);
        await DeleteCollectionAsync(MetaPath, cancellationToken);
        await CreateAsync(descriptor, cancellationToken);
        _dimension = descriptor.Dimension;
        LogCreated(logger, _collection, descriptor.ModelId, descriptor.Dimension);
    }

    public async Task UpsertAsync(IReadOnlyList<VectorRecord> records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return;
        }

        var dimension = await RequireDimensionAsync(cancellationToken);
        VectorRecordBatch.Validate(records, dimension, _collection);

        foreach (var batch in records.Chunk(_options.UpsertBatchSize))
        {
            var points = batch.Select(ToPoint).ToList();
            // wait=true: Qdrant answers once the points are applied, so a read right after sees them.
            await api.SendAsync(HttpMethod.Put, $"{CollectionPath}/points?wait=true",
                QdrantApi.Json(new QdrantUpsert { Points = points }, QdrantJsonContext.Default.QdrantUpsert),
                QdrantJsonContext.Default.QdrantResponseJsonElement, notFoundIsNull: false, cancellationToken);
        }
    }

    public async Task DeleteAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        foreach (var batch in ids.Chunk(1000))
        {
            var body = new QdrantPointIds { Points = batch.Select(ToPointId).ToList() };
            await api.SendAsync(HttpMethod.Post, $"{CollectionPath}/points/delete?wait=true",
                QdrantApi.Json(body, QdrantJsonContext.Default.QdrantPointIds),
                QdrantJsonContext.Default.QdrantResponseJsonElement, notFoundIsNull: false, cancellationToken);
        }
    }

    public async Task<IReadOnlyList<VectorRecord>> FetchAsync(IReadOnlyCollection<string> ids, bool includeVectors, CancellationToken cancellationToken)
    {
        var found = new List<VectorRecord>(ids.Count);
        foreach (var batch in ids.Distinct(StringComparer.Ordinal).Chunk(1000))
        {
            var body = new QdrantRetrieve { Ids = batch.Select(ToPointId).ToList(), WithPayload = true, WithVector = includeVectors };
            var response = await api.SendAsync(HttpMethod.Post, $"{CollectionPath}/points",
                QdrantApi.Json(body, QdrantJsonContext.Default.QdrantRetrieve),
                QdrantJsonContext.Default.QdrantResponseListQdrantRecord, notFoundIsNull: false, cancellationToken);
            found.AddRange((response?.Result ?? []).Select(point => ToRecord(point, includeVectors)));
        }

        return found;
    }

    public async Task<IReadOnlyList<ScoredRecord>> QueryAsync(VectorQuery query, CancellationToken cancellationToken)
    {
        if (query.TopK <= 0)
        {
            return [];
        }

        var body = new QdrantQuery
        {
            Query = query.Vector.ToArray(),
            Limit = query.TopK,
            Filter = QdrantFilterMapper.ToFilter(query.Filter, query.ExcludeIds?.Select(ToPointId).ToList()),
            ScoreThreshold = query.MinScore,
            WithPayload = true,
            WithVector = false,
        };
        var response = await api.SendAsync(HttpMethod.Post, $"{CollectionPath}/points/query",
            QdrantApi.Json(body, QdrantJsonContext.Default.QdrantQuery),
            QdrantJsonContext.Default.QdrantResponseQdrantQueryResult, notFoundIsNull: false, cancellationToken);
        return (response?.Result?.Points ?? [])
            .Select(point => new ScoredRecord(ToRecord(point, includeVector: false), point.Score ?? 0f))
            .ToList();
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        var response = await api.SendAsync(HttpMethod.Post, $"{CollectionPath}/points/count",
            QdrantApi.Json(new QdrantCount { Exact = true }, QdrantJsonContext.Default.QdrantCount),
            QdrantJsonContext.Default.QdrantResponseQdrantCountResult, notFoundIsNull: false, cancellationToken);
        return response?.Result?.Count ?? 0;
    }

    public async Task<RecordPage> ListAsync(int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        // Scroll without order_by walks points in id order; next_page_offset is the first id of the next page.
        var body = new QdrantScroll { Limit = limit, Offset = string.IsNullOrEmpty(cursor) ? null : cursor, WithPayload = true, WithVector = false };
        var response = await api.SendAsync(HttpMethod.Post, $"{CollectionPath}/points/scroll",
            QdrantApi.Json(body, QdrantJsonContext.Default.QdrantScroll),
            QdrantJsonContext.Default.QdrantResponseQdrantScrollResult, notFoundIsNull: false, cancellationToken);
        var result = response?.Result ?? new QdrantScrollResult();
        var next = result.NextPageOffset.ValueKind switch
        {
            JsonValueKind.String => result.NextPageOffset.GetString(),
            JsonValueKind.Number => result.NextPageOffset.GetRawText(),
            _ => null,
        };
        return new RecordPage(result.Points.Select(point => ToRecord(point, includeVector: false)).ToList(), next);
    }

    public async Task CheckReachableAsync(CancellationToken cancellationToken)
    {
        // A 404 still proves Qdrant answers and accepts our key; 401/403 surface as StoreRequestException.
        await api.SendAsync(HttpMethod.Get, CollectionPath, null,
            QdrantJsonContext.Default.QdrantResponseJsonElement, notFoundIsNull: true, cancellationToken);
    }

    private async Task<int> RequireDimensionAsync(CancellationToken cancellationToken)
    {
        if (_dimension > 0)
        {
            return _dimension;
        }

        var existing = await GetVectorParamsAsync(cancellationToken)
            ?? throw new InvalidOperationException($"Qdrant collection '{_collection}' does not exist yet; call EnsureCollectionAsync first.");
        _dimension = existing.Size;
        return _dimension;
    }

    /// <summary>Our 32-hex ids become the UUID with the same digits; any other id a name-based UUID.</summary>
    internal static string ToPointId(string id)
    {
        if (id.Length == 32 && Guid.TryParseExact(id, "N", out var direct))
        {
            return direct.ToString("D");
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(id), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80); // version 8: custom/name-based (RFC 9562)
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80); // RFC 4122/9562 variant
        return Convert.ToHexStringLower(hash[..16]).Insert(20, "-").Insert(16, "-").Insert(12, "-").Insert(8, "-");
    }

    private static QdrantPoint ToPoint(VectorRecord record)
    {
        var payload = new Dictionary<string, JsonElement>(record.Metadata, StringComparer.Ordinal)
        {
            [IdPayloadKey] = JsonSerializer.SerializeToElement(record.Id, QdrantJsonContext.Default.String),
        };
        return new QdrantPoint { Id = ToPointId(record.Id), Vector = record.Vector.ToArray(), Payload = payload };
    }

    private static VectorRecord ToRecord(QdrantRecord point, bool includeVector)
    {
        var payload = point.Payload ?? [];
        var id = payload.TryGetValue(IdPayloadKey, out var stored) && stored.ValueKind == JsonValueKind.String
            ? stored.GetString()!
            : point.Id.ValueKind == JsonValueKind.String ? point.Id.GetString()!.Replace("-", "", StringComparison.Ordinal) : point.Id.GetRawText();
        var metadata = payload.Where(kv => kv.Key != IdPayloadKey).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var vector = includeVector && point.Vector is { } values ? values : ReadOnlyMemory<float>.Empty;
        return new VectorRecord(id, vector, metadata);
    }

    private async Task<QdrantVectorParams?> GetVectorParamsAsync(CancellationToken cancellationToken)
    {
        var response = await api.SendAsync(HttpMethod.Get, CollectionPath, null,
            QdrantJsonContext.Default.QdrantResponseQdrantCollectionInfo, notFoundIsNull: true, cancellationToken);
        if (response is null)
        {
            return null;
        }

        var vectors = response.Result?.Config?.Params?.Vectors ?? default;
        if (vectors.ValueKind != JsonValueKind.Object || !vectors.TryGetProperty("size", out _))
        {
            throw new StoreRequestException(QdrantApi.StoreName, 409,
                $"Collection '{_collection}' uses named vectors; this service needs one unnamed cosine vector per point. Use another collection name or delete it.");
        }

        var parameters = vectors.Deserialize(QdrantJsonContext.Default.QdrantVectorParams)!;
        if (!string.Equals(parameters.Distance, CosineDistance, StringComparison.OrdinalIgnoreCase))
        {
            throw new StoreRequestException(QdrantApi.StoreName, 409,
                $"Collection '{_collection}' uses {parameters.Distance} distance; this service searches by Cosine. Use another collection name or re-index into a new one.");
        }

        return parameters;
    }

    private async Task CreateAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        var create = new QdrantCreateCollection { Vectors = new QdrantVectorParams { Size = descriptor.Dimension, Distance = CosineDistance } };
        await PutCollectionAsync(CollectionPath, create, cancellationToken);
        await WriteDescriptorAsync(descriptor, cancellationToken);
    }

    private async Task PutCollectionAsync(string path, QdrantCreateCollection create, CancellationToken cancellationToken)
    {
        try
        {
            await api.SendAsync(HttpMethod.Put, path, QdrantApi.Json(create, QdrantJsonContext.Default.QdrantCreateCollection),
                QdrantJsonContext.Default.QdrantResponseJsonElement, notFoundIsNull: false, cancellationToken);
        }
        catch (StoreRequestException ex) when (ex.ProviderStatusCode is 400 or 409 && ex.Message.Contains("already exists", StringComparison.OrdinalIgnoreCase))
        {
            // Another replica created it first (Qdrant answers 409, older versions 400); both want the same shape.
        }
    }

    private async Task WriteDescriptorAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        // The companion holds payload only; Qdrant 1.13 still wants a vector config, so a 1-d dot one.
        await PutCollectionAsync(MetaPath, new QdrantCreateCollection { Vectors = new QdrantVectorParams { Size = 1, Distance = "Dot" } }, cancellationToken);
        var payload = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            [ModelKey] = JsonSerializer.SerializeToElement(descriptor.ModelId, QdrantJsonContext.Default.String),
            [DimensionKey] = JsonSerializer.SerializeToElement(descriptor.Dimension, QdrantJsonContext.Default.Int32),
            ["collection"] = JsonSerializer.SerializeToElement(_collection, QdrantJsonContext.Default.String),
            ["createdAt"] = JsonSerializer.SerializeToElement(DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture), QdrantJsonContext.Default.String),
        };
        var upsert = new QdrantUpsert { Points = [new QdrantPoint { Id = MetaPointId, Vector = [1f], Payload = payload }] };
        await api.SendAsync(HttpMethod.Put, $"{MetaPath}/points?wait=true", QdrantApi.Json(upsert, QdrantJsonContext.Default.QdrantUpsert),
            QdrantJsonContext.Default.QdrantResponseJsonElement, notFoundIsNull: false, cancellationToken);
    }

    private async Task<(string ModelId, int Dimension)?> ReadDescriptorAsync(CancellationToken cancellationToken)
    {
        var body = new QdrantRetrieve { Ids = [MetaPointId], WithPayload = true, WithVector = false };
        var response = await api.SendAsync(HttpMethod.Post, $"{MetaPath}/points", QdrantApi.Json(body, QdrantJsonContext.Default.QdrantRetrieve),
            QdrantJsonContext.Default.QdrantResponseListQdrantRecord, notFoundIsNull: true, cancellationToken);
        var payload = response?.Result?.FirstOrDefault()?.Payload;
        if (payload is null || !payload.TryGetValue(ModelKey, out var model) || model.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        var dimension = payload.TryGetValue(DimensionKey, out var d) && d.TryGetInt32(out var value) ? value : 0;
        return (model.GetString()!, dimension);
    }

    private async Task DeleteCollectionAsync(string path, CancellationToken cancellationToken) =>
        await api.SendAsync(HttpMethod.Delete, path, null, QdrantJsonContext.Default.QdrantResponseJsonElement, notFoundIsNull: true, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created Qdrant collection {Collection} for model {ModelId} ({Dimension}-d, cosine)")]
    private static partial void LogCreated(ILogger logger, string collection, string modelId, int dimension);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Qdrant collection {Collection} had no descriptor; recorded model {ModelId} for it")]
    private static partial void LogAdopted(ILogger logger, string collection, string modelId);
}
