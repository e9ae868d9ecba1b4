using System.Runtime.ExceptionServices;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// One upsert batch, prepared in blocks of <see cref="BlockRows"/> rows while SQLite inserts the blocks
/// before them: a block's records are checked and encoded (unit vector, stored metadata, filter
/// signature, the memory index's codes), the slots of the rows they replace looked up, and its vectors
/// written to their segment slots, on a pool
/// worker or on the writing thread itself whenever the block it needs next is not ready; the thread
/// that finishes the last block fsyncs the segment (<see cref="Staged"/>). A bulk fill ran on about one
/// core with this work and SQLite's one after the other. Nothing here is visible to anyone: memory
/// changes only after the commit, SQLite only inside the batch's transaction, and the segment only past
/// its committed slots (which no row names until that commit).
/// </summary>
internal sealed class PreparedBatch
{
    /// <summary>Rows a block holds: one multi-row INSERT statement of <see cref="LocalVectorDatabase"/>.</summary>
    public const int BlockRows = LocalVectorDatabase.RowsPerInsert;

    private readonly IReadOnlyList<VectorRecord>? _records;
    private readonly float[] _vectors;
    private readonly sbyte[]? _codes;
    private readonly LocalVectorIndex _index;
    private readonly LocalVectorSegment _segment;
    private readonly long _firstSlot;
    private readonly int _dimension;
    private readonly int _codeBytes;
    private readonly int _count;
    private readonly int _blocks;
    private readonly Action<int>? _onBlock;

    // Monitor, not Lock: the writing thread waits on it for a worker's block.
    private readonly object _gate = new();
    private readonly bool[] _done;
    private readonly Exception?[] _failures;
    private readonly long[] _replaced;
    private readonly TaskCompletionSource _staged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _claimed;
    private int _pending;
    private int _waited;
    private volatile bool _stopped;
    private int _applyClaimed;
    private bool _applyFinished;
    private LocalVectorIndex.PendingRows? _applied;
    private Exception? _applyFailure;
    private Exception? _firstFailure;

    /// <param name="records">The records, row i from record i; null when <paramref name="rows"/> and the
    /// vectors are prepared already (a batch that names an id twice) and only codes and the segment write remain.</param>
    /// <param name="rows">Row i is written at slot <paramref name="firstSlot"/> + i.</param>
    /// <param name="vectors">Row i's unit vector at i x dimension (written here when <paramref name="records"/> are given).</param>
    /// <param name="codes">Row i's codes at i x <see cref="LocalVectorIndex.CodeBytes"/>, or null when the index codes no rows now.</param>
    /// <param name="onBlock">Called with each block's number before its vectors are written, and with -1 just before the commit (tests fail one there, as a disk would).</param>
    public PreparedBatch(IReadOnlyList<VectorRecord>? records, LocalVectorStore.PreparedRow[] rows, float[] vectors, sbyte[]? codes, LocalVectorIndex index, LocalVectorSegment segment, long firstSlot, Action<int>? onBlock = null)
    {
        _onBlock = onBlock;
        FirstSlot = firstSlot;
        _records = records;
        Rows = rows;
        _vectors = vectors;
        _codes = codes;
        _index = index;
        _segment = segment;
        _firstSlot = firstSlot;
        _dimension = index.Dimension;
        _codeBytes = codes is null ? 0 : index.CodeBytes;
        CodedWith = codes is null ? null : index.Coding;
        _count = rows.Length;
        _blocks = (_count + BlockRows - 1) / BlockRows;
        _pending = _blocks;
        _done = new bool[_blocks];
        _failures = new Exception?[_blocks];
        _replaced = new long[_count];
        if (_blocks == 0)
        {
            _staged.SetResult();
        }
    }

    public LocalVectorStore.PreparedRow[] Rows { get; }

    /// <summary>The segment slot of row 0 (the segment's committed count when the batch was made).</summary>
    public long FirstSlot { get; }

    /// <summary>What <see cref="Codes"/> were made with (see <see cref="LocalVectorIndex.Coding"/>), or null.</summary>
    public object? CodedWith { get; }

    /// <summary>Completes once every row's vector is written and fsynced in its slot; faults with the first failure.</summary>
    public Task Staged => _staged.Task;

