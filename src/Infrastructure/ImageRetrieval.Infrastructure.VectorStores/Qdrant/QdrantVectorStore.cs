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
/// <item>Re-indexing: the logical collection <c>&lt;name&gt;</c> is the physical collection that the alias
/// <c>&lt;name&gt;__active</c> names, or the collection <c>&lt;name&gt;</c> itself before any re-index. A
/// re-index fills <c>&lt;name&gt;--&lt;8 hex&gt;</c> (alias <c>&lt;name&gt;__staging</c>) and promotes it by
/// moving both aliases in one atomic alias batch. Calls address the physical collection resolved at the
/// last ensure, never the alias, so a replica that has not yet noticed a switch keeps writing the
/// retired collection (which the re-index carries over) rather than old-model vectors into the new one.
/// Once the first collection (named like the logical one) is dropped, <c>&lt;name&gt;</c> becomes an alias
/// of the active collection too, for tools that address it by name.</item>
/// </list>
/// </summary>
internal sealed partial class QdrantVectorStore : IVectorStore
{
    /// <summary>Payload key holding our own record id (system keys start with '_', user keys may not).</summary>
    internal const string IdPayloadKey = "_id";
    internal const string MetaSuffix = "__meta";
    internal const string ActiveAliasSuffix = "__active";
    internal const string StagingAliasSuffix = "__staging";
    internal const string MetaPointId = "00000000-0000-0000-0000-000000000001";
    internal const string CosineDistance = "Cosine";
    private const string ModelKey = "model";
    private const string DimensionKey = "dimension";

    private readonly QdrantApi api;
    private readonly ILogger<QdrantVectorStore> logger;
    private readonly string _collection;
    private readonly QdrantOptions _options;

    // Bound stores (a staging or retired collection) address one physical collection for good; the
    // store of the logical collection addresses the one its pointer named when last ensured.
    private readonly bool _bound;
    private volatile string _physical;

    // The collection's dimension once known (Ensure, Recreate or a lookup), so bad vectors are refused
    // before anything is sent: Qdrant would reject the whole batch, we want nothing written and an
    // ArgumentException like every other store.
    private int _dimension;
    private bool _resolved;

    public QdrantVectorStore(QdrantApi api, IOptions<VectorStoreOptions> storeOptions, IOptions<QdrantOptions> qdrantOptions, ILogger<QdrantVectorStore> logger)
        : this(api, storeOptions.Value.Collection, null, qdrantOptions.Value, logger)
    {
    }

    private QdrantVectorStore(QdrantApi api, string collection, string? physical, QdrantOptions options, ILogger<QdrantVectorStore> logger)
    {
        this.api = api;
        this.logger = logger;
        _collection = collection;
        _options = options;
        _bound = physical is not null;
        _physical = physical ?? collection;
        _resolved = _bound;
    }

    public string ProviderName => nameof(VectorStoreProvider.Qdrant);

    private string CollectionPath => CollectionUrl(_physical);

    private string ActiveAlias => _collection + ActiveAliasSuffix;

    private string StagingAlias => _collection + StagingAliasSuffix;

    public async Task<CollectionDescriptor> EnsureCollectionAsync(CollectionDescriptor wanted, CancellationToken cancellationToken)
    {
        // The logical collection is whatever its pointer alias names now: after a re-index elsewhere this
        // store follows, and its guard then sees the new model.
        var physical = _bound ? _physical : await ResolveActiveAsync(cancellationToken);
        var existing = await GetVectorParamsAsync(physical, cancellationToken);
        if (existing is null)
        {
            await CreateAsync(physical, wanted, cancellationToken);
            LogCreated(logger, physical, wanted.ModelId, wanted.Dimension);
            Target(physical, wanted.Dimension);
            return wanted with { Name = _collection };
        }

        var stored = await ReadDescriptorAsync(physical, cancellationToken);
        if (stored is null)
        {
            // A collection without our descriptor: made by hand, or we stopped between the two
            // creates. Adopt it when its shape fits; otherwise report what it is so the caller refuses.
            Target(physical, existing.Size);
            if (existing.Size != wanted.Dimension)
            {
                return new CollectionDescriptor(_collection, "unknown", existing.Size);
            }

            await WriteDescriptorAsync(physical, wanted, cancellationToken);
            LogAdopted(logger, physical, wanted.ModelId);
            return wanted with { Name = _collection };
        }

        Target(physical, existing.Size);
        return new CollectionDescriptor(_collection, stored.Value.ModelId, existing.Size);
    }

