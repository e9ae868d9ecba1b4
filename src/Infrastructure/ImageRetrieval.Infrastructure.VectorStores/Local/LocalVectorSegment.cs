using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// The fp32 vectors of a collection, outside SQLite (<c>&lt;collection&gt;.seg</c> beside the database):
/// an append-only array of fixed-size slots, one unit vector each, after a 4096-byte header (magic,
/// dimension, collection epoch, header hash). A write appends a batch's vectors after the last
/// committed slot and fsyncs them <em>before</em> the SQLite transaction that names their slots commits,
/// so a row SQLite shows always has its vector on disk. SQLite holds the committed slot count
/// (<c>collection.slots</c>): whatever lies past it is the tail of a batch whose commit never happened
/// (a crash, a failed transaction) and is overwritten by the next append. Slots of overwritten or
/// deleted rows stay in the file unused until a compaction (<see cref="WriteCompacted"/>) copies the
/// live ones into a new file, <c>&lt;collection&gt;.seg.compact</c>, which replaces this one once the
/// database has committed the rows' new slots (and the new epoch written in the new file's header).
/// </summary>
/// <remarks>
/// Why: a 3 KiB vector per row was written to SQLite's WAL and again by its checkpoint, two thirds of
/// the bytes of a bulk fill. Here it is written once, sequentially.
/// <para>
/// Memory reads the vectors straight from the file: the committed slots are mapped read-only
/// (<c>mmap</c>, shared, so the page cache is the only copy) in extents of a fixed number of slots, so
/// a reopen reads no fp32 at all and the quantized kinds' re-scoring touches only the pages of its
/// candidates. Extents are mapped whole, also past the end of the file: Linux and macOS allow that, and
/// only committed slots (which the file holds) are ever read. Where <c>mmap</c> is not available the
/// committed vectors are copied into memory instead (<see cref="Row"/> answers the same).
/// </para>
/// </remarks>
internal sealed unsafe partial class LocalVectorSegment : IDisposable
{
    private const int HeaderSize = 4096;
    private const int HeaderHashed = 64;
    private const int Version = 1;

    /// <summary>Slots per mapped extent (as many as an index chunk holds): 48 MiB at 768-d, whole pages at any dimension.</summary>
    private const int ExtentShift = LocalVectorIndex.ChunkShift;
    private const long ExtentMask = (1L << ExtentShift) - 1;
    private const int ProtectRead = 1;
    private const int MapShared = 1;
    private static readonly bool CanMap = OperatingSystem.IsLinux() || OperatingSystem.IsMacOS();
    private static ReadOnlySpan<byte> Magic => "IRVSEG01"u8;

    /// <summary>Rows a compaction copies per write: 3 MiB at 768-d.</summary>
    private const int CompactBlockRows = 1024;

    /// <summary>Blocks a compaction writes between fsyncs: 48 MiB at 768-d.</summary>
    private const int FlushEveryBlocks = 16;

    /// <summary>Bytes of a renumbered-over file freed per step (see <see cref="DisposeRenamedOver"/>), and the pause after each.</summary>
    private const long ReleaseStepBytes = 16L << 20;
    private static readonly TimeSpan ReleasePause = TimeSpan.FromMilliseconds(10);

    // flock(2) operations: every handle of a segment file holds a shared lock, so a writer can tell whether
    // any other handle (this process or another) still has a file it renamed over.
    private const int LockShared = 1;
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;

    private SafeFileHandle _handle;
    private readonly int _rowBytes;

    // Base address of each extent's first slot (mapped), or its copy (where nothing can be mapped).
    private nint[] _extents = [];
    private nint[] _mappings = [];
    private float[][] _copies = [];
    private long _readable;

    private LocalVectorSegment(SafeFileHandle handle, string path, int dimension, long committed)
    {
        _handle = handle;
        Path = path;
        Dimension = dimension;
        _rowBytes = dimension * sizeof(float);
        Committed = committed;
    }

    public string Path { get; }

    public int Dimension { get; }

    /// <summary>Slots that committed SQLite rows may name; the next append starts here.</summary>
    public long Committed { get; private set; }

    public static string PathFor(string databasePath) => System.IO.Path.ChangeExtension(databasePath, ".seg");

