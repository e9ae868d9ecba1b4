using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// The embedded default store: rows are durable in SQLite at <c>&lt;DataPath&gt;/vectors/&lt;collection&gt;.db</c>
/// and mirrored in memory for an exact SIMD cosine scan. Writes go to SQLite first (one transaction
/// per batch), then to memory, under an exclusive lock; queries share a read lock.
/// </summary>
internal sealed partial class LocalVectorStore : IVectorStore, IDisposable
{
    public const string Name = "Local";

    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly Lock _openGate = new();
    private readonly string _collection;
    private readonly string _path;
    private readonly ILogger<LocalVectorStore> _logger;
    private LocalVectorDatabase? _database;
    private CollectionDescriptor? _descriptor;
    private LocalVectorIndex? _index;
    private volatile bool _opened;
    private bool _disposed;

    public LocalVectorStore(IOptions<ServiceOptions> service, IOptions<VectorStoreOptions> options, ILogger<LocalVectorStore> logger)
        : this(options.Value.Collection, Path.Combine(service.Value.FullDataPath, "vectors", options.Value.Collection + ".db"), logger)
    {
    }

    /// <summary>A store on one physical collection's file (see <see cref="LocalVectorCollections"/>).</summary>
    internal LocalVectorStore(string collection, string path, ILogger<LocalVectorStore> logger)
    {
        _collection = collection;
        _path = path;
        _logger = logger;
    }

    public string ProviderName => Name;

    /// <summary>The SQLite file, for diagnostics and tests.</summary>
    public string DatabasePath => _path;

