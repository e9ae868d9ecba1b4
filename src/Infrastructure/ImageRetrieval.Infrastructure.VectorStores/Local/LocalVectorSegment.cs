using System.Buffers.Binary;
using System.IO.Hashing;
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
/// deleted rows stay in the file unused (no compaction yet).
/// </summary>
/// <remarks>
/// Why: a 3 KiB vector per row was written to SQLite's WAL and again by its checkpoint, two thirds of
/// the bytes of a bulk fill. Here it is written once, sequentially.
/// </remarks>
internal sealed class LocalVectorSegment : IDisposable
{
    private const int HeaderSize = 4096;
    private const int HeaderHashed = 64;
    private const int Version = 1;
    private static ReadOnlySpan<byte> Magic => "IRVSEG01"u8;

    private readonly SafeFileHandle _handle;
    private readonly int _rowBytes;

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
    public static LocalVectorSegment Open(string path, int dimension, Guid epoch, long committed)
    {
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            var problem = Check(handle, dimension, epoch, committed);
            if (problem is not null)
            {
                if (committed > 0)
                {
                    throw new IOException($"Vector segment {path} {problem}, but the database counts {committed} committed vectors in it.");
                }

                Initialise(handle, path, dimension, epoch);
            }

            return new LocalVectorSegment(handle, path, dimension, committed);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Empties the file for a new epoch (after the database committed the recreate).</summary>
    public void Reset(Guid epoch)
    {
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

    /// <summary>After the SQLite commit that names slots up to <paramref name="slots"/>.</summary>
    public void Commit(long slots) => Committed = slots;

    /// <summary>Reads the vector in <paramref name="slot"/> (a committed one).</summary>
    public void Read(long slot, Span<float> vector)
    {
        if ((ulong)slot >= (ulong)Committed || vector.Length != Dimension)
        {
            throw new IOException($"Vector slot {slot} is outside the {Committed} committed slots of {Path}.");
        }

        var bytes = MemoryMarshal.AsBytes(vector);
        var position = HeaderSize + (slot * _rowBytes);
        while (!bytes.IsEmpty)
        {
            var read = RandomAccess.Read(_handle, bytes, position);
            if (read <= 0)
            {
                throw new IOException($"Vector segment {Path} ends before slot {slot}.");
            }

            bytes = bytes[read..];
            position += read;
        }
    }

    public void Dispose() => _handle.Dispose();

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
