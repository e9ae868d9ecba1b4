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
    private const int MaxIdsPerFetch = 100; // ids travel in the query string
    private const int MaxIdsPerDelete = 1000;
    private const int MaxListLimit = 100;

    private readonly PineconeOptions _options = pineconeOptions.Value;
    private readonly string _index = pineconeOptions.Value.IndexName is { Length: > 0 } name ? name : storeOptions.Value.Collection;
    private readonly string? _namespace = storeOptions.Value.Namespace is { Length: > 0 } ns ? ns : null;
    private readonly Uri _controlPlane = new(pineconeOptions.Value.ControlPlaneUrl.TrimEnd('/') + "/");
    private Uri? _host = pineconeOptions.Value.IndexHost is { Length: > 0 } host ? HostUri(host) : null;
    private int _dimension;

    public string ProviderName => nameof(VectorStoreProvider.Pinecone);

    private Uri IndexUrl => new(_controlPlane, $"indexes/{Uri.EscapeDataString(_index)}");

    public async Task<CollectionDescriptor> EnsureCollectionAsync(CollectionDescriptor wanted, CancellationToken cancellationToken)
    {
        var index = await DescribeAsync(cancellationToken);
        if (index is null)
        {
            index = await CreateAsync(wanted, cancellationToken);
            return Remember(index, wanted.ModelId);
        }

        if (!string.Equals(index.Metric, "cosine", StringComparison.OrdinalIgnoreCase))
        {
            throw new StoreRequestException(PineconeApi.StoreName, 409,
                $"Index '{_index}' uses the {index.Metric} metric; this service searches by cosine. Use another index name or re-index into a new one.");
        }

        if (!index.Status?.Ready ?? true)
        {
            index = await WaitUntilReadyAsync(cancellationToken);
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

            await api.SendAsync(HttpMethod.Patch, IndexUrl, PineconeApi.Json(new PineconeConfigureIndex { Tags = tags }, PineconeJsonContext.Default.PineconeConfigureIndex),
                PineconeJsonContext.Default.PineconeIndexModel, notFoundIsDefault: false, cancellationToken);
            LogAdopted(logger, _index, wanted.ModelId);
            model = wanted.ModelId;
        }

        return Remember(index, model ?? "unknown");
    }

    public async Task RecreateCollectionAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        // The dimension may change, and the model tag is per index: drop the whole index.
        await api.SendAsync<JsonElement>(HttpMethod.Delete, IndexUrl, null, null, notFoundIsDefault: true, cancellationToken);
        var deadline = timeProvider.GetUtcNow() + _options.IndexReadyTimeout;
        while (await DescribeAsync(cancellationToken) is not null)
        {
            if (timeProvider.GetUtcNow() > deadline)
            {
                throw new StoreUnavailableException(PineconeApi.StoreName, $"Index '{_index}' was still being deleted after {_options.IndexReadyTimeout}.");
            }

            await Task.Delay(_options.IndexPollInterval, timeProvider, cancellationToken);
        }

        var index = await CreateAsync(descriptor, cancellationToken);
        Remember(index, descriptor.ModelId);
    }

    public async Task UpsertAsync(IReadOnlyList<VectorRecord> records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return;
        }

        var dimension = await RequireDimensionAsync(cancellationToken);
        VectorRecordBatch.Validate(records, dimension, _index);

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
        await DescribeAsync(cancellationToken);

    internal static Uri HostUri(string host) =>
        new((host.Contains("://", StringComparison.Ordinal) ? host : "https://" + host).TrimEnd('/') + "/");

    private static Dictionary<string, JsonElement> Metadata(Dictionary<string, JsonElement>? metadata) =>
        metadata is null ? new Dictionary<string, JsonElement>(StringComparer.Ordinal) : new Dictionary<string, JsonElement>(metadata, StringComparer.Ordinal);

    private CollectionDescriptor Remember(PineconeIndexModel index, string modelId)
    {
        if (_options.IndexHost is not { Length: > 0 } && index.Host is { Length: > 0 } host)
        {
            _host = HostUri(host);
        }

        _dimension = index.Dimension ?? 0;
        return new CollectionDescriptor(_index, modelId, _dimension);
    }

    private async Task<PineconeIndexModel?> DescribeAsync(CancellationToken cancellationToken) =>
        await api.SendAsync(HttpMethod.Get, IndexUrl, null, PineconeJsonContext.Default.PineconeIndexModel, notFoundIsDefault: true, cancellationToken);

    private async Task<PineconeIndexModel> CreateAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        var create = new PineconeCreateIndex
        {
            Name = _index,
            Dimension = descriptor.Dimension,
            Spec = new PineconeIndexSpec { Serverless = new PineconeServerlessSpec { Cloud = _options.Cloud, Region = _options.Region } },
            Tags = PineconeModelTag.ToTags(descriptor.ModelId),
        };
        try
        {
            await api.SendAsync(HttpMethod.Post, new Uri(_controlPlane, "indexes"), PineconeApi.Json(create, PineconeJsonContext.Default.PineconeCreateIndex),
                PineconeJsonContext.Default.PineconeIndexModel, notFoundIsDefault: false, cancellationToken);
            LogCreated(logger, _index, descriptor.ModelId, descriptor.Dimension, _options.Cloud, _options.Region);
        }
        catch (StoreRequestException ex) when (ex.ProviderStatusCode == 409)
        {
            // Another replica (or a retried request) created it; wait for it like our own.
        }

        return await WaitUntilReadyAsync(cancellationToken);
    }

    private async Task<PineconeIndexModel> WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var deadline = timeProvider.GetUtcNow() + _options.IndexReadyTimeout;
        while (true)
        {
            var index = await DescribeAsync(cancellationToken);
            if (index?.Status?.Ready == true && index.Host is { Length: > 0 })
            {
                return index;
            }

            if (timeProvider.GetUtcNow() > deadline)
            {
                throw new StoreUnavailableException(PineconeApi.StoreName, $"Index '{_index}' was not ready after {_options.IndexReadyTimeout} (state {index?.Status?.State ?? "missing"}).");
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
        return _host ?? throw new InvalidOperationException($"Pinecone index '{_index}' has no host yet.");
    }

    private async Task<int> RequireDimensionAsync(CancellationToken cancellationToken)
    {
        if (_dimension > 0)
        {
            return _dimension;
        }

        var index = await DescribeAsync(cancellationToken)
            ?? throw new InvalidOperationException($"Pinecone index '{_index}' does not exist yet; call EnsureCollectionAsync first.");
        Remember(index, PineconeModelTag.FromTags(index.Tags) ?? "unknown");
        return _dimension;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created Pinecone serverless index {Index} for model {ModelId} ({Dimension}-d, cosine, {Cloud}/{Region})")]
    private static partial void LogCreated(ILogger logger, string index, string modelId, int dimension, string cloud, string region);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pinecone index {Index} had no model tag; recorded model {ModelId} for it")]
    private static partial void LogAdopted(ILogger logger, string index, string modelId);
}
