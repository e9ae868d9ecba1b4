using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.VectorStores.Pinecone;

/// <summary>
/// <see cref="IVectorStore"/> over a Pinecone serverless index (REST control plane + data plane),
/// bound to one index and one namespace (<c>ImageRetrieval:VectorStore:Namespace</c>, "" = default).
/// <list type="bullet">
/// <item>The descriptor's model id lives in the index's tags (<see cref="PineconeModelTag"/>), its
/// dimension is the index's own: both survive restarts and are visible in Pinecone's console.</item>
/// <item>Pinecone is eventually consistent: an upsert or delete is acknowledged before queries,
/// list and <c>describe_index_stats</c> reflect it (usually well under a few seconds). Fetch by id
/// reads the write at once. The service tolerates this: a just-ingested image may be missing from a
/// search for a moment, and a just-deleted one may still be returned; the blob check on read drops the latter.</item>
/// <item>Scores: Pinecone's cosine score is the cosine similarity; MinScore is applied here
/// because the query API has no threshold. ExcludeIds asks for topK + |excluded| and drops them here.</item>
/// <item>Re-indexing: the logical index is, among the index named like it and the indexes
/// <c>&lt;name&gt;--&lt;8 hex&gt;</c> a re-index created, the one whose <c>generation</c> tag is highest (the
/// first index, untagged, counts as generation 0). A re-index creates its index tagged <c>staging</c> and
/// promotes it with one configure call that sets <c>generation</c> to the active one's plus one and removes
/// <c>staging</c>: tags are read back by every describe and list, need no extra index or record, and one
/// PATCH is atomic. The data plane addresses the index resolved at the last ensure, so a replica that has
/// not noticed a switch keeps writing the retired index, never old-model vectors into the new one.</item>
/// </list>
/// </summary>
internal sealed partial class PineconeVectorStore(
    PineconeApi api,
    IOptions<VectorStoreOptions> storeOptions,
    IOptions<PineconeOptions> pineconeOptions,
    TimeProvider timeProvider,
    ILogger<PineconeVectorStore> logger) : IVectorStore
{
    private const int MaxTopK = 10_000;
    private const int MaxIndexNameLength = 45;
    private const string GenerationTag = "generation";
    private const string StagingTag = "staging";
    private const int MaxIdsPerFetch = 100; // ids travel in the query string
    private const int MaxIdsPerDelete = 1000;
    private const int MaxListLimit = 100;

    private readonly PineconeOptions _options = pineconeOptions.Value;
    private readonly string _index = pineconeOptions.Value.IndexName is { Length: > 0 } name ? name : storeOptions.Value.Collection;
    private readonly string? _namespace = storeOptions.Value.Namespace is { Length: > 0 } ns ? ns : null;
    private readonly Uri _controlPlane = new(pineconeOptions.Value.ControlPlaneUrl.TrimEnd('/') + "/");
    private Uri? _host = pineconeOptions.Value.IndexHost is { Length: > 0 } host ? HostUri(host) : null;
    private int _dimension;

    // The physical index calls go to: the one the pointer named at the last ensure; fixed for a bound store.
    private volatile string? _physical;
    private bool _bound;

    public string ProviderName => nameof(VectorStoreProvider.Pinecone);

    private string Physical => _physical ?? _index;

    public async Task<CollectionDescriptor> EnsureCollectionAsync(CollectionDescriptor wanted, CancellationToken cancellationToken)
    {
        // Which index is active is read again on every ensure (CollectionGuard does so every few seconds).
        var index = _bound ? await DescribeAsync(Physical, cancellationToken) : ActiveOf(await ListOwnIndexesAsync(cancellationToken));
        if (index is null)
        {
            if (_bound)
            {
                throw new InvalidOperationException($"Pinecone index '{Physical}' no longer exists.");
            }

            index = await CreateAsync(_index, wanted, [], cancellationToken);
            return Remember(index, wanted.ModelId);
        }

        if (!string.Equals(index.Metric, "cosine", StringComparison.OrdinalIgnoreCase))
        {
            throw new StoreRequestException(PineconeApi.StoreName, 409,
                $"Index '{index.Name}' uses the {index.Metric} metric; this service searches by cosine. Use another index name or re-index into a new one.");
        }

        if (!index.Status?.Ready ?? true)
        {
            index = await WaitUntilReadyAsync(index.Name, cancellationToken);
        }

        var model = PineconeModelTag.FromTags(index.Tags);
        if (model is null && index.Dimension == wanted.Dimension)
        {
            // An index made by hand (or by the Python service): adopt it by recording our model.
            var tags = new Dictionary<string, string>(index.Tags ?? [], StringComparer.Ordinal);
            foreach (var (key, value) in PineconeModelTag.ToTags(wanted.ModelId))
            {
                tags[key] = value;
            }

            await api.SendAsync(HttpMethod.Patch, IndexUrlOf(index.Name), PineconeApi.Json(new PineconeConfigureIndex { Tags = tags }, PineconeJsonContext.Default.PineconeConfigureIndex),
                PineconeJsonContext.Default.PineconeIndexModel, notFoundIsDefault: false, cancellationToken);
            LogAdopted(logger, index.Name, wanted.ModelId);
            model = wanted.ModelId;
        }

        return Remember(index, model ?? "unknown");
    }

    public async Task RecreateCollectionAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        // The dimension may change, and the model tag is per index: drop the whole index.
        var active = _bound ? await DescribeAsync(Physical, cancellationToken) : ActiveOf(await ListOwnIndexesAsync(cancellationToken));
        var name = active?.Name ?? Physical;
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (active is not null && name != _index && active.Tags?.TryGetValue(GenerationTag, out var generation) == true)
        {
            // Keep its place as the active index of the logical one.
            tags[GenerationTag] = generation;
        }

        await DeleteIndexAsync(name, wait: true, cancellationToken);
        var index = await CreateAsync(name, descriptor, tags, cancellationToken);
        Remember(index, descriptor.ModelId);
    }

    public async Task<IVectorStore> OpenStagingAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        RequireLogical();
        var indexes = await ListOwnIndexesAsync(cancellationToken);
        var active = ActiveOf(indexes);
        if (active is { Host: { Length: > 0 } activeHost } && await OtherNamespacesAsync(HostUri(activeHost), cancellationToken) is { Count: > 0 } others)
        {
            // The switch moves the whole index; records of other namespaces would stay behind in the retired
            // index, and be dropped with it. Refuse before any work rather than lose them.
            throw new StoreRequestException(PineconeApi.StoreName, 409,
                $"Index '{active.Name}' also holds namespaces {string.Join(", ", others)}; a reindex switches whole indexes, so it would leave them behind. " +
                "Give each namespace its own index (VectorStore:Pinecone:IndexName) before re-indexing.");
        }

        foreach (var staging in indexes.Where(i => i != active && IsStaging(i)))
        {
            if (PineconeModelTag.FromTags(staging.Tags) == descriptor.ModelId && staging.Dimension == descriptor.Dimension)
            {
                LogStagingResumed(logger, staging.Name, descriptor.ModelId);
                return Bound(await WaitUntilReadyAsync(staging.Name, cancellationToken), descriptor.ModelId);
            }

            await DeleteIndexAsync(staging.Name, wait: false, cancellationToken);
        }

        var name = PhysicalCollections.NewName(_index, MaxIndexNameLength);
        var created = await CreateAsync(name, descriptor, new Dictionary<string, string>(StringComparer.Ordinal) { [StagingTag] = "1" }, cancellationToken);
        return Bound(created, descriptor.ModelId);
    }

    public async Task PromoteStagingAsync(CancellationToken cancellationToken)
    {
        RequireLogical();
        var indexes = await ListOwnIndexesAsync(cancellationToken);
        var active = ActiveOf(indexes);
        var staging = indexes.FirstOrDefault(i => i != active && IsStaging(i))
            ?? throw new InvalidOperationException($"Pinecone index '{_index}' has no staging index to promote.");
        var generation = (active is null ? 0 : GenerationOf(active) ?? 0) + 1;

        // The switch is this one configure call; an empty value removes a tag.
        var tags = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [GenerationTag] = generation.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [StagingTag] = "",
        };
        await api.SendAsync(HttpMethod.Patch, IndexUrlOf(staging.Name), PineconeApi.Json(new PineconeConfigureIndex { Tags = tags }, PineconeJsonContext.Default.PineconeConfigureIndex),
            PineconeJsonContext.Default.PineconeIndexModel, notFoundIsDefault: false, cancellationToken);
        LogPromoted(logger, _index, staging.Name, generation);

        // This store follows at once; other replicas when they next ensure.
        Remember(staging, PineconeModelTag.FromTags(staging.Tags) ?? "unknown");
    }

    public async Task<IReadOnlyList<InactiveCollectionInfo>> ListInactiveAsync(CancellationToken cancellationToken)
    {
        RequireLogical();
        var indexes = await ListOwnIndexesAsync(cancellationToken);
        var active = ActiveOf(indexes);
        return indexes.Where(i => i != active)
            .OrderBy(i => i.Name, StringComparer.Ordinal)
            .Select(i => new InactiveCollectionInfo(
                i.Name,
                IsStaging(i) ? CollectionRole.Staging : CollectionRole.Retired,
                new CollectionDescriptor(_index, PineconeModelTag.FromTags(i.Tags) ?? "unknown", i.Dimension ?? 0)))
            .ToList();
    }

    public async Task<IVectorStore> OpenInactiveAsync(string name, CancellationToken cancellationToken)
    {
        var index = await RequireInactiveAsync(name, cancellationToken);
        return Bound(index.Status?.Ready == true && index.Host is { Length: > 0 } ? index : await WaitUntilReadyAsync(name, cancellationToken), PineconeModelTag.FromTags(index.Tags) ?? "unknown");
    }

    public async Task DropInactiveAsync(string name, CancellationToken cancellationToken)
    {
        await RequireInactiveAsync(name, cancellationToken);
        await DeleteIndexAsync(name, wait: false, cancellationToken);
        LogDropped(logger, name);
    }

    public async Task UpsertAsync(IReadOnlyList<VectorRecord> records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return;
        }

        var dimension = await RequireDimensionAsync(cancellationToken);
        VectorRecordBatch.Validate(records, dimension, Physical);

        var url = new Uri(await HostAsync(cancellationToken), "vectors/upsert");
        foreach (var body in PineconeUpsertBatcher.Batches(records, _namespace, _options.UpsertBatchSize, _options.MaxUpsertRequestBytes))
        {
            await api.SendAsync<JsonElement>(HttpMethod.Post, url, PineconeApi.Json(body), null, notFoundIsDefault: false, cancellationToken);
        }
    }

    public async Task DeleteAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return;
        }

        var url = new Uri(await HostAsync(cancellationToken), "vectors/delete");
        foreach (var batch in ids.Distinct(StringComparer.Ordinal).Chunk(MaxIdsPerDelete))
        {
            // Deleting ids that do not exist is not an error for Pinecone.
            await api.SendAsync<JsonElement>(HttpMethod.Post, url,
                PineconeApi.Json(new PineconeDelete { Ids = batch, Namespace = _namespace }, PineconeJsonContext.Default.PineconeDelete),
                null, notFoundIsDefault: false, cancellationToken);
        }
    }

    public async Task<IReadOnlyList<VectorRecord>> FetchAsync(IReadOnlyCollection<string> ids, bool includeVectors, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var found = new List<VectorRecord>(ids.Count);
        if (ids.Count == 0)
        {
            return found;
        }

        var host = await HostAsync(cancellationToken);
        foreach (var batch in ids.Distinct(StringComparer.Ordinal).Chunk(MaxIdsPerFetch))
        {
            var query = string.Join('&', batch.Select(id => "ids=" + Uri.EscapeDataString(id)));
            if (_namespace is not null)
            {
                query += "&namespace=" + Uri.EscapeDataString(_namespace);
            }

            var response = await api.SendAsync(HttpMethod.Get, new Uri(host, "vectors/fetch?" + query), null,
                PineconeJsonContext.Default.PineconeFetchResponse, notFoundIsDefault: false, cancellationToken);
            foreach (var id in batch)
            {
                if (response?.Vectors.TryGetValue(id, out var vector) == true)
                {
                    found.Add(new VectorRecord(id, includeVectors ? vector.Values ?? [] : ReadOnlyMemory<float>.Empty, Metadata(vector.Metadata)));
                }
            }
        }

        return found;
    }

    public async Task<IReadOnlyList<ScoredRecord>> QueryAsync(VectorQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.TopK <= 0)
        {
            return [];
        }

        var excluded = query.ExcludeIds is { Count: > 0 } ids ? new HashSet<string>(ids, StringComparer.Ordinal) : null;
        var body = new PineconeQuery
        {
            Namespace = _namespace,
            // Pinecone has no "not these ids" filter: ask for enough extra matches to drop them here.
            TopK = Math.Min(query.TopK + (excluded?.Count ?? 0), MaxTopK),
            Vector = query.Vector.ToArray(),
            Filter = PineconeFilterMapper.ToFilter(query.Filter),
            IncludeValues = false,
            IncludeMetadata = true,
        };
        var response = await api.SendAsync(HttpMethod.Post, new Uri(await HostAsync(cancellationToken), "query"),
            PineconeApi.Json(body, PineconeJsonContext.Default.PineconeQuery), PineconeJsonContext.Default.PineconeQueryResponse,
            notFoundIsDefault: false, cancellationToken);
        return (response?.Matches ?? [])
            .Where(m => excluded is null || !excluded.Contains(m.Id))
            .Where(m => query.MinScore is not { } min || m.Score >= min)
            .OrderByDescending(m => m.Score)
            .Take(query.TopK)
            .Select(m => new ScoredRecord(new VectorRecord(m.Id, ReadOnlyMemory<float>.Empty, Metadata(m.Metadata)), m.Score))
            .ToList();
    }

    public async Task<long> CountAsync(CancellationToken cancellationToken)
    {
        var stats = await api.SendAsync(HttpMethod.Post, new Uri(await HostAsync(cancellationToken), "describe_index_stats"),
            PineconeApi.Json("{}"u8.ToArray()), PineconeJsonContext.Default.PineconeIndexStats, notFoundIsDefault: false, cancellationToken);
        var namespaces = stats?.Namespaces ?? [];
        // The default namespace is reported as "" (and as "__default__" by newer API versions).
        var keys = _namespace is null ? new[] { "", "__default__" } : [_namespace];
        return keys.Select(k => namespaces.TryGetValue(k, out var summary) ? summary.VectorCount : 0).Max();
    }

    /// <summary>Non-empty namespaces of the index at <paramref name="host"/> other than this store's.</summary>
    private async Task<List<string>> OtherNamespacesAsync(Uri host, CancellationToken cancellationToken)
    {
        var stats = await api.SendAsync(HttpMethod.Post, new Uri(host, "describe_index_stats"),
            PineconeApi.Json("{}"u8.ToArray()), PineconeJsonContext.Default.PineconeIndexStats, notFoundIsDefault: false, cancellationToken);
        var ours = _namespace is null ? new[] { "", "__default__" } : [_namespace];
        return (stats?.Namespaces ?? []).Where(n => n.Value.VectorCount > 0 && !ours.Contains(n.Key)).Select(n => n.Key.Length == 0 ? "(default)" : n.Key).Order(StringComparer.Ordinal).ToList();
    }

    public async Task<RecordPage> ListAsync(int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var host = await HostAsync(cancellationToken);
        var ids = new List<string>(limit);
        var token = string.IsNullOrEmpty(cursor) ? null : cursor;
        // /vectors/list returns ids in sorted order, at most 100 per call: gather exactly `limit`
        // (asking each call for what is still missing) so the last token is the cursor.
        do
        {
            var query = $"limit={Math.Min(limit - ids.Count, MaxListLimit)}";
            if (_namespace is not null)
            {
                query += "&namespace=" + Uri.EscapeDataString(_namespace);
            }

            if (token is not null)
            {
                query += "&paginationToken=" + Uri.EscapeDataString(token);
            }

            var page = await api.SendAsync(HttpMethod.Get, new Uri(host, "vectors/list?" + query), null,
                PineconeJsonContext.Default.PineconeListResponse, notFoundIsDefault: false, cancellationToken);
            ids.AddRange((page?.Vectors ?? []).Select(v => v.Id));
            token = page?.Pagination?.Next is { Length: > 0 } next ? next : null;
        }
        while (token is not null && ids.Count < limit);

        var records = (await FetchAsync(ids, includeVectors: false, cancellationToken)).ToDictionary(r => r.Id, StringComparer.Ordinal);
        // A vector listed but deleted before the fetch is simply left out.
        var items = ids.Where(records.ContainsKey).Select(id => records[id]).ToList();
        return new RecordPage(items, token);
    }

    public async Task CheckReachableAsync(CancellationToken cancellationToken) =>
        // Describing the index proves the control plane answers and accepts the key; 404 still means reachable.
        await DescribeAsync(Physical, cancellationToken);

    internal static Uri HostUri(string host) =>
        new((host.Contains("://", StringComparison.Ordinal) ? host : "https://" + host).TrimEnd('/') + "/");

    private static Dictionary<string, JsonElement> Metadata(Dictionary<string, JsonElement>? metadata) =>
        metadata is null ? new Dictionary<string, JsonElement>(StringComparer.Ordinal) : new Dictionary<string, JsonElement>(metadata, StringComparer.Ordinal);

    private CollectionDescriptor Remember(PineconeIndexModel index, string modelId)
    {
        // A configured IndexHost is the data-plane host of the configured index; any other index's comes from describing it.
        if ((_options.IndexHost is not { Length: > 0 } || index.Name != _index) && index.Host is { Length: > 0 } host)
        {
            _host = HostUri(host);
        }

        _dimension = index.Dimension ?? 0;
        _physical = index.Name;
        return new CollectionDescriptor(_index, modelId, _dimension);
    }

    private PineconeVectorStore Bound(PineconeIndexModel index, string modelId)
    {
        var store = new PineconeVectorStore(api, storeOptions, pineconeOptions, timeProvider, logger) { _bound = true };
        store.Remember(index, modelId);
        return store;
    }

    private void RequireLogical()
    {
        if (_bound)
        {
            throw PhysicalCollections.NotOnBoundStore(Physical);
        }
    }

    private async Task<PineconeIndexModel> RequireInactiveAsync(string name, CancellationToken cancellationToken)
    {
        RequireLogical();
        ArgumentException.ThrowIfNullOrEmpty(name);
        var indexes = await ListOwnIndexesAsync(cancellationToken);
        var index = indexes.FirstOrDefault(i => i.Name == name)
            ?? throw new ArgumentException($"'{name}' is not an index of '{_index}'.", nameof(name));
        if (index == ActiveOf(indexes))
        {
            throw new InvalidOperationException($"'{name}' is the active index of '{_index}'.");
        }

        return index;
    }

    /// <summary>The index named like the logical one and those a re-index created for it.</summary>
    private async Task<List<PineconeIndexModel>> ListOwnIndexesAsync(CancellationToken cancellationToken)
    {
        var list = await api.SendAsync(HttpMethod.Get, new Uri(_controlPlane, "indexes"), null, PineconeJsonContext.Default.PineconeIndexList, notFoundIsDefault: false, cancellationToken);
        return (list?.Indexes ?? []).Where(i => PhysicalCollections.BelongsTo(i.Name, _index, MaxIndexNameLength)).ToList();
    }

    private PineconeIndexModel? ActiveOf(List<PineconeIndexModel> indexes) =>
        indexes.Where(i => GenerationOf(i) is not null).OrderByDescending(i => GenerationOf(i)).ThenBy(i => i.Name, StringComparer.Ordinal).FirstOrDefault();

    /// <summary>The index's generation tag; the first index (named like the logical one) is generation 0 without one; a re-index's index has none until promoted.</summary>
    private int? GenerationOf(PineconeIndexModel index) =>
        index.Tags?.TryGetValue(GenerationTag, out var tag) == true && int.TryParse(tag, System.Globalization.CultureInfo.InvariantCulture, out var generation)
            ? generation
            : index.Name == _index ? 0 : null;

    private static bool IsStaging(PineconeIndexModel index) => index.Tags?.TryGetValue(StagingTag, out var value) == true && value.Length > 0;

    private Uri IndexUrlOf(string name) => new(_controlPlane, $"indexes/{Uri.EscapeDataString(name)}");

    private async Task<PineconeIndexModel?> DescribeAsync(string name, CancellationToken cancellationToken) =>
        await api.SendAsync(HttpMethod.Get, IndexUrlOf(name), null, PineconeJsonContext.Default.PineconeIndexModel, notFoundIsDefault: true, cancellationToken);

    private async Task DeleteIndexAsync(string name, bool wait, CancellationToken cancellationToken)
    {
        await api.SendAsync<JsonElement>(HttpMethod.Delete, IndexUrlOf(name), null, null, notFoundIsDefault: true, cancellationToken);
        var deadline = timeProvider.GetUtcNow() + _options.IndexReadyTimeout;
        while (wait && await DescribeAsync(name, cancellationToken) is not null)
        {
            if (timeProvider.GetUtcNow() > deadline)
            {
                throw new StoreUnavailableException(PineconeApi.StoreName, $"Index '{name}' was still being deleted after {_options.IndexReadyTimeout}.");
            }

            await Task.Delay(_options.IndexPollInterval, timeProvider, cancellationToken);
        }
    }

    private async Task<PineconeIndexModel> CreateAsync(string name, CollectionDescriptor descriptor, Dictionary<string, string> extraTags, CancellationToken cancellationToken)
    {
        var tags = PineconeModelTag.ToTags(descriptor.ModelId);
        foreach (var (key, value) in extraTags)
        {
            tags[key] = value;
        }

        var create = new PineconeCreateIndex
        {
            Name = name,
            Dimension = descriptor.Dimension,
            Spec = new PineconeIndexSpec { Serverless = new PineconeServerlessSpec { Cloud = _options.Cloud, Region = _options.Region } },
            Tags = tags,
        };
        try
        {
            await api.SendAsync(HttpMethod.Post, new Uri(_controlPlane, "indexes"), PineconeApi.Json(create, PineconeJsonContext.Default.PineconeCreateIndex),
                PineconeJsonContext.Default.PineconeIndexModel, notFoundIsDefault: false, cancellationToken);
            LogCreated(logger, name, descriptor.ModelId, descriptor.Dimension, _options.Cloud, _options.Region);
        }
        catch (StoreRequestException ex) when (ex.ProviderStatusCode == 409)
        {
            // Another replica (or a retried request) created it; wait for it like our own.
        }

        return await WaitUntilReadyAsync(name, cancellationToken);
    }

    private async Task<PineconeIndexModel> WaitUntilReadyAsync(string name, CancellationToken cancellationToken)
    {
        var deadline = timeProvider.GetUtcNow() + _options.IndexReadyTimeout;
        while (true)
        {
            var index = await DescribeAsync(name, cancellationToken);
            if (index?.Status?.Ready == true && index.Host is { Length: > 0 })
            {
                return index;
            }

            if (timeProvider.GetUtcNow() > deadline)
            {
                throw new StoreUnavailableException(PineconeApi.StoreName, $"Index '{name}' was not ready after {_options.IndexReadyTimeout} (state {index?.Status?.State ?? "missing"}).");
            }

            await Task.Delay(_options.IndexPollInterval, timeProvider, cancellationToken);
        }
    }

    private async Task<Uri> HostAsync(CancellationToken cancellationToken)
    {
        if (_host is not null)
        {
            return _host;
        }

        await RequireDimensionAsync(cancellationToken);
        return _host ?? throw new InvalidOperationException($"Pinecone index '{Physical}' has no host yet.");
    }

    private async Task<int> RequireDimensionAsync(CancellationToken cancellationToken)
    {
        if (_dimension > 0)
        {
            return _dimension;
        }

        var index = (_bound ? await DescribeAsync(Physical, cancellationToken) : ActiveOf(await ListOwnIndexesAsync(cancellationToken)))
            ?? throw new InvalidOperationException($"Pinecone index '{_index}' does not exist yet; call EnsureCollectionAsync first.");
        Remember(index, PineconeModelTag.FromTags(index.Tags) ?? "unknown");
        return _dimension;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created Pinecone serverless index {Index} for model {ModelId} ({Dimension}-d, cosine, {Cloud}/{Region})")]
    private static partial void LogCreated(ILogger logger, string index, string modelId, int dimension, string cloud, string region);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pinecone index {Index} had no model tag; recorded model {ModelId} for it")]
    private static partial void LogAdopted(ILogger logger, string index, string modelId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming Pinecone staging index {Index} for model {ModelId}")]
    private static partial void LogStagingResumed(ILogger logger, string index, string modelId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pinecone index {Collection} now points at {Index} (generation {Generation})")]
    private static partial void LogPromoted(ILogger logger, string collection, string index, int generation);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped inactive Pinecone index {Index}")]
    private static partial void LogDropped(ILogger logger, string index);
}
