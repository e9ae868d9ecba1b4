using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// The Local provider's logical collection: which physical collection file is active. Each physical
/// collection is its own <see cref="LocalVectorStore"/> file, <c>vectors/&lt;name&gt;.db</c> for the first
/// one and <c>vectors/&lt;name&gt;--&lt;8 hex&gt;.db</c> for each one a re-index builds. Two small text files
/// beside them, each replaced atomically (write, fsync, rename, fsync the directory), hold the pointers:
/// <c>&lt;name&gt;.active</c> names the active file (absent: the first one) and <c>&lt;name&gt;.staging</c> the
/// one a re-index is filling. Renaming the pointer over the old one is the switch.
/// </summary>
internal sealed partial class LocalVectorCollections : IVectorStore, IDisposable
{
    private const string DatabaseExtension = ".db";

    // SQLite's companions of a database file: the WAL, its shared-memory index and a rollback journal.
    private static readonly string[] DatabaseFileSuffixes = ["", "-wal", "-shm", "-journal"];

    private readonly string _logical;
    private readonly string _directory;
    private readonly string _dataPath;
    private readonly ILogger<LocalVectorStore> _storeLogger;
    private readonly LocalVectorStoreOptions _local;
    private readonly ILogger<LocalVectorCollections> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<LocalVectorStore> _opened = [];
    private readonly Lock _openedGate = new();
    private volatile LocalVectorStore _active;
    private bool _disposed;

    public LocalVectorCollections(IOptions<ServiceOptions> service, IOptions<VectorStoreOptions> options, IOptions<LocalVectorStoreOptions> local, ILogger<LocalVectorStore> storeLogger, ILogger<LocalVectorCollections> logger)
    {
        _local = local.Value;
        _logical = options.Value.Collection;
        _dataPath = service.Value.FullDataPath;
        _directory = Path.Combine(_dataPath, "vectors");
        _storeLogger = storeLogger;
        _logger = logger;
        _active = Track(ReadPointer(ActivePointerPath) ?? _logical);
    }

    public string ProviderName => LocalVectorStore.Name;

    /// <summary>The active collection's SQLite file, for diagnostics and tests.</summary>
    public string DatabasePath => _active.DatabasePath;

    private string ActivePointerPath => Path.Combine(_directory, _logical + ".active");

    private string StagingPointerPath => Path.Combine(_directory, _logical + ".staging");

    public async Task<CollectionDescriptor> EnsureCollectionAsync(CollectionDescriptor wanted, CancellationToken cancellationToken)
    {
        // Ensuring is when a replica looks at the pointer again (CollectionGuard does so every few seconds):
        // after a switch by a re-index in another process it follows to the new file.
        FollowPointer();
        var descriptor = await _active.EnsureCollectionAsync(wanted, cancellationToken);
        return descriptor with { Name = _logical };
    }

