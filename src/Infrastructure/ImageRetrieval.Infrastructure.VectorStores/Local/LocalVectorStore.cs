using System.Buffers.Text;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.SharedKernel;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// The embedded default store: rows are durable in SQLite at <c>&lt;DataPath&gt;/vectors/&lt;collection&gt;.db</c>
/// and mirrored in memory for the scan (4-bit or int8 codes with fp32 re-scoring, or exact fp32; see
/// <see cref="LocalVectorStoreOptions"/>). Writes go to SQLite first (one transaction per batch), then
/// to memory, under an exclusive lock; queries share a read lock. On close memory is written to a
/// snapshot (<c>&lt;collection&gt;.vec</c>) that the next open reads in one pass and brings up to date
/// from SQLite; a missing, torn or stale snapshot is rebuilt from SQLite.
/// </summary>
internal sealed partial class LocalVectorStore : IVectorStore, IDisposable
{
    public const string Name = "Local";

    /// <summary>Batches at least this large are prepared on all cores (below it the hand-off costs more than it saves).</summary>
    private const int ParallelPrepareRows = 64;

    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);

    // Writers take this before the exclusive lock, and a compaction holds it while it brings over what
    // changed during its copy, commits and switches: a writer waiting here does not hold up queries, as one
    // waiting for the exclusive lock would.
    private readonly SemaphoreSlim _writers = new(1, 1);
    private readonly SemaphoreSlim _compaction = new(1, 1);
    private readonly CancellationTokenSource _closing = new();
    private int _compacting;
    private string? _faulted;
    private readonly Lock _openGate = new();
    private readonly string _collection;
    private readonly string _path;
    private readonly ILogger<LocalVectorStore> _logger;
    private readonly LocalVectorStoreOptions _local;

    // Whether this process may rewrite the collection's files (compact, finish a compaction a stop left):
    // only the one writer of the data directory; a reader beside it (reindex, search) must not.
    private readonly Func<bool> _maintains;
    private LocalVectorDatabase? _database;
    private CollectionDescriptor? _descriptor;
    private LocalVectorIndex? _index;
    private Guid _epoch;
    private long _sequence;
    private long _snapshotSequence = -1;
    private float[]? _batchVectors;
    private sbyte[]? _batchCodes;
    private volatile bool _opened;
    private bool _disposed;

    public LocalVectorStore(IOptions<ServiceOptions> service, IOptions<VectorStoreOptions> options, IOptions<LocalVectorStoreOptions> local, ILogger<LocalVectorStore> logger)
        : this(options.Value.Collection, Path.Combine(service.Value.FullDataPath, "vectors", options.Value.Collection + ".db"), local.Value, logger)
    {
    }

    /// <summary>A store on one physical collection's file (see <see cref="LocalVectorCollections"/>).</summary>
    /// <param name="maintains">Whether this process may compact the files (default: yes, it is their only user).</param>
    internal LocalVectorStore(string collection, string path, LocalVectorStoreOptions local, ILogger<LocalVectorStore> logger, Func<bool>? maintains = null)
    {
        _collection = collection;
        _path = path;
        _local = local;
        _logger = logger;
        _maintains = maintains ?? (static () => true);
    }

    public string ProviderName => Name;

    /// <summary>The SQLite file, for diagnostics and tests.</summary>
    public string DatabasePath => _path;

    /// <summary>The snapshot of memory beside it.</summary>
    public string VectorFilePath => LocalVectorFile.PathFor(_path);

    /// <summary>How the last open filled memory: "empty", "snapshot", "snapshot+replay" or "rebuild: &lt;reason&gt;" (for tests and logs).</summary>
    internal string? LoadedFrom { get; private set; }

    /// <summary>The last compaction started in the background (for tests), or null.</summary>
    internal Task? BackgroundCompaction { get; private set; }

    /// <summary>Called at each durable step of a compaction ("copied", "committed", "switched"), so tests can stop one there as a crash would.</summary>
    internal Action<string>? OnCompactionStep { get; set; }

    /// <summary>Called during the first open ("segment-opened": the state read and its segment opened, the rows not yet), so tests can let another process act there.</summary>
    internal Action<string>? OnOpenStep { get; set; }

    /// <summary>Called during the first open with each attempt's number once it has read the state and before it opens that state's segment (see <see cref="LocalVectorDatabase.ReadConsistent"/>).</summary>
    internal Action<int>? OnOpenStateRead { get; set; }

    /// <summary>Called with each block's number as an upsert's batch prepares it, and with -1 just before its commit, on whichever thread does (tests make one fail there as a disk would).</summary>
    internal Action<int>? OnBatchBlock { get; set; }

    /// <summary>True when queries rank by codes (a quantized kind, and enough rows to calibrate).</summary>
    internal bool UsesQuantizedScan
    {
        get
        {
            Open();
            EnterRead();
            try
            {
                return _index?.UsesCodes ?? false;
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    public Task<CollectionDescriptor> EnsureCollectionAsync(CollectionDescriptor wanted, CancellationToken cancellationToken)
    {
        ValidateDescriptor(wanted);
        cancellationToken.ThrowIfCancellationRequested();
        var database = Open();
        using var writer = EnterWriter(cancellationToken);
        EnterWrite();
        try
        {
            if (_descriptor is null)
            {
                var created = wanted with { Name = _collection };
                var state = Durable(() => database.WriteDescriptor(created, dropRecords: false));
                Durable(() => database.OpenSegment(state, _maintains()));
                _descriptor = created;
                _epoch = state.Epoch;
                _sequence = state.Sequence;
                _index = NewIndex(database, created.Dimension, 0);
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
        using var writer = EnterWriter(cancellationToken);
        EnterWrite();
        try
        {
            var created = descriptor with { Name = _collection };
            var dropped = _index?.Count ?? 0;
            var state = Durable(() => database.WriteDescriptor(created, dropRecords: true));

            // Committed first: a crash before the segment is emptied leaves one of an earlier epoch, which the next open starts afresh.
            Durable(() => database.OpenSegment(state, _maintains()));
            _descriptor = created;
            _epoch = state.Epoch;
            _sequence = state.Sequence;
            _snapshotSequence = -1;
            _index = NewIndex(database, created.Dimension, 0);

            // The old snapshot belongs to the previous epoch and would be ignored; removing it frees the disk now.
            Durable(() => File.Delete(VectorFilePath));
            Durable(() => File.Delete(LocalVectorFile.CompactedPathFor(VectorFilePath)));
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
        return WriteBatch(records.Count, database =>
        {
            var index = RequireIndex();
            VectorRecordBatch.Validate(records, index.Dimension, _collection);
            var batch = NewBatch(records, HasDistinctIds(records), index, database.Segment);
            var committed = false;
            try
            {
                // Memory takes the batch beside the commit (see PreparedBatch.ApplyBesideCommit); it keeps the
                // stored bytes, not the caller's JsonElements (whose document the caller may dispose).
                _sequence = Durable(() => database.Upsert(batch, batch.ApplyBesideCommit)).Sequence;
                committed = true;
                batch.FinishApply();
                index.CalibrateWhenDue();
            }
            catch
            {
                if (!committed)
                {
                    batch.RevertApply();
                }

                throw;
            }
            finally
            {
                batch.Stop();
            }
        }, cancellationToken);
    }

    public Task DeleteAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return WriteBatch(ids.Count, database =>
        {
            if (_index is not { } index || ids.Where(index.Contains).Distinct(StringComparer.Ordinal).ToList() is not { Count: > 0 } present)
            {
                return;
            }

            _sequence = Durable(() => database.Delete(present.Select(id => (id, index.SlotOf(id))).ToList()));
            foreach (var id in present)
            {
                index.Remove(id);
            }
        }, cancellationToken);
    }

    public Task<IReadOnlyList<VectorRecord>> FetchAsync(IReadOnlyCollection<string> ids, bool includeVectors, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        cancellationToken.ThrowIfCancellationRequested();
        Open();
        EnterRead();
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
        EnterRead();
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
        EnterRead();
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
        EnterRead();
        try
        {
            if (_index is not { } index)
            {
                return Task.FromResult(new RecordPage([], null));
            }

            // One extra id says whether another page exists, so the last page carries no cursor.
            var ids = index.ListIds(after, limit + 1);
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

            // A compaction still copying stops; one past its commit finishes its switch first (it holds the
            // lock that the exclusive one below waits for).
            _closing.Cancel();

            // Memory reads its vectors from a map of the segment that closing the database unmaps: no
            // reader may be inside the index then, so it happens under the exclusive lock, and a reader
            // that gets the lock afterwards finds the store disposed (see EnterRead).
            _lock.EnterWriteLock();
            try
            {
                if (_database is { } database)
                {
                    WriteSnapshot(database);
                }

                _database?.Dispose();
                _database = null;
                _index = null;
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }

        _lock.Dispose();
        _writers.Dispose();
        _compaction.Dispose();
        _closing.Dispose();
    }

    /// <summary>
    /// Copies the live vectors of the segment into a new file and switches to it, so the slots of
    /// overwritten and deleted rows no longer take disk (nor page cache). Crash-safe: the new file is
    /// durable before the one SQLite transaction that renumbers the rows commits, and a stop at any point
    /// leaves the old state or the new one (a later open finishes the file switch or removes a file no
    /// commit named). The copy of the vectors and of the rows (into a renumbered table) runs beside
    /// queries and writes; writes then wait only while what they changed meanwhile is brought over (the
    /// rows written since are appended, the slots of those deleted since stay dead in the new file), the
    /// commit and the switch, and queries only for the switch (an O(rows) renumbering of memory). Honours
    /// <paramref name="cancellationToken"/> between steps up to the commit. Returns null when the
    /// collection does not exist.
    /// </summary>
    internal Task<SegmentCompaction?> CompactAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Compact(cancellationToken));
    }

    private SegmentCompaction? Compact(CancellationToken cancellationToken)
    {
        if (!_maintains())
        {
            throw new InvalidOperationException($"{_path} is written by another process (this one does not hold the data directory's writer lock); only that one compacts it.");
        }

        var database = Open();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        var token = cancel.Token;

        // One at a time: a compaction works on one new file and one new table.
        _compaction.Wait(token);
        try
        {
            return Compact(database, token);
        }
        finally
        {
            _compaction.Release();
        }
    }

    private SegmentCompaction? Compact(LocalVectorDatabase database, CancellationToken token)
    {
        LocalVectorIndex index;
        Guid epochBefore;
        EnterRead();
        try
        {
            if (_index is null || _descriptor is null)
            {
                return null;
            }

            (index, epochBefore) = (_index, _epoch);
        }
        finally
        {
            _lock.ExitReadLock();
        }

        var clock = Stopwatch.StartNew();
        var segment = database.Segment;
        var rowBytes = (long)index.Dimension * sizeof(float);
        var (live, before) = Durable(database.ReadLiveSlots);
        if (live.Length == before)
        {
            return new SegmentCompaction(_collection, live.Length, before, before, before * rowBytes, before * rowBytes, clock.Elapsed);
        }

        var epoch = Guid.NewGuid();
        var (copy, prepare, snapshot, held, commit, switched, release) = (TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);
        var freedInSteps = false;
        var committed = false;
        try
        {
            // Beside writes: they append past `before` and delete rows, never touch the slots read here.
            var started = Stopwatch.GetTimestamp();
            Durable(() => segment.WriteCompacted(live, epoch, token));
            copy = Stopwatch.GetElapsedTime(started);
            started = Stopwatch.GetTimestamp();
            Durable(() => database.PrepareCompaction(live, epoch, token));
            prepare = Stopwatch.GetElapsedTime(started);
            started = Stopwatch.GetTimestamp();
            var renumbered = RenumberSnapshot(index.Dimension, epochBefore, epoch, live, token);
            snapshot = Stopwatch.GetElapsedTime(started);
            OnCompactionStep?.Invoke("copied");
            token.ThrowIfCancellationRequested();

            LocalVectorSegment? previous = null;
            SafeFileHandle? previousVectorFile = null;
            var adopted = false;
            SegmentCompaction result;
            try
            {
                using var writer = EnterWriter(token);
                EnterUpgradeable();
                try
                {
                    var holding = Stopwatch.GetTimestamp();
                    token.ThrowIfCancellationRequested();
                    if (!ReferenceEquals(_index, index) || _epoch != epochBefore || !ReferenceEquals(database.Segment, segment))
                    {
                        throw new OperationCanceledException($"{_path} was recreated while it was being compacted.");
                    }

                    if (_faulted is { } faulted)
                    {
                        throw new StoreUnavailableException(Name, $"{_path}: a compaction could not switch files ({faulted}); reopen the store.");
                    }

                    // What changed since the copy: rows written since (at slots from `before` on) join the new
                    // file behind the copied ones; the copied slots of rows deleted since stay unnamed there.
                    var appended = Durable(() => database.ReadSlotsFrom(before));
                    var slots = new long[live.Length + appended.Length];
                    live.CopyTo(slots, 0);
                    appended.CopyTo(slots, live.Length);
                    var planned = index.PlanSlotRenumbering(slots, out var removed);
                    if (planned is null || (removed.Length > 0 && removed[^1] >= live.Length))
                    {
                        throw new StoreUnavailableException(Name, $"{_path}: memory holds {index.Count} rows that do not name the vector slots SQLite does; not compacting (reopen the store).");
                    }

                    Durable(() => segment.AppendCompacted(appended, live.Length));
                    started = Stopwatch.GetTimestamp();
                    Durable(() => database.CommitCompaction(slots, removed, before, epoch));
                    commit = Stopwatch.GetElapsedTime(started);
                    committed = true;

                    OnCompactionStep?.Invoke("committed");

                    // Before the segment's rename, whose fsync of the directory makes both durable.
                    var installed = renumbered is not null && InstallCompactedSnapshot(out previousVectorFile);
                    try
                    {
                        previous = Durable(() => database.OpenCompactedSegment(epoch, slots.Length));
                    }
                    catch (StoreUnavailableException ex)
                    {
                        // SQLite names the new slots but memory still reads the old file: reads stay right, a write
                        // would not. The next open finishes the switch.
                        _faulted = ex.Message;
                        LogCompactionSwitchFailed(_logger, _path, ex.Message);
                        throw;
                    }

                    // The only part queries wait for: they drain, then references are swapped and slots renumbered.
                    var switching = Stopwatch.GetTimestamp();
                    _lock.EnterWriteLock();
                    try
                    {
                        database.AdoptCompactedSegment(previous, epoch);
                        adopted = true;
                        index.RenumberSlots(planned);
                        _epoch = epoch;

                        // The vector file is now the one renumbered beside writes (the state at its sequence; an open
                        // after a kill replays from there), or, when there was none to renumber, one of the old
                        // epoch that the next open ignores. Either way the next close writes memory anew, unless the
                        // renumbered file is memory as it is now.
                        _snapshotSequence = installed && _snapshotSequence == renumbered ? _snapshotSequence : -1;
                    }
                    finally
                    {
                        _lock.ExitWriteLock();
                    }

                    switched = Stopwatch.GetElapsedTime(switching);
                    held = Stopwatch.GetElapsedTime(holding);
                    result = new SegmentCompaction(_collection, index.Count, before, slots.Length, before * rowBytes, slots.Length * rowBytes, clock.Elapsed)
                    {
                        Copy = copy,
                        Prepare = prepare,
                        Snapshot = snapshot,
                        SnapshotRenumbered = installed,
                        WritersHeld = held,
                        Commit = commit,
                        Switch = switched,
                    };
                    OnCompactionStep?.Invoke("switched");
                }
                finally
                {
                    _lock.ExitUpgradeableReadLock();
                }
            }
            finally
            {
                // The old file, after the switch (no reader can hold a span of its maps any more) and outside the
                // locks (see LocalVectorSegment.DisposeRenamedOver). Before the switch `previous` is the new file.
                var releasing = Stopwatch.GetTimestamp();
                if (adopted)
                {
                    freedInSteps = previous!.DisposeRenamedOver();
                }
                else
                {
                    previous?.Dispose();
                }

                if (previousVectorFile is not null)
                {
                    LocalVectorSegment.FreeInSteps(previousVectorFile);
                    previousVectorFile.Dispose();
                }

                release = Stopwatch.GetElapsedTime(releasing);
            }

            result = result with { Release = release, FreedInSteps = freedInSteps };
            LogCompacted(_logger, _path, result.Rows, result.SlotsBefore - result.SlotsAfter, (result.BytesBefore - result.BytesAfter) >> 20, (long)result.Elapsed.TotalMilliseconds, (long)copy.TotalMilliseconds, (long)prepare.TotalMilliseconds, (long)snapshot.TotalMilliseconds, (long)held.TotalMilliseconds, (long)commit.TotalMilliseconds, (long)switched.TotalMilliseconds, (long)release.TotalMilliseconds, freedInSteps);
            return result;
        }
        catch when (!committed)
        {
            // Nothing names the new file nor the new table: a stop here leaves the file to the next open and
            // the table to the next compaction, which remove them too.
            try
            {
                segment.DiscardCompacted();
                File.Delete(LocalVectorFile.CompactedPathFor(VectorFilePath));
                database.DiscardCompaction();
            }
            catch (Exception ex) when (ex is IOException or SqliteException or InvalidOperationException or ObjectDisposedException)
            {
            }

            throw;
        }
    }

    /// <summary>
    /// The snapshot of memory renumbered for the compacted segment, beside writes (see <see cref="LocalVectorFile.Renumber"/>):
    /// its sequence, or null when there was no snapshot of the old epoch to renumber or it could not be written
    /// (then a kill before the next close costs the next open a rebuild from SQLite, as it did before).
    /// </summary>
    private long? RenumberSnapshot(int dimension, Guid from, Guid to, long[] live, CancellationToken cancellationToken)
    {
        try
        {
            return LocalVectorFile.Renumber(VectorFilePath, dimension, from, to, live, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogSnapshotFailed(_logger, LocalVectorFile.CompactedPathFor(VectorFilePath), ex.Message);
            return null;
        }
    }

    /// <summary>
    /// After a compaction's commit: its renumbered snapshot becomes the vector file; false (and the old file stays,
    /// which the next open ignores) when the rename fails. <paramref name="previous"/> holds the file renamed over
    /// (null when there was none), for the caller to free after the locks: the rename would otherwise free its
    /// blocks at once, and the fsync of the directory that follows under the writers' turn waited for that
    /// (~0.3 s more writes held at 1M x 768 with a 220 MB vector file).
    /// </summary>
    private bool InstallCompactedSnapshot(out SafeFileHandle? previous)
    {
        var compacted = LocalVectorFile.CompactedPathFor(VectorFilePath);
        previous = null;
        try
        {
            try
            {
                previous = File.OpenHandle(VectorFilePath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (FileNotFoundException)
            {
            }

            File.Move(compacted, VectorFilePath, overwrite: true);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogSnapshotFailed(_logger, compacted, ex.Message);
            previous?.Dispose();
            previous = null;
            return false;
        }
    }

    /// <summary>After a write or an open: a background compaction when enough of the segment is dead (see <see cref="LocalVectorStoreOptions.AutoCompact"/>).</summary>
    private void CompactWhenWorthIt()
    {
        if (!_local.AutoCompact || _disposed || _faulted is not null || _index is not { } index || _database is not { } database || !_maintains())
        {
            return;
        }

        // Read without the lock: a heuristic, and Compact decides again under it.
        var committed = database.Segment.Committed;
        var dead = committed - index.Count;
        if (dead < _local.CompactMinDeadSlots || dead < _local.CompactDeadFraction * committed || Interlocked.CompareExchange(ref _compacting, 1, 0) != 0)
        {
            return;
        }

        BackgroundCompaction = Task.Run(() =>
        {
            try
            {
                Compact(CancellationToken.None);
            }
            catch (Exception ex) when (ex is StoreUnavailableException or ObjectDisposedException or OperationCanceledException or InvalidDataException)
            {
                LogCompactionFailed(_logger, _path, ex.Message);
            }
            finally
            {
                Volatile.Write(ref _compacting, 0);
            }
        });
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

    /// <summary>The shared lock, refused once the store is disposed (its segment map is gone by then).</summary>
    private void EnterRead()
    {
        _lock.EnterReadLock();
        if (_disposed)
        {
            _lock.ExitReadLock();
            throw new ObjectDisposedException(GetType().FullName);
        }
    }

    /// <summary>The lock a compaction holds: shared with queries, exclusive against writers; refused once the store is disposed.</summary>
    private void EnterUpgradeable()
    {
        _lock.EnterUpgradeableReadLock();
        if (_disposed)
        {
            _lock.ExitUpgradeableReadLock();
            throw new ObjectDisposedException(GetType().FullName);
        }
    }

    /// <summary>The writers' turn (see <see cref="_writers"/>), released by disposing the result.</summary>
    private WriterTurn EnterWriter(CancellationToken cancellationToken)
    {
        _writers.Wait(cancellationToken);
        return new WriterTurn(_writers);
    }

    private readonly struct WriterTurn(SemaphoreSlim writers) : IDisposable
    {
        public void Dispose() => writers.Release();
    }

    /// <summary>The exclusive lock, refused once the store is disposed.</summary>
    private void EnterWrite()
    {
        _lock.EnterWriteLock();
        if (_disposed)
        {
            _lock.ExitWriteLock();
            throw new ObjectDisposedException(GetType().FullName);
        }
    }

    /// <summary>The frame of every batch write: nothing to do for an empty batch, else one write under the exclusive lock.</summary>
    private Task WriteBatch(int count, Action<LocalVectorDatabase> write, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (count == 0)
        {
            return Task.CompletedTask;
        }

        var database = Open();
        using (EnterWriter(cancellationToken))
        {
            if (_faulted is { } faulted)
            {
                throw new StoreUnavailableException(Name, $"{_path}: a compaction could not switch files ({faulted}); reopen the store.");
            }

            EnterWrite();
            try
            {
                write(database);
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }

        CompactWhenWorthIt();
        return Task.CompletedTask;
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
                // The state, the rows and the segment of one moment (see ReadConsistent); the snapshot of memory
                // is written after, outside the read transaction.
                var (state, index, snapshotDue) = Durable(() => database.ReadConsistent<(DatabaseState? State, LocalVectorIndex? Index, bool SnapshotDue)>(_maintains(), state =>
                {
                    if (state is null)
                    {
                        return (null, null, false);
                    }

                    _epoch = state.Epoch;
                    _sequence = state.Sequence;
                    OnOpenStep?.Invoke("segment-opened");
                    var loaded = Load(database, state, out var due);
                    return (state, loaded, due);
                }, OnOpenStateRead));
                if (snapshotDue)
                {
                    WriteSnapshot(database, index);
                }

                _database = database;
                _descriptor = state?.Descriptor;
                _index = index;
                _opened = true;
                LogOpened(_logger, _path, index?.Count ?? 0, state?.Descriptor.ModelId ?? "(none)", LoadedFrom ?? "empty", clock.ElapsedMilliseconds);
                CompactWhenWorthIt();
                return database;
            }
            catch
            {
                database.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// The batch to write, its blocks already being prepared on the other cores (see <see cref="PreparedBatch"/>).
    /// A batch that names an id twice (rare) is prepared whole first, as it always was, so that its kept rows
    /// can be moved together before any is written; it still codes and writes its vectors beside SQLite.
    /// </summary>
    private PreparedBatch NewBatch(IReadOnlyList<VectorRecord> records, bool distinct, LocalVectorIndex index, LocalVectorSegment segment)
    {
        var dimension = index.Dimension;
        var vectors = BatchBuffer(records.Count * dimension);
        PreparedBatch batch;
        if (distinct)
        {
            batch = new PreparedBatch(records, new PreparedRow[records.Count], vectors, CodeBuffer(index, records.Count), index, segment, segment.Committed, OnBatchBlock);
        }
        else
        {
            var rows = LastWriteOfEachId(Prepare(records, vectors, dimension), vectors, dimension);
            batch = new PreparedBatch(null, rows, vectors, CodeBuffer(index, rows.Length), index, segment, segment.Committed, OnBatchBlock);
        }

        batch.Start(records.Count >= ParallelPrepareRows ? Environment.ProcessorCount - 1 : 0);
        return batch;
    }

    /// <summary>
    /// Checks and encodes a whole batch up front (only a batch that names an id twice, see <see cref="NewBatch"/>):
    /// unit vector bytes, metadata as stored and its filter signature, large batches split across cores;
    /// the error thrown is the one the first bad record gives, as a serial loop would throw.
    /// </summary>
    private static PreparedRow[] Prepare(IReadOnlyList<VectorRecord> records, float[] vectors, int dimension)
    {
        var rows = new PreparedRow[records.Count];
        var errors = new ArgumentException?[records.Count];
        void PrepareOne(int i)
        {
            try
            {
                rows[i] = PreparedBatch.PrepareRow(records[i], vectors.AsSpan(i * dimension, dimension));
            }
            catch (ArgumentException ex)
            {
                errors[i] = ex;
            }
        }

        if (records.Count >= ParallelPrepareRows && Environment.ProcessorCount > 1)
        {
            Parallel.For(0, records.Count, PrepareOne);
        }
        else
        {
            for (var i = 0; i < records.Count; i++)
            {
                PrepareOne(i);
            }
        }

        if (Array.Find(errors, e => e is not null) is { } first)
        {
            ExceptionDispatchInfo.Throw(first);
        }

        return rows;
    }

    private LocalVectorIndex NewIndex(LocalVectorDatabase database, int dimension, int capacity) => new(dimension, _local.Index, capacity, _local.RescoreFactor, database.Segment);

    /// <summary>
    /// Memory from the snapshot plus the changes SQLite committed after it, or from SQLite alone when the
    /// snapshot cannot be trusted. The row count is checked against SQLite either way: a snapshot older
    /// than the tombstones that were pruned after it would otherwise bring deleted rows back.
    /// </summary>
    /// <param name="snapshotDue">Whether memory should be written to the snapshot now (a long replay, a rebuild), once the caller's read is over.</param>
    private LocalVectorIndex Load(LocalVectorDatabase database, DatabaseState state, out bool snapshotDue)
    {
        snapshotDue = false;
        var dimension = state.Descriptor.Dimension;
        LocalVectorIndex? index;
        long snapshotSequence;
        string? reason;
        var rewrite = false;
        try
        {
            // A compaction stopped between its commit and the rename of its renumbered snapshot: done here (the
            // writer only; a reader beside it could take a file its compaction is still writing).
            if (_maintains())
            {
                LocalVectorFile.FinishCompacted(VectorFilePath, dimension, state.Epoch);
            }

            index = LocalVectorFile.TryRead(VectorFilePath, database.Segment, state.Epoch, state.Sequence, _local.Index, _local.RescoreFactor, out snapshotSequence, out reason, out rewrite);
        }
        catch (IOException ex)
        {
            (index, snapshotSequence, reason) = (null, 0, ex.Message);
        }

        var replayed = 0;
        if (index is not null && snapshotSequence < state.Sequence)
        {
            var loaded = index;
            foreach (var id in Durable(() => database.ReadDeletedSince(snapshotSequence)))
            {
                loaded.Remove(id);
                replayed++;
            }

            Durable(() => database.ReadChangedSince(snapshotSequence, (id, slot, vector, metadata) =>
            {
                var bytes = MetadataJson.FromStoredText(metadata);
                loaded.Upsert(id, slot, vector, bytes, MetadataJson.Signature(bytes));
                replayed++;
            }));
        }

        var stored = Durable(database.CountRecords);
        if (index is not null && index.Count != stored)
        {
            reason = $"holds {index.Count} rows after replay, SQLite {stored}";
            index = null;
        }

        if (index is not null)
        {
            LoadedFrom = replayed == 0 ? "snapshot" : "snapshot+replay";

            // Codes made here (the file held another kind's) and files of an older version are written on close, so the next open reads them.
            _snapshotSequence = rewrite ? -1 : snapshotSequence;
            // A long replay would repeat on every start until the next clean close.
            snapshotDue = replayed > Math.Max(10_000, index.Count / 10);

            return index;
        }

        if (reason != "missing" || stored > 0)
        {
            LogRebuilding(_logger, VectorFilePath, reason ?? "unknown", stored);
        }

        var rebuilt = NewIndex(database, dimension, (int)Math.Min(stored, int.MaxValue));
        Durable(() => database.ReadAll((id, slot, vector, metadata) =>
        {
            var bytes = MetadataJson.FromStoredText(metadata);
            rebuilt.Upsert(id, slot, vector, bytes, MetadataJson.Signature(bytes));
        }));
        rebuilt.FinishLoad();
        LoadedFrom = stored == 0 && reason == "missing" ? "empty" : $"rebuild: {reason}";
        _snapshotSequence = -1;
        snapshotDue = stored > 0;
        return rebuilt;
    }

    /// <summary>
    /// Writes memory to the snapshot when it has changed since the last one, then drops the tombstones
    /// it covers. A failure only costs the next open a longer replay, so it is logged, not thrown.
    /// </summary>
    private void WriteSnapshot(LocalVectorDatabase database, LocalVectorIndex? index = null)
    {
        index ??= _index;
        if (index is null || _sequence == _snapshotSequence)
        {
            return;
        }

        try
        {
            var clock = Stopwatch.StartNew();
            LocalVectorFile.Write(VectorFilePath, index, _epoch, _sequence);
            database.PruneTombstones(_sequence);
            _snapshotSequence = _sequence;
            LogSnapshotWritten(_logger, VectorFilePath, index.Count, _sequence, clock.ElapsedMilliseconds);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SqliteException)
        {
            LogSnapshotFailed(_logger, VectorFilePath, ex.Message);
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

    private static bool HasDistinctIds(IReadOnlyList<VectorRecord> records)
    {
        var seen = new HashSet<string>(records.Count, StringComparer.Ordinal);
        for (var i = 0; i < records.Count; i++)
        {
            if (!seen.Add(records[i].Id))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A batch that writes an id twice keeps its last write (as separate batches would): SQLite rows are
    /// keyed by slot, so two rows of one id must never both be inserted. Rare, so the common case only
    /// pays for the check; the kept rows' vectors are moved down to stay row after row.
    /// </summary>
    private static PreparedRow[] LastWriteOfEachId(PreparedRow[] rows, float[] vectors, int dimension)
    {
        var last = new Dictionary<string, int>(rows.Length, StringComparer.Ordinal);
        for (var i = 0; i < rows.Length; i++)
        {
            last[rows[i].Id] = i;
        }

        if (last.Count == rows.Length)
        {
            return rows;
        }

        var kept = new List<PreparedRow>(last.Count);
        for (var i = 0; i < rows.Length; i++)
        {
            if (last[rows[i].Id] == i)
            {
                vectors.AsSpan(i * dimension, dimension).CopyTo(vectors.AsSpan(kept.Count * dimension));
                kept.Add(rows[i]);
            }
        }

        return [.. kept];
    }

    /// <summary>
    /// The unit vectors of the batch being written, row <c>i</c> at <c>i x Dimension</c>: one buffer
    /// reused under the write lock (a 3 KiB array a row was most of a fill's garbage); a batch far
    /// larger than usual gets its own, so one huge batch does not pin its size for the store's life.
    /// </summary>
    private float[] BatchBuffer(int floats)
    {
        const int KeptFloats = 4 << 20;
        if (floats > KeptFloats)
        {
            return GC.AllocateUninitializedArray<float>(floats);
        }

        if (_batchVectors is null || _batchVectors.Length < floats)
        {
            _batchVectors = GC.AllocateUninitializedArray<float>(Math.Max(floats, Math.Min(KeptFloats, 2 * (_batchVectors?.Length ?? 0))));
        }

        return _batchVectors;
    }

    /// <summary>The codes of the batch being written, row <c>i</c> at <c>i x CodeBytes</c>, reused as <see cref="BatchBuffer"/> is; null while the index codes no rows.</summary>
    private sbyte[]? CodeBuffer(LocalVectorIndex index, int rows)
    {
        const int KeptBytes = 4 << 20;
        if (index.Coding is null)
        {
            return null;
        }

        var bytes = rows * index.CodeBytes;
        if (bytes > KeptBytes)
        {
            return GC.AllocateUninitializedArray<sbyte>(bytes);
        }

        if (_batchCodes is null || _batchCodes.Length < bytes)
        {
            _batchCodes = GC.AllocateUninitializedArray<sbyte>(Math.Max(bytes, Math.Min(KeptBytes, 2 * (_batchCodes?.Length ?? 0))));
        }

        return _batchCodes;
    }

    /// <summary>One record of a batch as SQLite stores it and memory holds it (its vector is in the batch buffer).</summary>
    internal sealed record PreparedRow(string Id, byte[] MetadataBytes, FilterSignature Signature);

    [LoggerMessage(Level = LogLevel.Information, Message = "Opened Local vector store {Path}: {Count} vectors of model {ModelId} loaded from {Source} in {ElapsedMs} ms")]
    private static partial void LogOpened(ILogger logger, string path, int count, string modelId, string source, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Vector file {Path} is not usable ({Reason}); rebuilding {Count} vectors from SQLite")]
    private static partial void LogRebuilding(ILogger logger, string path, string reason, long count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Wrote vector file {Path}: {Count} vectors at sequence {Sequence} in {ElapsedMs} ms")]
    private static partial void LogSnapshotWritten(ILogger logger, string path, int count, long sequence, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write vector file {Path}: {Reason}; the next open replays from SQLite")]
    private static partial void LogSnapshotFailed(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created collection {Collection} for model {ModelId} ({Dimension}-d) at {Path}")]
    private static partial void LogCollectionCreated(ILogger logger, string collection, string modelId, int dimension, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recreated collection {Collection}: dropped {Dropped} vectors, now model {ModelId} ({Dimension}-d)")]
    private static partial void LogCollectionRecreated(ILogger logger, string collection, int dropped, string modelId, int dimension);

    [LoggerMessage(Level = LogLevel.Information, Message = "Compacted the vector segment of {Path}: {Rows} rows kept, {Reclaimed} dead slots ({ReclaimedMiB} MiB) reclaimed in {ElapsedMs} ms (copy {CopyMs}, rows {PrepareMs}, vector file {SnapshotMs}; writes held {HeldMs}: commit {CommitMs}, switch {SwitchMs}); old file freed in {ReleaseMs} ms after it (in steps: {FreedInSteps})")]
    private static partial void LogCompacted(ILogger logger, string path, long rows, long reclaimed, long reclaimedMiB, long elapsedMs, long copyMs, long prepareMs, long snapshotMs, long heldMs, long commitMs, long switchMs, long releaseMs, bool freedInSteps);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Background compaction of {Path} did not finish: {Reason}")]
    private static partial void LogCompactionFailed(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Compaction of {Path} committed but could not switch files: {Reason}; writes are refused until the store is reopened")]
    private static partial void LogCompactionSwitchFailed(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "SQLite failed on {Path} (error {Code}): {Reason}")]
    private static partial void LogSqliteFailed(ILogger logger, string path, int code, string reason);
}