    /// <summary>
    /// Opens the segment of a collection whose database has committed <paramref name="committed"/> slots
    /// in <paramref name="epoch"/>. With no slots committed a missing, foreign or damaged file is simply
    /// started afresh; with slots committed it must hold them, or the store refuses to open (vectors
    /// SQLite counts on are gone, which no replay can repair).
    /// </summary>
    /// <remarks>
    /// With <paramref name="finishCompaction"/> a compacted file beside it is dealt with first (see
    /// <see cref="FinishCompaction"/>); a reader beside the writer leaves it alone: it may be the writer's
    /// compaction in progress, whose file it would delete.
    /// </remarks>
    public static LocalVectorSegment Open(string path, int dimension, Guid epoch, long committed, bool finishCompaction = true)
    {
        if (finishCompaction)
        {
            FinishCompaction(path, dimension, epoch, committed);
        }

        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            HoldShared(handle, path);
            var problem = Check(handle, dimension, epoch, committed);
            if (problem is not null)
            {
                if (committed > 0)
                {
                    // A reader that read the state of a compaction committed a moment ago, whose writer has not
                    // renamed the new file over this one yet: that file is the segment of this state.
                    if (!finishCompaction && OpenCommittedCompaction(path, dimension, epoch, committed) is { } compacted)
                    {
                        handle.Dispose();
                        return compacted;
                    }

                    throw new IOException($"Vector segment {path} {problem}, but the database counts {committed} committed vectors in it.");
                }

                Initialise(handle, path, dimension, epoch);
            }

            return Map(handle, path, dimension, committed);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The compacted file beside <paramref name="path"/> when it is the segment of <paramref name="epoch"/>
    /// (its writer committed it and has yet to rename it), opened by handle (which a rename does not
    /// affect) and mapped; otherwise null.
    /// </summary>
    private static LocalVectorSegment? OpenCommittedCompaction(string path, int dimension, Guid epoch, long committed)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(CompactedPathFor(path), FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        try
        {
            HoldShared(handle, path);
            if (Check(handle, dimension, epoch, committed) is not null)
            {
                handle.Dispose();
                return null;
            }

            return Map(handle, path, dimension, committed);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The segment over a checked <paramref name="handle"/>, its committed slots mapped; the handle stays the caller's to close on failure.</summary>
    private static LocalVectorSegment Map(SafeFileHandle handle, string path, int dimension, long committed)
    {
        var segment = new LocalVectorSegment(handle, path, dimension, committed);
        try
        {
            segment.MakeReadable(committed);
        }
        catch
        {
            segment.Unmap();
            throw;
        }

        return segment;
    }

    /// <summary>Where a compaction writes the segment that replaces <paramref name="path"/>.</summary>
    public static string CompactedPathFor(string path) => path + ".compact";

    /// <summary>
    /// Writes the vectors of <paramref name="slots"/> (committed slots of this segment, ascending) one
    /// after another into a new segment of <paramref name="epoch"/> at <see cref="CompactedPathFor"/>
    /// (new slot <c>i</c> holds old slot <c>slots[i]</c>) and makes it durable (file and directory
    /// fsynced). Reads the file through a handle of its own, not this segment's map: it runs beside
    /// writes, and a recreate or a close may unmap meanwhile (what it then read is never committed).
    /// </summary>
    public string WriteCompacted(long[] slots, Guid epoch, CancellationToken cancellationToken)
    {
        var target = CompactedPathFor(Path);
        using var source = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var handle = File.OpenHandle(target, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
        Initialise(handle, target, Dimension, epoch);
        RandomAccess.SetLength(handle, HeaderSize + (slots.Length * (long)_rowBytes));
        var buffer = new float[CompactBlockRows * Dimension];

        // Old slots are read a span at a time (the dead ones between them too) when the span is at most
        // this many slots; sparser live rows one by one.
        const int SpanRows = 4 * CompactBlockRows;
        var span = new byte[SpanRows * _rowBytes];
        for (var start = 0; start < slots.Length; start += CompactBlockRows)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rows = Math.Min(CompactBlockRows, slots.Length - start);
            var bytes = MemoryMarshal.AsBytes(buffer.AsSpan(0, rows * Dimension));
            var (first, last) = (slots[start], slots[start + rows - 1]);
            if (last - first < SpanRows)
            {
                var read = span.AsSpan(0, (int)(last - first + 1) * _rowBytes);
                ReadExactly(source, read, HeaderSize + (first * _rowBytes), Path);
                for (var r = 0; r < rows; r++)
                {
                    read.Slice((int)(slots[start + r] - first) * _rowBytes, _rowBytes).CopyTo(bytes[(r * _rowBytes)..]);
                }
            }
            else
            {
                for (var r = 0; r < rows; r++)
                {
                    ReadExactly(source, bytes.Slice(r * _rowBytes, _rowBytes), HeaderSize + (slots[start + r] * _rowBytes), Path);
                }
            }

            RandomAccess.Write(handle, bytes, HeaderSize + (start * (long)_rowBytes));
            if ((start / CompactBlockRows) % FlushEveryBlocks == FlushEveryBlocks - 1)
            {
                // A little at a time: gigabytes left dirty for one fsync at the end made the fsync of a write
                // beside it (which holds queries up) wait seconds for them.
                RandomAccess.FlushToDisk(handle);
            }
        }

        RandomAccess.FlushToDisk(handle);
        return target;
    }

    /// <summary>
    /// Appends the vectors of <paramref name="slots"/> (committed slots written after <see cref="WriteCompacted"/>
    /// read its slots) to the compacted file from its slot <paramref name="at"/> on, and fsyncs it. Reads
    /// this segment's map: the caller holds off writes, recreates and closes meanwhile.
    /// </summary>
    public void AppendCompacted(ReadOnlySpan<long> slots, long at)
    {
        using var handle = File.OpenHandle(CompactedPathFor(Path), FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        RandomAccess.SetLength(handle, HeaderSize + ((at + slots.Length) * _rowBytes));
        var buffer = new float[Math.Min(CompactBlockRows, slots.Length) * Dimension];
        for (var start = 0; start < slots.Length; start += CompactBlockRows)
        {
            var rows = Math.Min(CompactBlockRows, slots.Length - start);
            for (var r = 0; r < rows; r++)
            {
                Row(slots[start + r]).CopyTo(buffer.AsSpan(r * Dimension, Dimension));
            }

            RandomAccess.Write(handle, MemoryMarshal.AsBytes(buffer.AsSpan(0, rows * Dimension)), HeaderSize + ((at + start) * _rowBytes));
        }

        RandomAccess.FlushToDisk(handle);
    }

    /// <summary>
    /// After the database committed a compaction to <paramref name="committed"/> slots: the compacted file
    /// is renamed over this one and opened and mapped as a segment of its own, for <see cref="TakeOver"/>.
    /// Readers of this segment are not affected (the old file stays mapped until it is disposed).
    /// </summary>
    public LocalVectorSegment OpenCompacted(Guid epoch, long committed)
    {
        var compacted = CompactedPathFor(Path);
        var handle = File.OpenHandle(compacted, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            HoldShared(handle, compacted);
            if (Check(handle, Dimension, epoch, committed) is { } problem)
            {
                throw new IOException($"Compacted vector segment {compacted} {problem}.");
            }

            File.Move(compacted, Path, overwrite: true);
            DurableFiles.FlushDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        var next = new LocalVectorSegment(handle, Path, Dimension, committed);
        try
        {
            next.MakeReadable(committed);
            return next;
        }
        catch
        {
            next.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads <paramref name="next"/>'s file from now on and leaves <paramref name="next"/> holding this one's
    /// old file and maps, to dispose once no reader can hold a span of them. Called under the store's
    /// exclusive lock; only swaps references, so the lock is held for no time.
    /// </summary>
    public void TakeOver(LocalVectorSegment next)
    {
        if (next.Dimension != Dimension)
        {
            throw new ArgumentException($"The segment holds {next.Dimension}-d vectors, not {Dimension}-d.", nameof(next));
        }

        (_handle, next._handle) = (next._handle, _handle);
        (_extents, next._extents) = (next._extents, _extents);
        (_mappings, next._mappings) = (next._mappings, _mappings);
        (_copies, next._copies) = (next._copies, _copies);
        (_readable, next._readable) = (next._readable, _readable);
        (Committed, next.Committed) = (next.Committed, Committed);
    }

    /// <summary>
    /// Disposes a segment that <see cref="TakeOver"/> left holding the file a compaction renamed over, which has no
    /// name any more, and returns whether its blocks were freed a step at a time. Why: the last close of a 3 GiB
    /// file frees all its blocks at once, and on ext4 (here mounted with <c>discard</c>) an fsync of any other
    /// file waited for that: the fsync of a write beside it, which holds the store's exclusive lock through its
    /// commit, so queries waited too (0.8 s, and writes 1.2 s, at 1M x 768 on a loaded 2-core machine). Freed
    /// from its end in steps of <see cref="ReleaseStepBytes"/>, each fsynced on its own and followed by a
    /// pause, such an fsync waits for one step at most. Only when this is the file's last handle: every opener
    /// holds a shared <c>flock</c> (see <see cref="HoldShared"/>), so the exclusive one is granted only then,
    /// and nothing can open a file without a name afterwards; a reader beside the writer still mapping it
    /// would take a fault (SIGBUS) on a truncated page. Otherwise the file is simply closed, and freed by the
    /// last handle's close. A crash meanwhile leaves nothing to clean: the kernel frees a file without a name
    /// once no process holds it.
    /// </summary>
    public bool DisposeRenamedOver()
    {
        Unmap();
        try
        {
            return FreeInSteps(_handle);
        }
        finally
        {
            _handle.Dispose();
        }
    }

    /// <summary>
    /// Frees the blocks of a file that has no name any more, a step at a time from its end, when
    /// <paramref name="handle"/> is its last handle (see <see cref="DisposeRenamedOver"/>); returns whether it
    /// did. The caller closes the handle, which frees what is left. Every handle .NET opens on a local file holds a
    /// shared <c>flock</c> (and a segment's, see <see cref="HoldShared"/>, for certain), so the exclusive one is
    /// granted only to the last.
    /// </summary>
    internal static bool FreeInSteps(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux() || FileLock((int)handle.DangerousGetHandle(), LockExclusive | LockNonBlocking) != 0)
        {
            return false;
        }

        try
        {
            for (var length = RandomAccess.GetLength(handle); length > 0;)
            {
                length = Math.Max(0, length - ReleaseStepBytes);
                RandomAccess.SetLength(handle, length);
                RandomAccess.FlushToDisk(handle);
                Thread.Sleep(ReleasePause);
            }
        }
        catch (IOException)
        {
            // The close frees what is left.
        }

        return true;
    }

    /// <summary>
    /// Takes a shared <c>flock</c> on a segment file's handle (.NET takes one itself on Linux unless file locking
    /// is switched off; this makes sure of it), which <see cref="DisposeRenamedOver"/> relies on. Refused only
    /// while a writer frees the file (it holds the exclusive lock then): the file was renamed over, and the
    /// caller reads the state again.
    /// </summary>
    private static void HoldShared(SafeFileHandle handle, string path)
    {
        if (OperatingSystem.IsLinux() && FileLock((int)handle.DangerousGetHandle(), LockShared | LockNonBlocking) != 0)
        {
            throw new IOException($"Vector segment {path} is being freed by the writer that compacted it (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    /// <summary>Removes the file of a compaction that did not commit (it was cancelled or failed).</summary>
    public void DiscardCompacted() => File.Delete(CompactedPathFor(Path));

    /// <summary>
    /// A compacted file left beside the segment by a process that stopped during a compaction: when its
    /// header has the database's epoch the database committed it, and the rename the process did not get
    /// to is done now; otherwise the database never named it and it is removed.
    /// </summary>
    private static void FinishCompaction(string path, int dimension, Guid epoch, long committed)
    {
        var compacted = CompactedPathFor(path);
        if (!File.Exists(compacted))
        {
            return;
        }

        bool committedOne;
        using (var handle = File.OpenHandle(compacted, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            committedOne = Check(handle, dimension, epoch, committed) is null;
        }

        if (committedOne)
        {
            File.Move(compacted, path, overwrite: true);
        }
        else
        {
            File.Delete(compacted);
        }

        DurableFiles.FlushDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
    }

    /// <summary>Empties the file for a new epoch (after the database committed the recreate).</summary>
    public void Reset(Guid epoch)
    {
        // Nothing may read the old slots once the file is cut: the caller holds the store's exclusive lock.
        Unmap();
        Initialise(_handle, Path, Dimension, epoch);
        Committed = 0;
    }

    /// <summary>
    /// Writes <paramref name="vectors"/> (whole rows) from slot <paramref name="first"/> (the committed
    /// count when null) on and, unless told not to, fsyncs them; returns the first slot. Nothing is
    /// committed until <see cref="Commit"/>.
    /// </summary>
    public long Stage(ReadOnlySpan<float> vectors, long? first = null, bool flush = true)
    {
        var bytes = MemoryMarshal.AsBytes(vectors);
        if (bytes.Length % _rowBytes != 0)
        {
            throw new ArgumentException("Whole rows only.", nameof(vectors));
        }

        var at = first ?? Committed;
        if (at < Committed)
        {
            throw new ArgumentOutOfRangeException(nameof(first), "Committed slots are never written again.");
        }

        RandomAccess.Write(_handle, bytes, HeaderSize + (at * _rowBytes));
        if (flush)
        {
            Flush();
        }

        return at;
    }

    public void Flush() => RandomAccess.FlushToDisk(_handle);

    /// <summary>
    /// Asks the kernel to start writing staged rows to the disk now (Linux <c>sync_file_range</c>), so that
    /// the <see cref="Flush"/> before their commit waits only for what is left: a bulk fill's batches spent
    /// a fifth of their time in that fsync after the last row was staged. Advisory: durability still comes
    /// from <see cref="Flush"/>, and elsewhere, or when the call fails, nothing happens.
    /// </summary>
    public void StartWriteback(long first, int rows)
    {
        if (OperatingSystem.IsLinux() && rows > 0)
        {
            _ = SyncFileRange((int)_handle.DangerousGetHandle(), HeaderSize + (first * _rowBytes), (long)rows * _rowBytes, SyncFileRangeWrite);
        }
    }

    /// <summary>
    /// After the SQLite commit that names slots up to <paramref name="slots"/>: those become readable
    /// through <see cref="Row"/>. Called under the store's exclusive lock (no reader is inside
    /// <see cref="Row"/> while the extent table grows).
    /// </summary>
    public void Commit(long slots)
    {
        MakeReadable(slots);
        Committed = slots;
    }

    /// <summary>
    /// The unit vector in <paramref name="slot"/> (a committed one), read in place: the span is valid
    /// until the segment is reset or disposed, which the store does only under its exclusive lock.
    /// </summary>
    public ReadOnlySpan<float> Row(long slot)
    {
        if ((ulong)slot >= (ulong)_readable)
        {
            throw new IOException($"Vector slot {slot} is outside the {_readable} committed slots of {Path}.");
        }

        return new ReadOnlySpan<float>((byte*)_extents[(int)(slot >> ExtentShift)] + ((slot & ExtentMask) * _rowBytes), Dimension);
    }

    /// <summary>Copies the vector in <paramref name="slot"/> (a committed one).</summary>
    public void Read(long slot, Span<float> vector)
    {
        if (vector.Length != Dimension)
        {
            throw new ArgumentException($"{Dimension} floats expected.", nameof(vector));
        }

        Row(slot).CopyTo(vector);
    }

    public void Dispose()
    {
        Unmap();
        _handle.Dispose();
    }

    /// <summary>Maps (or copies) every extent that holds one of the first <paramref name="slots"/> slots.</summary>
    private void MakeReadable(long slots)
    {
        if (slots <= _readable)
        {
            return;
        }

        // A page of a map past the end of the file faults (SIGBUS) when read, which would end the process at
        // some later search: the file must hold every slot before any of them is mapped. Open checks this
        // too; here it also covers slots another process committed (see LocalVectorDatabase.Read).
        var length = RandomAccess.GetLength(_handle);
        if (length < HeaderSize + (slots * _rowBytes))
        {
            throw new IOException($"Vector segment {Path} is shorter ({length} bytes) than its {slots} committed vectors ({HeaderSize + (slots * _rowBytes)} bytes): it was truncated or lost writes; restore it from a backup or re-index.");
        }

        var extentSlots = 1L << ExtentShift;
        var needed = (int)((slots + extentSlots - 1) >> ExtentShift);
        if (needed > _extents.Length)
        {
            var extents = new nint[Math.Max(needed, _extents.Length * 2)];
            _extents.CopyTo(extents, 0);
            var mappings = new nint[extents.Length];
            _mappings.CopyTo(mappings, 0);
            var copies = new float[extents.Length][];
            _copies.CopyTo(copies, 0);
            (_extents, _mappings, _copies) = (extents, mappings, copies);
        }

        var extentBytes = extentSlots * _rowBytes;
        for (var e = (int)(_readable >> ExtentShift); e < needed; e++)
        {
            if (CanMap)
            {
                if (_mappings[e] == 0)
                {
                    _mappings[e] = Map(HeaderSize + (e * extentBytes), extentBytes, out _extents[e]);
                }

                continue;
            }

            // No mmap here: the extent's committed part is read into memory (pinned, so Row can point at it).
            var copy = _copies[e] ??= GC.AllocateUninitializedArray<float>((int)(extentSlots * Dimension), pinned: true);
            var from = Math.Max(_readable, (long)e << ExtentShift);
            var to = Math.Min(slots, (long)(e + 1) << ExtentShift);
            var bytes = MemoryMarshal.AsBytes(copy.AsSpan((int)((from & ExtentMask) * Dimension), (int)((to - from) * Dimension)));
            ReadExactly(_handle, bytes, HeaderSize + (from * _rowBytes), Path);
            _extents[e] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(copy));
        }

        _readable = slots;
    }

    private nint Map(long offset, long length, out nint start)
    {
        // The offset of a mapping must be a multiple of the page size (16 KiB on some ARM machines).
        var page = Environment.SystemPageSize;
        var aligned = offset / page * page;
        var address = MapFile(0, (nuint)(length + offset - aligned), ProtectRead, MapShared, (int)_handle.DangerousGetHandle(), aligned);
        if (address == -1)
        {
            throw new IOException($"Cannot map {length} bytes of vector segment {Path} (errno {Marshal.GetLastPInvokeError()}).");
        }

        start = address + (nint)(offset - aligned);
        return address;
    }

    private void Unmap()
    {
        var extentBytes = (1L << ExtentShift) * _rowBytes;
        var page = Environment.SystemPageSize;
        for (var e = 0; e < _mappings.Length; e++)
        {
            if (_mappings[e] != 0)
            {
                var offset = HeaderSize + (e * extentBytes);
                _ = UnmapFile(_mappings[e], (nuint)(extentBytes + offset - (offset / page * page)));
            }
        }

        _extents = [];
        _mappings = [];
        _copies = [];
        _readable = 0;
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> bytes, long position, string path)
    {
        while (!bytes.IsEmpty)
        {
            var read = RandomAccess.Read(handle, bytes, position);
            if (read <= 0)
            {
                throw new IOException($"Vector segment {path} ends before its committed vectors.");
            }

            bytes = bytes[read..];
            position += read;
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint MapFile(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int FileLock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int UnmapFile(nint address, nuint length);

    // SYNC_FILE_RANGE_WRITE: start write-out of the range's dirty pages, without waiting for it.
    private const uint SyncFileRangeWrite = 2;

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(int fd, long offset, long length, uint flags);

    private static string? Check(SafeFileHandle handle, int dimension, Guid epoch, long committed)
    {
        var length = RandomAccess.GetLength(handle);
        var header = new byte[HeaderSize];
        if (length < HeaderSize || RandomAccess.Read(handle, header, 0) != HeaderSize || !header.AsSpan(0, 8).SequenceEqual(Magic))
        {
            return "has no segment header";
        }

        if (XxHash3.HashToUInt64(header.AsSpan(0, HeaderHashed)) != BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(HeaderHashed)))
        {
            return "has a damaged header";
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        var fileDimension = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12));
        var fileEpoch = new Guid(header.AsSpan(16, 16));
        return version != Version ? $"is format version {version}"
            : fileDimension != dimension ? $"holds {fileDimension}-d vectors, the collection {dimension}-d"
            : fileEpoch != epoch ? "is from an earlier collection epoch"
            : length < HeaderSize + (committed * dimension * sizeof(float)) ? $"is shorter ({length} bytes) than its committed vectors"
            : null;
    }

    private static void Initialise(SafeFileHandle handle, string path, int dimension, Guid epoch)
    {
        var header = new byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), Version);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), dimension);
        epoch.TryWriteBytes(header.AsSpan(16, 16));
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(HeaderHashed), XxHash3.HashToUInt64(header.AsSpan(0, HeaderHashed)));
        RandomAccess.SetLength(handle, 0);
        RandomAccess.Write(handle, header, 0);
        RandomAccess.FlushToDisk(handle);
        DurableFiles.FlushDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
    }
}