    /// <summary>
    /// The slots of the rows that the batch's rows replace (earlier writes of their ids), once every row
    /// is prepared (after <see cref="WaitRows"/> of all of them).
    /// </summary>
    public List<long> ReplacedSlots()
    {
        var slots = new List<long>();
        foreach (var slot in _replaced)
        {
            if (slot >= 0)
            {
                slots.Add(slot);
            }
        }

        return slots;
    }

    /// <summary>Called by the writing thread just before the commit (see the constructor's onBlock).</summary>
    public void BeforeCommit() => _onBlock?.Invoke(-1);

    /// <summary>The slot of the row that row <paramref name="row"/> replaces, or -1 (once it is prepared).</summary>
    public long ReplacedSlot(int row) => _replaced[row];

    /// <summary>
    /// Once every row is inserted into the (uncommitted) transaction: memory takes the batch on a pool
    /// worker while the writing thread waits for the segment's fsync and SQLite's commit, both mostly
    /// waiting for the disk (memory was a seventh of a bulk fill, after the commit). Queries cannot see it:
    /// the store's exclusive lock is held throughout. <see cref="FinishApply"/> after the commit,
    /// <see cref="RevertApply"/> after a failure.
    /// </summary>
    public void ApplyBesideCommit() => ThreadPool.UnsafeQueueUserWorkItem(static batch => batch.TryApply(), this, preferLocal: false);