    public Task RecreateCollectionAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken) =>
        _active.RecreateCollectionAsync(descriptor, cancellationToken);

    public Task UpsertAsync(IReadOnlyList<VectorRecord> records, CancellationToken cancellationToken) => _active.UpsertAsync(records, cancellationToken);

    public Task DeleteAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken) => _active.DeleteAsync(ids, cancellationToken);

    public Task<IReadOnlyList<VectorRecord>> FetchAsync(IReadOnlyCollection<string> ids, bool includeVectors, CancellationToken cancellationToken) =>
        _active.FetchAsync(ids, includeVectors, cancellationToken);

    public Task<IReadOnlyList<ScoredRecord>> QueryAsync(VectorQuery query, CancellationToken cancellationToken) => _active.QueryAsync(query, cancellationToken);

    public Task<long> CountAsync(CancellationToken cancellationToken) => _active.CountAsync(cancellationToken);

    public Task<RecordPage> ListAsync(int limit, string? cursor, CancellationToken cancellationToken)
    {
        // A process that does not own the data directory (a reindex beside the running service) reads a file
        // another process writes; its in-memory mirror would miss those writes, so each listing from the
        // start reads the file afresh. The owner is the only writer, so its mirror is always current.
        if (cursor is null && !DataDirectoryLock.IsHeldByThisProcess(_dataPath))
        {
            ReloadActive();
        }

        return _active.ListAsync(limit, cursor, cancellationToken);
    }

    public Task CheckReachableAsync(CancellationToken cancellationToken) => _active.CheckReachableAsync(cancellationToken);

    /// <summary>Compacts the active collection's vector segment (see <see cref="LocalVectorStore.CompactAsync"/>); null when it does not exist yet.</summary>
    public Task<SegmentCompaction?> CompactAsync(CancellationToken cancellationToken)
    {
        FollowPointer();
        return _active.CompactAsync(cancellationToken);
    }

    public async Task<IVectorStore> OpenStagingAsync(CollectionDescriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var active = ReadPointer(ActivePointerPath) ?? _logical;
            if (ReadPointer(StagingPointerPath) is { } name && name != active && File.Exists(DatabaseFile(name)))
            {
                var existing = Track(name);
                var held = Durable(existing.ReadDescriptor);
                if (held is not null && held.ModelId == descriptor.ModelId && held.Dimension == descriptor.Dimension)
                {
                    LogStagingResumed(_logger, name, held.ModelId, (int)await existing.CountAsync(cancellationToken));
                    return existing;
                }

                DropFiles(name);
            }

            var staging = PhysicalCollections.NewName(_logical);
            // Pointer first: a crash right after leaves a pointer to a file that does not exist yet, which
            // the next attempt replaces; never a file that nothing names.
            Durable(() => DurableFiles.ReplaceText(StagingPointerPath, staging));
            var store = Track(staging);
            await store.EnsureCollectionAsync(descriptor with { Name = staging }, cancellationToken);
            LogStagingCreated(_logger, staging, descriptor.ModelId, descriptor.Dimension);
            return store;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task PromoteStagingAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var staging = ReadPointer(StagingPointerPath);
            if (staging is null || staging == (ReadPointer(ActivePointerPath) ?? _logical) || !File.Exists(DatabaseFile(staging)))
            {
                throw new InvalidOperationException($"Local collection '{_logical}' has no staging collection to promote.");
            }

            // The commit point: one rename. Then the staging pointer goes; a crash in between leaves it
            // naming the active file, which every reader treats as "no staging".
            Durable(() => DurableFiles.ReplaceText(ActivePointerPath, staging));
            Durable(() =>
            {
                File.Delete(StagingPointerPath);
                DurableFiles.FlushDirectory(_directory);
            });
            LogPromoted(_logger, _logical, staging);
            FollowPointer();
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<IReadOnlyList<InactiveCollectionInfo>> ListInactiveAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!Directory.Exists(_directory))
            {
                return [];
            }

            var active = ReadPointer(ActivePointerPath) ?? _logical;
            var staging = ReadPointer(StagingPointerPath);
            var inactive = new List<InactiveCollectionInfo>();
            foreach (var file in Directory.EnumerateFiles(_directory, "*" + DatabaseExtension).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileNameWithoutExtension(file);
                if (name == active || !PhysicalCollections.BelongsTo(name, _logical))
                {
                    continue;
                }

                using var store = new LocalVectorStore(name, file, _local, _storeLogger, Maintains);
                var descriptor = Durable(store.ReadDescriptor);
                inactive.Add(new InactiveCollectionInfo(
                    name,
                    name == staging ? CollectionRole.Staging : CollectionRole.Retired,
                    new CollectionDescriptor(_logical, descriptor?.ModelId ?? "unknown", descriptor?.Dimension ?? 0)));
            }

            return inactive;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<IVectorStore> OpenInactiveAsync(string name, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            RequireInactive(name);
            return Track(name);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task DropInactiveAsync(string name, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            RequireInactive(name);
            DropFiles(name);
            LogDropped(_logger, name);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        lock (_openedGate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var store in _opened)
            {
                store.Dispose();
            }

            _opened.Clear();
        }

        _gate.Dispose();
    }

    private void RequireInactive(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!PhysicalCollections.BelongsTo(name, _logical) || !File.Exists(DatabaseFile(name)))
        {
            throw new ArgumentException($"'{name}' is not a collection of '{_logical}'.", nameof(name));
        }

        if (name == (ReadPointer(ActivePointerPath) ?? _logical))
        {
            throw new InvalidOperationException($"'{name}' is the active collection of '{_logical}'.");
        }
    }

    private void FollowPointer()
    {
        var name = ReadPointer(ActivePointerPath) ?? _logical;
        var current = _active;
        if (name == Path.GetFileNameWithoutExtension(current.DatabasePath))
        {
            return;
        }

        lock (_openedGate)
        {
            if (_active != current)
            {
                return;
            }

            // The previous instance stays open (and is disposed with this one): a call that picked it up a
            // moment ago finishes on it. The switch is rare; a replica on the old model is restarted anyway.
            _active = TrackLocked(name);
        }

        LogFollowed(_logger, _logical, name);
    }

    private void ReloadActive()
    {
        LocalVectorStore previous;
        lock (_openedGate)
        {
            previous = _active;
            _active = TrackLocked(ReadPointer(ActivePointerPath) ?? _logical);
            _opened.Remove(previous);
        }

        previous.Dispose();
    }

    private void DropFiles(string name)
    {
        lock (_openedGate)
        {
            foreach (var store in _opened.Where(s => s.DatabasePath == DatabaseFile(name)).ToList())
            {
                store.Dispose();
                _opened.Remove(store);
            }
        }

        Durable(() =>
        {
            foreach (var suffix in DatabaseFileSuffixes)
            {
                File.Delete(DatabaseFile(name) + suffix);
            }

            // The store's snapshot of memory beside the database (and a write of it cut short), the vector
            // segment, and what a compaction that stopped left of either.
            File.Delete(LocalVectorFile.PathFor(DatabaseFile(name)));
            File.Delete(LocalVectorFile.PathFor(DatabaseFile(name)) + ".tmp");
            File.Delete(LocalVectorFile.CompactedPathFor(LocalVectorFile.PathFor(DatabaseFile(name))));
            File.Delete(LocalVectorSegment.PathFor(DatabaseFile(name)));
            File.Delete(LocalVectorSegment.CompactedPathFor(LocalVectorSegment.PathFor(DatabaseFile(name))));

            if (ReadPointer(StagingPointerPath) == name)
            {
                File.Delete(StagingPointerPath);
            }

            DurableFiles.FlushDirectory(_directory);
        });
    }

    private LocalVectorStore Track(string name)
    {
        lock (_openedGate)
        {
            return TrackLocked(name);
        }
    }

    private LocalVectorStore TrackLocked(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var store = new LocalVectorStore(name, DatabaseFile(name), _local, _storeLogger, Maintains);
        _opened.Add(store);
        return store;
    }

    /// <summary>Only the data directory's writer (the service, a writing command) compacts; a reindex or search beside it reads.</summary>
    private bool Maintains() => DataDirectoryLock.IsHeldByThisProcess(_dataPath);

    private string DatabaseFile(string name) => Path.Combine(_directory, name + DatabaseExtension);

    private string? ReadPointer(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StoreUnavailableException(LocalVectorStore.Name, $"{path}: {ex.Message}", ex);
        }

        if (!PhysicalCollections.BelongsTo(text, _logical))
        {
            throw new StoreUnavailableException(LocalVectorStore.Name, $"{path} names '{text}', which is not a collection of '{_logical}'.");
        }

        return text;
    }

    private static void Durable(Action action) => Durable(() =>
    {
        action();
        return true;
    });

    private static T Durable<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StoreUnavailableException(LocalVectorStore.Name, ex.Message, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created staging collection {Name} for model {ModelId} ({Dimension}-d)")]
    private static partial void LogStagingCreated(ILogger logger, string name, string modelId, int dimension);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming staging collection {Name} for model {ModelId} with {Count} records")]
    private static partial void LogStagingResumed(ILogger logger, string name, string modelId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Collection {Collection} now points at {Name}")]
    private static partial void LogPromoted(ILogger logger, string collection, string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Collection {Collection} now reads and writes {Name}, which its pointer names")]
    private static partial void LogFollowed(ILogger logger, string collection, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped inactive collection {Name}")]
    private static partial void LogDropped(ILogger logger, string name);
}