    public Task<CollectionDescriptor> EnsureCollectionAsync(CollectionDescriptor wanted, CancellationToken cancellationToken)
    {
        ValidateDescriptor(wanted);
        cancellationToken.ThrowIfCancellationRequested();
        var database = Open();
        _lock.EnterWriteLock();
        try
        {
            if (_descriptor is null)
            {
                var created = wanted with { Name = _collection };
                Durable(() => database.WriteDescriptor(created, dropRecords: false));
                _descriptor = created;
                _index = new LocalVectorIndex(created.Dimension);
                LogCollectionCreated(_logger, _collection, created.ModelId, created.Dimension, _path);
            }

            return Task.FromResult(_descriptor);
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public Task RecreateCollectionAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        ValidateDescriptor(descriptor);
        cancellationToken.ThrowIfCancellationRequested();
        var database = Open();
        _lock.EnterWriteLock();
        try
        {
            var created = descriptor with { Name = _collection };
            var dropped = _index?.Count ?? 0;
            Durable(() => database.WriteDescriptor(created, dropRecords: true));
            _descriptor = created;
            _index = new LocalVectorIndex(created.Dimension);
            LogCollectionRecreated(_logger, _collection, dropped, created.ModelId, created.Dimension);
            return Task.CompletedTask;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public Task UpsertAsync(IReadOnlyList<VectorRecord> records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        cancellationToken.ThrowIfCancellationRequested();
        if (records.Count == 0)
        {
            return Task.CompletedTask;
        }

        var database = Open();
        _lock.EnterWriteLock();
        try
        {
            var index = RequireIndex();
            var rows = new List<(string Id, byte[] Vector, string Metadata)>(records.Count);
            var unitVectors = new List<float[]>(records.Count);
            VectorRecordBatch.Validate(records, index.Dimension, _collection);
            foreach (var record in records)
            {
                MetadataJson.Validate(record.Id, record.Metadata);
                var unit = LocalVectorIndex.Normalize(record.Vector.Span, $"The vector of record '{record.Id}'");
                unitVectors.Add(unit);
                rows.Add((record.Id, LocalVectorIndex.ToBlob(unit), MetadataJson.Serialize(record.Metadata)));
            }

            Durable(() => database.Upsert(rows));

            // Re-parse what was stored, so memory holds exactly the durable state and no JsonElement
            // of the caller's (whose document the caller may dispose) is kept.
            for (var i = 0; i < rows.Count; i++)
            {
                index.Upsert(rows[i].Id, unitVectors[i], MetadataJson.Parse(rows[i].Metadata));
            }

            return Task.CompletedTask;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public Task DeleteAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        cancellationToken.ThrowIfCancellationRequested();
        if (ids.Count == 0)
        {
            return Task.CompletedTask;
        }

        var database = Open();
        _lock.EnterWriteLock();
        try
        {
            var index = _index;
            if (index is null)
            {
                return Task.CompletedTask;
            }

            var present = ids.Where(index.Contains).Distinct(StringComparer.Ordinal).ToList();
            if (present.Count == 0)
            {
                return Task.CompletedTask;
            }

            Durable(() => database.Delete(present));
            foreach (var id in present)
            {
                index.Remove(id);
            }

            return Task.CompletedTask;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public Task<IReadOnlyList<VectorRecord>> FetchAsync(IReadOnlyCollection<string> ids, bool includeVectors, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        cancellationToken.ThrowIfCancellationRequested();
        Open();
        _lock.EnterReadLock();
        try
        {
            var found = new List<VectorRecord>(ids.Count);
            if (_index is { } index)
            {
                foreach (var id in ids.Distinct(StringComparer.Ordinal))
                {
                    if (index.Get(id, includeVectors) is { } record)
                    {
                        found.Add(record);
                    }
                }
            }

            return Task.FromResult<IReadOnlyList<VectorRecord>>(found);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public Task<IReadOnlyList<ScoredRecord>> QueryAsync(VectorQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.TopK, 1, nameof(query));
        cancellationToken.ThrowIfCancellationRequested();
        Open();
        _lock.EnterReadLock();
        try
        {
            if (_index is not { } index)
            {
                return Task.FromResult<IReadOnlyList<ScoredRecord>>([]);
            }

            if (query.Vector.Length != index.Dimension)
            {
                throw new ArgumentException(
                    $"The query vector has {query.Vector.Length} dimensions but collection '{_collection}' holds {index.Dimension}-d vectors.",
                    nameof(query));
            }

            var unit = LocalVectorIndex.Normalize(query.Vector.Span, "The query vector");
            var results = index.Search(unit, query.TopK, query.Filter, query.MinScore, query.ExcludeIds);
            return Task.FromResult<IReadOnlyList<ScoredRecord>>(results);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public Task<long> CountAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Open();
        _lock.EnterReadLock();
        try
        {
            return Task.FromResult((long)(_index?.Count ?? 0));
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public Task<RecordPage> ListAsync(int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        cancellationToken.ThrowIfCancellationRequested();
        var after = cursor is null ? null : DecodeCursor(cursor);
        var database = Open();
        _lock.EnterReadLock();
        try
        {
            if (_index is not { } index)
            {
                return Task.FromResult(new RecordPage([], null));
            }

            // One extra id says whether another page exists, so the last page carries no cursor.
            var ids = Durable(() => database.ListIds(after, limit + 1));
            var more = ids.Count > limit;
            var items = new List<VectorRecord>(Math.Min(ids.Count, limit));
            foreach (var id in ids.Take(limit))
            {
                if (index.GetMetadata(id) is { } metadata)
                {
                    items.Add(new VectorRecord(id, ReadOnlyMemory<float>.Empty, metadata));
                }
            }

            var next = more ? EncodeCursor(ids[limit - 1]) : null;
            return Task.FromResult(new RecordPage(items, next));
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public Task CheckReachableAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Open().Ping();
        return Task.CompletedTask;
    }

    /// <summary>The descriptor the file holds, or null when the collection was never created; creates nothing.</summary>
    internal CollectionDescriptor? ReadDescriptor()
    {
        Open();
        return _descriptor;
    }

    // This class is one physical collection; LocalVectorCollections owns the pointer between them.
    public Task<IVectorStore> OpenStagingAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken) => throw PhysicalCollections.NotOnBoundStore(_collection);

    public Task PromoteStagingAsync(CancellationToken cancellationToken) => throw PhysicalCollections.NotOnBoundStore(_collection);

    public Task<IReadOnlyList<InactiveCollectionInfo>> ListInactiveAsync(CancellationToken cancellationToken) => throw PhysicalCollections.NotOnBoundStore(_collection);

    public Task<IVectorStore> OpenInactiveAsync(string name, CancellationToken cancellationToken) => throw PhysicalCollections.NotOnBoundStore(_collection);

    public Task DropInactiveAsync(string name, CancellationToken cancellationToken) => throw PhysicalCollections.NotOnBoundStore(_collection);

    public void Dispose()
    {
        lock (_openGate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _database?.Dispose();
            _database = null;
        }

        _lock.Dispose();
    }

    internal static string EncodeCursor(string lastId) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(lastId));

    internal static string DecodeCursor(string cursor)
    {
        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
        }
        catch (FormatException ex)
        {
            throw new InvalidCursorException(ex);
        }
    }

    /// <summary>
    /// Opens the file and loads every row into memory on first use, so start-up does not wait for it
    /// and a store that is never used never touches the disk.
    /// </summary>
    private LocalVectorDatabase Open()
    {
        if (_opened)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _database!;
        }

        lock (_openGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_opened)
            {
                return _database!;
            }

            var clock = Stopwatch.StartNew();
            var database = Durable(() => LocalVectorDatabase.Open(_path));
            try
            {
                var descriptor = Durable(database.ReadDescriptor);
                LocalVectorIndex? index = null;
                if (descriptor is not null)
                {
                    index = new LocalVectorIndex(descriptor.Dimension);
                    var loaded = index;
                    Durable(() => database.ReadAll(descriptor.Dimension, (id, vector, metadata) => loaded.Upsert(id, vector, MetadataJson.Parse(metadata))));
                }

                _database = database;
                _descriptor = descriptor;
                _index = index;
                _opened = true;
                LogOpened(_logger, _path, index?.Count ?? 0, descriptor?.ModelId ?? "(none)", clock.ElapsedMilliseconds);
                return database;
            }
            catch
            {
                database.Dispose();
                throw;
            }
        }
    }

    private LocalVectorIndex RequireIndex() =>
        _index ?? throw new InvalidOperationException($"Collection '{_collection}' does not exist yet; call EnsureCollectionAsync first.");

    private static void ValidateDescriptor(CollectionDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentException.ThrowIfNullOrWhiteSpace(descriptor.ModelId, nameof(descriptor));
        ArgumentOutOfRangeException.ThrowIfLessThan(descriptor.Dimension, 1, nameof(descriptor));
    }

    private void Durable(Action write) => Durable(() =>
    {
        write();
        return true;
    });

    /// <summary>A failing disk is a store outage to callers (503), not a bug in their request.</summary>
    private T Durable<T>(Func<T> operation)
    {
        try
        {
            return operation();
        }
        catch (SqliteException ex)
        {
            LogSqliteFailed(_logger, _path, ex.SqliteErrorCode, ex.Message);
            throw new StoreUnavailableException(Name, $"SQLite error {ex.SqliteErrorCode} on {_path}: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new StoreUnavailableException(Name, $"{_path}: {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new StoreUnavailableException(Name, $"{_path}: {ex.Message}", ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Opened Local vector store {Path}: {Count} vectors of model {ModelId} loaded in {ElapsedMs} ms")]
    private static partial void LogOpened(ILogger logger, string path, int count, string modelId, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created collection {Collection} for model {ModelId} ({Dimension}-d) at {Path}")]
    private static partial void LogCollectionCreated(ILogger logger, string collection, string modelId, int dimension, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recreated collection {Collection}: dropped {Dropped} vectors, now model {ModelId} ({Dimension}-d)")]
    private static partial void LogCollectionRecreated(ILogger logger, string collection, int dropped, string modelId, int dimension);

    [LoggerMessage(Level = LogLevel.Error, Message = "SQLite failed on {Path} (error {Code}): {Reason}")]
    private static partial void LogSqliteFailed(ILogger logger, string path, int code, string reason);
}
