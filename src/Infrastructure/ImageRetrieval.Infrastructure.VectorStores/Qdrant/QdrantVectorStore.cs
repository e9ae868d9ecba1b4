using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Qdrant.Client;
using Qdrant.Client.Grpc;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>
/// <see cref="IVectorStore"/> over Qdrant's gRPC API through the official <see cref="QdrantClient"/>: one
/// collection (cosine, the model's dimension), one point per record.
/// <list type="bullet">
/// <item>Point ids must be unsigned integers or UUIDs. Our ids are 32 lowercase hex digits (128 bits),
/// so they are written as the UUID with the same digits; that keeps Qdrant's id order (scroll) equal to
/// our id order. Any other string id maps to a name-based UUID (SHA-256). The original id is kept in
/// the payload under <see cref="IdPayloadKey"/>.</item>
/// <item>The descriptor (model id, dimension) lives in a companion collection <c>&lt;name&gt;__meta</c>
/// holding one point. A reserved point inside the main collection would need a dummy vector that
/// cosine cannot normalise and an exclusion in every query, scroll and count. (Qdrant 1.16 added
/// collection metadata; the companion stays so that collections this service made before keep working.)</item>
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
    private const string ModelKey = "model";
    private const string DimensionKey = "dimension";

    private readonly QdrantCalls calls;
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

    public QdrantVectorStore(QdrantCalls calls, IOptions<VectorStoreOptions> storeOptions, IOptions<QdrantOptions> qdrantOptions, ILogger<QdrantVectorStore> logger)
        : this(calls, storeOptions.Value.Collection, null, qdrantOptions.Value, logger)
    {
    }

    private QdrantVectorStore(QdrantCalls calls, string collection, string? physical, QdrantOptions options, ILogger<QdrantVectorStore> logger)
    {
        this.calls = calls;
        this.logger = logger;
        _collection = collection;
        _options = options;
        _bound = physical is not null;
        _physical = physical ?? collection;
        _resolved = _bound;
    }

    public string ProviderName => nameof(VectorStoreProvider.Qdrant);

    private string ActiveAlias => _collection + ActiveAliasSuffix;

    private string StagingAlias => _collection + StagingAliasSuffix;

    public async Task<CollectionDescriptor> EnsureCollectionAsync(CollectionDescriptor wanted, CancellationToken cancellationToken)
    {
        // The logical collection is whatever its pointer alias names now: after a re-index elsewhere this
        // store follows, and its guard then sees the new model.
        var physical = _bound ? _physical : await ResolveActiveAsync(cancellationToken);
        var existing = await GetDimensionAsync(physical, cancellationToken);
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
            Target(physical, existing.Value);
            if (existing.Value != wanted.Dimension)
            {
                return new CollectionDescriptor(_collection, "unknown", existing.Value);
            }

            await WriteDescriptorAsync(physical, wanted, cancellationToken);
            LogAdopted(logger, physical, wanted.ModelId);
            return wanted with { Name = _collection };
        }

        Target(physical, existing.Value);
        return new CollectionDescriptor(_collection, stored.Value.ModelId, existing.Value);
    }

    public async Task<IVectorStore> OpenStagingAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        RequireLogical();
        var aliases = await AliasesAsync(cancellationToken);
        if (aliases.TryGetValue(StagingAlias, out var staging))
        {
            var existing = await GetDimensionAsync(staging, cancellationToken);
            var stored = existing is null ? null : await ReadDescriptorAsync(staging, cancellationToken);
            if (stored is { } held && held.ModelId == descriptor.ModelId && existing == descriptor.Dimension)
            {
                LogStagingResumed(logger, staging, held.ModelId);
                return Bound(staging, existing.Value);
            }

            await ChangeAliasesAsync([DeleteAlias(StagingAlias)], cancellationToken);
            await DropPhysicalAsync(staging, cancellationToken);
        }

        var name = PhysicalCollections.NewName(_collection);
        await CreateAsync(name, descriptor, cancellationToken);
        await ChangeAliasesAsync([CreateAlias(StagingAlias, name)], cancellationToken);
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
        var actions = new List<AliasOperations>();
        if (aliases.ContainsKey(ActiveAlias))
        {
            actions.Add(DeleteAlias(ActiveAlias));
        }

        actions.Add(CreateAlias(ActiveAlias, staging));
        actions.Add(DeleteAlias(StagingAlias));
        if (aliases.ContainsKey(_collection))
        {
            actions.Add(DeleteAlias(_collection));
            actions.Add(CreateAlias(_collection, staging));
        }

        await ChangeAliasesAsync(actions, cancellationToken);
        LogPromoted(logger, _collection, staging);

        // This store follows at once; other replicas when they next ensure.
        Target(staging, await GetDimensionAsync(staging, cancellationToken) ?? 0);
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

            var dimension = await GetDimensionAsync(name, cancellationToken);
            var stored = await ReadDescriptorAsync(name, cancellationToken);
            inactive.Add(new InactiveCollectionInfo(
                name,
                name == staging ? CollectionRole.Staging : CollectionRole.Retired,
                new CollectionDescriptor(_collection, stored?.ModelId ?? "unknown", dimension ?? 0)));
        }

        return inactive;
    }

    public async Task<IVectorStore> OpenInactiveAsync(string name, CancellationToken cancellationToken)
    {
        var dimension = await RequireInactiveAsync(name, cancellationToken);
        return Bound(name, dimension);
    }

    public async Task DropInactiveAsync(string name, CancellationToken cancellationToken)
    {
        await RequireInactiveAsync(name, cancellationToken);
        var aliases = await AliasesAsync(cancellationToken);
        if (aliases.GetValueOrDefault(StagingAlias) == name)
        {
            await ChangeAliasesAsync([DeleteAlias(StagingAlias)], cancellationToken);
        }

        await DropPhysicalAsync(name, cancellationToken);
        LogDropped(logger, name);

        // The first collection carried the logical name itself, which kept an alias of that name from
        // existing; once it is gone, the name becomes an alias of the active one for tools that use it.
        if (name == _collection && aliases.TryGetValue(ActiveAlias, out var active))
        {
            await ChangeAliasesAsync([CreateAlias(_collection, active)], cancellationToken);
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

        var physical = _physical;
        foreach (var batch in records.Chunk(_options.UpsertBatchSize))
        {
            var points = batch.Select(ToPoint).ToList();
            // wait: Qdrant answers once the points are applied, so a read right after sees them.
            await calls.RunAsync("upsert points", (client, token) => client.UpsertAsync(physical, points, wait: true, cancellationToken: token), cancellationToken);
        }
    }

    public async Task DeleteAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var physical = _physical;
        foreach (var batch in ids.Chunk(1000))
        {
            var pointIds = batch.Select(PointIdOf).ToList();
            await calls.RunAsync("delete points", (client, token) => client.DeleteAsync(physical, pointIds, wait: true, cancellationToken: token), cancellationToken);
        }
    }

    public async Task<IReadOnlyList<VectorRecord>> FetchAsync(IReadOnlyCollection<string> ids, bool includeVectors, CancellationToken cancellationToken)
    {
        var physical = _physical;
        var found = new List<VectorRecord>(ids.Count);
        foreach (var batch in ids.Distinct(StringComparer.Ordinal).Chunk(1000))
        {
            var pointIds = batch.Select(PointIdOf).ToList();
            var points = await calls.RunAsync("retrieve points",
                (client, token) => client.RetrieveAsync(physical, pointIds, withPayload: true, withVectors: includeVectors, cancellationToken: token), cancellationToken);
            found.AddRange(points.Select(point => ToRecord(point.Id, point.Payload, includeVectors ? point.Vectors : null)));
        }

        return found;
    }

    public async Task<IReadOnlyList<ScoredRecord>> QueryAsync(VectorQuery query, CancellationToken cancellationToken)
    {
        if (query.TopK <= 0)
        {
            return [];
        }

        var physical = _physical;
        var vector = query.Vector.ToArray();
        var filter = QdrantFilterMapper.ToFilter(query.Filter, query.ExcludeIds?.Select(PointIdOf).ToList());
        var hits = await calls.RunAsync("query points", (client, token) => client.QueryAsync(
            physical,
            query: vector,
            filter: filter,
            scoreThreshold: query.MinScore,
            limit: (ulong)query.TopK,
            payloadSelector: true,
            vectorsSelector: false,
            cancellationToken: token), cancellationToken);
        return hits.Select(point => new ScoredRecord(ToRecord(point.Id, point.Payload, vectors: null), point.Score)).ToList();
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        var physical = _physical;
        var count = await calls.RunAsync("count points", (client, token) => client.CountAsync(physical, exact: true, cancellationToken: token), cancellationToken);
        return (long)count;
    }

    public async Task<RecordPage> ListAsync(int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var physical = _physical;
        var offset = string.IsNullOrEmpty(cursor) ? null : CursorPointId(cursor);
        // Scroll without order_by walks points in id order; next_page_offset is the first id of the next page.
        var page = await calls.RunAsync("scroll points", (client, token) => client.ScrollAsync(
            physical,
            limit: (uint)limit,
            offset: offset,
            payloadSelector: true,
            vectorsSelector: false,
            cancellationToken: token), cancellationToken);
        var next = page.NextPageOffset is { } id ? PointIdText(id) : null;
        return new RecordPage(page.Result.Select(point => ToRecord(point.Id, point.Payload, vectors: null)).ToList(), next);
    }

    public async Task CheckReachableAsync(CancellationToken cancellationToken)
    {
        // Any answer proves Qdrant serves and accepts our key (a missing collection too); a wrong key is
        // Unauthenticated, which surfaces as StoreRequestException.
        var physical = _physical;
        await calls.RunAsync("check collection", (client, token) => client.CollectionExistsAsync(physical, token), cancellationToken);
    }

    private async Task<int> RequireDimensionAsync(CancellationToken cancellationToken)
    {
        if (_dimension > 0)
        {
            return _dimension;
        }

        var physical = _resolved ? _physical : await ResolveActiveAsync(cancellationToken);
        var existing = await GetDimensionAsync(physical, cancellationToken)
            ?? throw new InvalidOperationException($"Qdrant collection '{_collection}' does not exist yet; call EnsureCollectionAsync first.");
        Target(physical, existing);
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
        var store = new QdrantVectorStore(calls, _collection, physical, _options, logger);
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

    /// <returns>The dimension of the inactive collection <paramref name="name"/>.</returns>
    private async Task<int> RequireInactiveAsync(string name, CancellationToken cancellationToken)
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

        return await GetDimensionAsync(name, cancellationToken)
            ?? throw new ArgumentException($"Qdrant has no collection '{name}'.", nameof(name));
    }

    /// <summary>The physical collection the pointer alias names, or the logical name itself before any re-index.</summary>
    private async Task<string> ResolveActiveAsync(CancellationToken cancellationToken) =>
        (await AliasesAsync(cancellationToken)).GetValueOrDefault(ActiveAlias) ?? _collection;

    private async Task<Dictionary<string, string>> AliasesAsync(CancellationToken cancellationToken)
    {
        var aliases = await calls.RunAsync("list aliases", (client, token) => client.ListAliasesAsync(token), cancellationToken);
        return aliases.ToDictionary(a => a.AliasName, a => a.CollectionName, StringComparer.Ordinal);
    }

    private async Task<List<string>> CollectionNamesAsync(CancellationToken cancellationToken)
    {
        var names = await calls.RunAsync("list collections", (client, token) => client.ListCollectionsAsync(token), cancellationToken);
        return names.Order(StringComparer.Ordinal).ToList();
    }

    private async Task ChangeAliasesAsync(List<AliasOperations> actions, CancellationToken cancellationToken) =>
        await calls.RunAsync("update aliases", (client, token) => client.UpdateAliasesAsync(actions, cancellationToken: token), cancellationToken);

    private static AliasOperations CreateAlias(string alias, string collection) =>
        new() { CreateAlias = new CreateAlias { AliasName = alias, CollectionName = collection } };

    private static AliasOperations DeleteAlias(string alias) =>
        new() { DeleteAlias = new DeleteAlias { AliasName = alias } };

    private async Task DropPhysicalAsync(string physical, CancellationToken cancellationToken)
    {
        await DeleteCollectionAsync(physical, cancellationToken);
        await DeleteCollectionAsync(physical + MetaSuffix, cancellationToken);
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

    private static PointId PointIdOf(string id) => new() { Uuid = ToPointId(id) };

    /// <summary>A list cursor is the point id Qdrant named as the next page's first: a UUID, or an integer for points made elsewhere.</summary>
    private static PointId CursorPointId(string cursor) =>
        Guid.TryParseExact(cursor, "D", out var uuid) ? new PointId { Uuid = uuid.ToString("D") }
        : ulong.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? new PointId { Num = number }
        : throw new StoreRequestException(QdrantCalls.StoreName, 400, $"scroll points: '{cursor}' is not a point id.");

    private static string PointIdText(PointId id) =>
        id.PointIdOptionsCase == PointId.PointIdOptionsOneofCase.Num ? id.Num.ToString(CultureInfo.InvariantCulture) : id.Uuid;

    private static PointStruct ToPoint(VectorRecord record)
    {
        var point = new PointStruct { Id = PointIdOf(record.Id), Vectors = record.Vector.ToArray() };
        foreach (var (key, value) in record.Metadata)
        {
            point.Payload[key] = QdrantPayload.ToValue(value);
        }

        point.Payload[IdPayloadKey] = record.Id;
        return point;
    }

    private static VectorRecord ToRecord(PointId pointId, Google.Protobuf.Collections.MapField<string, Value> payload, VectorsOutput? vectors)
    {
        var id = payload.TryGetValue(IdPayloadKey, out var stored) && stored.KindCase == Value.KindOneofCase.StringValue
            ? stored.StringValue
            : pointId.PointIdOptionsCase == PointId.PointIdOptionsOneofCase.Uuid ? pointId.Uuid.Replace("-", "", StringComparison.Ordinal) : PointIdText(pointId);
        var vector = vectors?.Vector?.GetDenseVector() is { } dense ? dense.Data.ToArray() : ReadOnlyMemory<float>.Empty;
        return new VectorRecord(id, vector, QdrantPayload.ToMetadata(payload, IdPayloadKey));
    }

    /// <returns>The dimension of <paramref name="physical"/>'s one unnamed cosine vector, or null when there is no such collection.</returns>
    private async Task<int?> GetDimensionAsync(string physical, CancellationToken cancellationToken)
    {
        var info = await calls.RunAsync("get collection", async (client, token) =>
        {
            try
            {
                return await client.GetCollectionInfoAsync(physical, token);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
            {
                return null;
            }
        }, cancellationToken);
        if (info is null)
        {
            return null;
        }

        var vectors = info.Config?.Params?.VectorsConfig;
        if (vectors?.ConfigCase != VectorsConfig.ConfigOneofCase.Params)
        {
            throw new StoreRequestException(QdrantCalls.StoreName, 409,
                $"Collection '{physical}' uses named vectors; this service needs one unnamed cosine vector per point. Use another collection name or delete it.");
        }

        if (vectors.Params.Distance != Distance.Cosine)
        {
            throw new StoreRequestException(QdrantCalls.StoreName, 409,
                $"Collection '{physical}' uses {vectors.Params.Distance} distance; this service searches by Cosine. Use another collection name or re-index into a new one.");
        }

        return checked((int)vectors.Params.Size);
    }

    private async Task CreateAsync(string physical, CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        await CreateCollectionAsync(physical, new VectorParams { Size = (ulong)descriptor.Dimension, Distance = Distance.Cosine }, cancellationToken);
        await WriteDescriptorAsync(physical, descriptor, cancellationToken);
    }

    private async Task CreateCollectionAsync(string name, VectorParams vectors, CancellationToken cancellationToken) =>
        await calls.RunAsync("create collection", async (client, token) =>
        {
            try
            {
                await client.CreateCollectionAsync(name, vectors, cancellationToken: token);
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.AlreadyExists or StatusCode.InvalidArgument
                && ex.Status.Detail.Contains("already exists", StringComparison.OrdinalIgnoreCase))
            {
                // Another replica created it first (Qdrant answers AlreadyExists, older versions InvalidArgument); both want the same shape.
            }
        }, cancellationToken);

    private async Task WriteDescriptorAsync(string physical, CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        var meta = physical + MetaSuffix;
        // The companion holds payload only; Qdrant still wants a vector config, so a 1-d dot one.
        await CreateCollectionAsync(meta, new VectorParams { Size = 1, Distance = Distance.Dot }, cancellationToken);
        var point = new PointStruct { Id = new PointId { Uuid = MetaPointId }, Vectors = new[] { 1f } };
        point.Payload[ModelKey] = descriptor.ModelId;
        point.Payload[DimensionKey] = descriptor.Dimension;
        point.Payload["collection"] = physical;
        point.Payload["createdAt"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        await calls.RunAsync("write descriptor", (client, token) => client.UpsertAsync(meta, [point], wait: true, cancellationToken: token), cancellationToken);
    }

    private async Task<(string ModelId, int Dimension)?> ReadDescriptorAsync(string physical, CancellationToken cancellationToken)
    {
        var meta = physical + MetaSuffix;
        var points = await calls.RunAsync("read descriptor", async (client, token) =>
        {
            try
            {
                return await client.RetrieveAsync(meta, [new PointId { Uuid = MetaPointId }], withPayload: true, withVectors: false, cancellationToken: token);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
            {
                return [];
            }
        }, cancellationToken);
        var payload = points.Count > 0 ? points[0].Payload : null;
        if (payload is null || !payload.TryGetValue(ModelKey, out var model) || model.KindCase != Value.KindOneofCase.StringValue)
        {
            return null;
        }

        var dimension = payload.TryGetValue(DimensionKey, out var d) && d.KindCase == Value.KindOneofCase.IntegerValue ? (int)d.IntegerValue : 0;
        return (model.StringValue, dimension);
    }

    private async Task DeleteCollectionAsync(string name, CancellationToken cancellationToken) =>
        await calls.RunAsync("delete collection", async (client, token) =>
        {
            try
            {
                await client.DeleteCollectionAsync(name, cancellationToken: token);
            }
            catch (Exception ex) when (ex is QdrantException || ex is RpcException { StatusCode: StatusCode.NotFound })
            {
                // Nothing to drop: Qdrant answers "false" (which the client raises as QdrantException) or NotFound.
            }
        }, cancellationToken);

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