    /// <summary>After the commit: returns once memory holds the batch (applying it on this thread if no worker has begun).</summary>
    public void FinishApply()
    {
        TryApply();
        WaitApplied();
        if (_applyFailure is { } failure)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>After a failed write: memory as it was before the batch (an apply not begun never will).</summary>
    public void RevertApply()
    {
        if (Interlocked.Exchange(ref _applyClaimed, 1) == 0)
        {
            return;
        }

        WaitApplied();
        if (_applied is { } applied)
        {
            _index.Revert(applied);
        }
    }

    /// <summary>Row <paramref name="row"/>'s codes, or empty when none were made.</summary>
    public ReadOnlySpan<sbyte> Codes(int row) => _codes is null ? default : _codes.AsSpan(row * _codeBytes, _codeBytes);

    /// <summary>Row <paramref name="row"/>'s unit vector.</summary>
    public ReadOnlySpan<float> Vector(int row) => _vectors.AsSpan(row * _dimension, _dimension);

    /// <summary>Starts up to <paramref name="workers"/> pool workers on the blocks (none for a single block: the writing thread does it).</summary>
    public void Start(int workers)
    {
        for (var w = Math.Min(workers, _blocks - 1); w > 0; w--)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static batch => batch.Work(), this, preferLocal: false);
        }
    }

    /// <summary>
    /// Returns once rows [0, <paramref name="rows"/>) are prepared, preparing blocks on this thread while
    /// the one it needs is not ready; throws the failure of the first block that has one (for a bad record
    /// the first bad record's error, as a serial loop would throw).
    /// </summary>
    public void WaitRows(int rows)
    {
        if (rows <= 0)
        {
            return;
        }

        var last = (Math.Min(rows, _count) - 1) / BlockRows;
        for (; _waited <= last; _waited++)
        {
            WaitBlock(_waited);
        }
    }

    /// <summary>
    /// Stops handing out blocks and returns once no thread touches the batch's buffers any more (the
    /// store reuses them for the next batch). Called on every way out, after a failure too.
    /// </summary>
    public void Stop()
    {
        _stopped = true;
        var claimed = Interlocked.Exchange(ref _claimed, _blocks);
        var unclaimed = _blocks - Math.Min(claimed, _blocks);
        if (unclaimed > 0 && Interlocked.Add(ref _pending, -unclaimed) == 0)
        {
            Complete();
        }

        try
        {
            _staged.Task.Wait();
        }
        catch (AggregateException)
        {
            // Reported where it happened (WaitRows or the commit's wait for the segment).
        }
    }

    private void TryApply()
    {
        if (Interlocked.Exchange(ref _applyClaimed, 1) != 0)
        {
            return;
        }

        try
        {
            _applied = new LocalVectorIndex.PendingRows(_index.Count);
            _index.UpsertPending(this, _applied);
        }
        catch (Exception ex)
        {
            _applyFailure = ex;
        }

        lock (_gate)
        {
            _applyFinished = true;
            Monitor.PulseAll(_gate);
        }
    }

    private void WaitApplied()
    {
        lock (_gate)
        {
            while (!_applyFinished)
            {
                Monitor.Wait(_gate);
            }
        }
    }

    private void Work()
    {
        while (TryRunNext())
        {
        }
    }

    private bool TryRunNext()
    {
        var block = Interlocked.Increment(ref _claimed) - 1;
        if (block >= _blocks)
        {
            return false;
        }

        Run(block);
        return true;
    }

    private void WaitBlock(int block)
    {
        while (true)
        {
            lock (_gate)
            {
                if (_done[block])
                {
                    if (_failures[block] is { } failure)
                    {
                        ExceptionDispatchInfo.Throw(failure);
                    }

                    return;
                }
            }

            if (!TryRunNext())
            {
                lock (_gate)
                {
                    while (!_done[block])
                    {
                        Monitor.Wait(_gate);
                    }
                }
            }
        }
    }

    private void Run(int block)
    {
        Exception? failure = null;
        var start = block * BlockRows;
        var end = Math.Min(_count, start + BlockRows);
        try
        {
            // Blocks are claimed in order: once one has failed, a later one can never be the error to report.
            if (!_stopped)
            {
                for (var row = start; row < end; row++)
                {
                    if (_records is not null)
                    {
                        Prepare(row);
                    }

                    // A read of memory's id map, which changes only after the commit (under the same exclusive lock).
                    _replaced[row] = _index.SlotOf(Rows[row].Id);
                    if (_codes is not null)
                    {
                        _index.EncodeInto(Vector(row), _codes.AsSpan(row * _codeBytes, _codeBytes));
                    }
                }

                _onBlock?.Invoke(block);
                if (!_stopped)
                {
                    _segment.Stage(_vectors.AsSpan(start * _dimension, (end - start) * _dimension), _firstSlot + start, flush: false);
                    _segment.StartWriteback(_firstSlot + start, end - start);
                }
            }
        }
        catch (Exception ex)
        {
            // Any failure, not only a bad record's: the writing thread rethrows it, the store maps a disk's to an outage.
            failure = ex;
            _stopped = true;
        }

        lock (_gate)
        {
            _failures[block] = failure;
            _firstFailure ??= failure;
            _done[block] = true;
            Monitor.PulseAll(_gate);
        }

        if (Interlocked.Decrement(ref _pending) == 0)
        {
            Complete();
        }
    }

    /// <summary>
    /// One record checked and encoded: its unit vector into <paramref name="unit"/>, its metadata as stored and
    /// its filter signature; a bad record throws its <see cref="ArgumentException"/>.
    /// </summary>
    public static LocalVectorStore.PreparedRow PrepareRow(VectorRecord record, Span<float> unit)
    {
        MetadataJson.Validate(record.Id, record.Metadata);
        if (!LocalVectorIndex.TryNormalizeInto(record.Vector.Span, unit))
        {
            // The message is built only for the bad row (it was a string allocation a row).
            throw LocalVectorIndex.NotNormalizable($"The vector of record '{record.Id}'", "vector");
        }

        var metadata = MetadataJson.Encode(record.Metadata, out var signature);
        return new LocalVectorStore.PreparedRow(record.Id, metadata, signature);
    }

    private void Prepare(int row) => Rows[row] = PrepareRow(_records![row], _vectors.AsSpan(row * _dimension, _dimension));

    /// <summary>After the last block: the segment's fsync, unless the batch failed or was stopped (nothing will name these slots).</summary>
    private void Complete()
    {
        Exception? failure;
        lock (_gate)
        {
            failure = _firstFailure;
        }

        if (failure is null && !_stopped)
        {
            try
            {
                _segment.Flush();
                _staged.SetResult();
                return;
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        }

        _staged.SetException(failure ?? new OperationCanceledException("The batch was stopped before its vectors were written."));
    }
}