    public async Task<IVectorStore> OpenStagingAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        RequireLogical();
        var aliases = await AliasesAsync(cancellationToken);
        if (aliases.TryGetValue(StagingAlias, out var staging))
        {
            var existing = await GetVectorParamsAsync(staging, cancellationToken);
            var stored = existing is null ? null : await ReadDescriptorAsync(staging, cancellationToken);
            if (stored is { } held && held.ModelId == descriptor.ModelId && existing!.Size == descriptor.Dimension)
            {
                LogStagingResumed(logger, staging, held.ModelId);
                return Bound(staging, existing.Size);
            }

            await ChangeAliasesAsync([new QdrantAliasAction { DeleteAlias = new QdrantAliasName { AliasName = StagingAlias } }], cancellationToken);
            await DropPhysicalAsync(staging, cancellationToken);
        }

        var name = PhysicalCollections.NewName(_collection);
        await CreateAsync(name, descriptor, cancellationToken);
        await ChangeAliasesAsync([new QdrantAliasAction { CreateAlias = new QdrantAlias { AliasName = StagingAlias, CollectionName = name } }], cancellationToken);
        LogStagingCreated(logger, name, descriptor.ModelId, descriptor.Dimension);
        return Bound(name, descriptor.Dimension);
    }

    public async Task PromoteStagingAsync(CancellationToken cancellationToken)
    {
        RequireLogical();
        var aliases = await AliasesAsync(cancellationToken);
        if (!aliases.TryGetValue(StagingAlias, out var staging))
        {
            throw new InvalidOperationException($"Qdrant collection '{_collection}' has no staging collection to promote.");
        }

        // One alias batch, which Qdrant applies atomically: the pointer moves and the staging alias goes.
        // The plain alias named like the collection (for tools that address it by name) follows when it exists.
        var actions = new List<QdrantAliasAction>();
        if (aliases.ContainsKey(ActiveAlias))
        {
            actions.Add(new QdrantAliasAction { DeleteAlias = new QdrantAliasName { AliasName = ActiveAlias } });
        }

        actions.Add(new QdrantAliasAction { CreateAlias = new QdrantAlias { AliasName = ActiveAlias, CollectionName = staging } });
        actions.Add(new QdrantAliasAction { DeleteAlias = new QdrantAliasName { AliasName = StagingAlias } });
        if (aliases.ContainsKey(_collection))
        {
            actions.Add(new QdrantAliasAction { DeleteAlias = new QdrantAliasName { AliasName = _collection } });
            actions.Add(new QdrantAliasAction { CreateAlias = new QdrantAlias { AliasName = _collection, CollectionName = staging } });
        }

        await ChangeAliasesAsync(actions, cancellationToken);
        LogPromoted(logger, _collection, staging);

        // This store follows at once; other replicas when they next ensure.
        var parameters = await GetVectorParamsAsync(staging, cancellationToken);
        Target(staging, parameters?.Size ?? 0);
    }

    public async Task<IReadOnlyList<InactiveCollectionInfo>> ListInactiveAsync(CancellationToken cancellationToken)
    {
        RequireLogical();
        var aliases = await AliasesAsync(cancellationToken);
        var active = aliases.GetValueOrDefault(ActiveAlias) ?? _collection;
        var staging = aliases.GetValueOrDefault(StagingAlias);
        var inactive = new List<InactiveCollectionInfo>();
        foreach (var name in await CollectionNamesAsync(cancellationToken))
        {
            if (name == active || !PhysicalCollections.BelongsTo(name, _collection))
            {
                continue;
            }

            var parameters = await GetVectorParamsAsync(name, cancellationToken);
            var stored = await ReadDescriptorAsync(name, cancellationToken);
            inactive.Add(new InactiveCollectionInfo(
                name,
                name == staging ? CollectionRole.Staging : CollectionRole.Retired,
                new CollectionDescriptor(_collection, stored?.ModelId ?? "unknown", parameters?.Size ?? 0)));
        }

        return inactive;
    }

    public async Task<IVectorStore> OpenInactiveAsync(string name, CancellationToken cancellationToken)
    {
        var parameters = await RequireInactiveAsync(name, cancellationToken);
        return Bound(name, parameters.Size);
    }

    public async Task DropInactiveAsync(string name, CancellationToken cancellationToken)
    {
        await RequireInactiveAsync(name, cancellationToken);
        var aliases = await AliasesAsync(cancellationToken);
        if (aliases.GetValueOrDefault(StagingAlias) == name)
        {
            await ChangeAliasesAsync([new QdrantAliasAction { DeleteAlias = new QdrantAliasName { AliasName = StagingAlias } }], cancellationToken);
        }

        await DropPhysicalAsync(name, cancellationToken);
        LogDropped(logger, name);

        // The first collection carried the logical name itself, which kept an alias of that name from
        // existing; once it is gone, the name becomes an alias of the active one for tools that use it.
        if (name == _collection && aliases.TryGetValue(ActiveAlias, out var active))
        {
            await ChangeAliasesAsync([new QdrantAliasAction { CreateAlias = new QdrantAlias { AliasName = _collection, CollectionName = active } }], cancellationToken);
        }
    }

    public async Task RecreateCollectionAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        var physical = _bound ? _physical : await ResolveActiveAsync(cancellationToken);
        await DropPhysicalAsync(physical, cancellationToken);
        await CreateAsync(physical, descriptor, cancellationToken);
        Target(physical, descriptor.Dimension);
        LogCreated(logger, physical, descriptor.ModelId, descriptor.Dimension);
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

        var physical = _resolved ? _physical : await ResolveActiveAsync(cancellationToken);
        var existing = await GetVectorParamsAsync(physical, cancellationToken)
            ?? throw new InvalidOperationException($"Qdrant collection '{_collection}' does not exist yet; call EnsureCollectionAsync first.");
        Target(physical, existing.Size);
        return _dimension;
    }

    private void Target(string physical, int dimension)
    {
        _dimension = dimension;
        _physical = physical;
        _resolved = true;
    }

    private QdrantVectorStore Bound(string physical, int dimension)
    {
        var store = new QdrantVectorStore(api, _collection, physical, _options, logger);
        store._dimension = dimension;
        return store;
    }

    private void RequireLogical()
    {
        if (_bound)
        {
            throw PhysicalCollections.NotOnBoundStore(_physical);
        }
    }

    private async Task<QdrantVectorParams> RequireInactiveAsync(string name, CancellationToken cancellationToken)
    {
        RequireLogical();
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!PhysicalCollections.BelongsTo(name, _collection))
        {
            throw new ArgumentException($"'{name}' is not a collection of '{_collection}'.", nameof(name));
        }

        if (name == await ResolveActiveAsync(cancellationToken))
        {
            throw new InvalidOperationException($"'{name}' is the active collection of '{_collection}'.");
        }

        return await GetVectorParamsAsync(name, cancellationToken)
            ?? throw new ArgumentException($"Qdrant has no collection '{name}'.", nameof(name));
    }

    /// <summary>The physical collection the pointer alias names, or the logical name itself before any re-index.</summary>
    private async Task<string> ResolveActiveAsync(CancellationToken cancellationToken) =>
        (await AliasesAsync(cancellationToken)).GetValueOrDefault(ActiveAlias) ?? _collection;

    private async Task<Dictionary<string, string>> AliasesAsync(CancellationToken cancellationToken)
    {
        var response = await api.SendAsync(HttpMethod.Get, "aliases", null, QdrantJsonContext.Default.QdrantResponseQdrantAliasList, notFoundIsNull: false, cancellationToken);
        return (response?.Result?.Aliases ?? []).ToDictionary(a => a.AliasName, a => a.CollectionName, StringComparer.Ordinal);
    }

    private async Task<List<string>> CollectionNamesAsync(CancellationToken cancellationToken)
    {
        var response = await api.SendAsync(HttpMethod.Get, "collections", null, QdrantJsonContext.Default.QdrantResponseQdrantCollectionList, notFoundIsNull: false, cancellationToken);
        return (response?.Result?.Collections ?? []).Select(c => c.Name).Order(StringComparer.Ordinal).ToList();
    }

    private async Task ChangeAliasesAsync(List<QdrantAliasAction> actions, CancellationToken cancellationToken) =>
        await api.SendAsync(HttpMethod.Post, "collections/aliases", QdrantApi.Json(new QdrantAliasChange { Actions = actions }, QdrantJsonContext.Default.QdrantAliasChange),
            QdrantJsonContext.Default.QdrantResponseJsonElement, notFoundIsNull: false, cancellationToken);

    private async Task DropPhysicalAsync(string physical, CancellationToken cancellationToken)
    {
        await DeleteCollectionAsync(CollectionUrl(physical), cancellationToken);
        await DeleteCollectionAsync(CollectionUrl(physical + MetaSuffix), cancellationToken);
    }

    private static string CollectionUrl(string collection) => $"collections/{Uri.EscapeDataString(collection)}";

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

    private async Task<QdrantVectorParams?> GetVectorParamsAsync(string physical, CancellationToken cancellationToken)
    {
        var response = await api.SendAsync(HttpMethod.Get, CollectionUrl(physical), null,
            QdrantJsonContext.Default.QdrantResponseQdrantCollectionInfo, notFoundIsNull: true, cancellationToken);
        if (response is null)
        {
            return null;
        }

        var vectors = response.Result?.Config?.Params?.Vectors ?? default;
        if (vectors.ValueKind != JsonValueKind.Object || !vectors.TryGetProperty("size", out _))
        {
            throw new StoreRequestException(QdrantApi.StoreName, 409,
                $"Collection '{physical}' uses named vectors; this service needs one unnamed cosine vector per point. Use another collection name or delete it.");
        }

        var parameters = vectors.Deserialize(QdrantJsonContext.Default.QdrantVectorParams)!;
        if (!string.Equals(parameters.Distance, CosineDistance, StringComparison.OrdinalIgnoreCase))
        {
            throw new StoreRequestException(QdrantApi.StoreName, 409,
                $"Collection '{physical}' uses {parameters.Distance} distance; this service searches by Cosine. Use another collection name or re-index into a new one.");
        }

        return parameters;
    }

    private async Task CreateAsync(string physical, CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        var create = new QdrantCreateCollection { Vectors = new QdrantVectorParams { Size = descriptor.Dimension, Distance = CosineDistance } };
        await PutCollectionAsync(CollectionUrl(physical), create, cancellationToken);
        await WriteDescriptorAsync(physical, descriptor, cancellationToken);
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

    private async Task WriteDescriptorAsync(string physical, CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        var metaPath = CollectionUrl(physical + MetaSuffix);
        // The companion holds payload only; Qdrant 1.13 still wants a vector config, so a 1-d dot one.
        await PutCollectionAsync(metaPath, new QdrantCreateCollection { Vectors = new QdrantVectorParams { Size = 1, Distance = "Dot" } }, cancellationToken);
        var payload = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            [ModelKey] = JsonSerializer.SerializeToElement(descriptor.ModelId, QdrantJsonContext.Default.String),
            [DimensionKey] = JsonSerializer.SerializeToElement(descriptor.Dimension, QdrantJsonContext.Default.Int32),
            ["collection"] = JsonSerializer.SerializeToElement(physical, QdrantJsonContext.Default.String),
            ["createdAt"] = JsonSerializer.SerializeToElement(DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture), QdrantJsonContext.Default.String),
        };
        var upsert = new QdrantUpsert { Points = [new QdrantPoint { Id = MetaPointId, Vector = [1f], Payload = payload }] };
        await api.SendAsync(HttpMethod.Put, $"{metaPath}/points?wait=true", QdrantApi.Json(upsert, QdrantJsonContext.Default.QdrantUpsert),
            QdrantJsonContext.Default.QdrantResponseJsonElement, notFoundIsNull: false, cancellationToken);
    }

    private async Task<(string ModelId, int Dimension)?> ReadDescriptorAsync(string physical, CancellationToken cancellationToken)
    {
        var body = new QdrantRetrieve { Ids = [MetaPointId], WithPayload = true, WithVector = false };
        var response = await api.SendAsync(HttpMethod.Post, $"{CollectionUrl(physical + MetaSuffix)}/points", QdrantApi.Json(body, QdrantJsonContext.Default.QdrantRetrieve),
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Created Qdrant staging collection {Name} for model {ModelId} ({Dimension}-d)")]
    private static partial void LogStagingCreated(ILogger logger, string name, string modelId, int dimension);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming Qdrant staging collection {Name} for model {ModelId}")]
    private static partial void LogStagingResumed(ILogger logger, string name, string modelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Qdrant collection {Collection} now points at {Name}")]
    private static partial void LogPromoted(ILogger logger, string collection, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped inactive Qdrant collection {Name}")]
    private static partial void LogDropped(ILogger logger, string name);
}
