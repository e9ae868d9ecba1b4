using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// A snapshot of a collection's memory next to its SQLite file (<c>&lt;collection&gt;.vec</c>), so a
/// restart reads one file sequentially instead of walking SQLite row by row. SQLite stays the durable
/// record: the snapshot says which collection epoch and change sequence it reflects, carries an
/// xxHash3 of every section, and is ignored (then rebuilt) when it is missing, torn, from another epoch
/// or ahead of the database. Changes after its sequence are replayed from SQLite on open.
/// </summary>
/// <remarks>
/// Layout, little-endian: a 4096-byte header (magic, version, dimension, row count, sequence, epoch,
/// records-section length, a hash per section, the codes' calibration, header hash), then, when the
/// writer scanned codes, their parameters and every row's codes (a reopen then does not quantize a
/// million rows again; kind 1: int8, a scale per dimension; kind 2: 4-bit, a mean and a step per
/// dimension, <see cref="Int4Dot"/> layout; a reader of another kind skips them), then per row: id length, id UTF-8, metadata length, metadata UTF-8,
/// the 16-byte filter signature and the row's slot in the vector segment. The fp32 vectors are not
/// here (version 4): memory reads them from the segment by slot, so a reopen reads codes and records
/// only (at 1M x 768, ~0.7 GB instead of ~3.7 GB). Version 3 had every vector after the header; its
/// reader skips them and the store writes version 4 on close. A version 2 file has no slots and is
/// rebuilt from SQLite once. A reader parses the records section on a second core while it reads the
/// codes: building the id map is CPU work, copying codes is memory work.
/// </remarks>
internal static class LocalVectorFile
{
    private const int HeaderSize = 4096;
    private const int HeaderHashed = 96;
    private const int Version = 4;

    /// <summary>The last version whose fp32 vectors section (after the header) a reader skips.</summary>
    private const int VersionWithVectors = 3;
    private const int ReadBlock = 8 << 20;
    private static ReadOnlySpan<byte> Magic => "IRVECS01"u8;

    public static string PathFor(string databasePath) => Path.ChangeExtension(databasePath, ".vec");

    /// <summary>Writes the snapshot to a temporary file, fsyncs it and renames it over the old one, so a crash leaves the old file or the new one.</summary>
    public static void Write(string path, LocalVectorIndex index, Guid epoch, long sequence)
    {
        var temporary = path + ".tmp";
        var codesHash = new XxHash3();
        var recordsHash = new XxHash3();
        var (scales, calibratedRows) = index.Calibration;
        var withCodes = !scales.IsEmpty && index.Count > 0;
        long recordsLength = 0;
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.None, bufferSize: 0))
        {
            stream.Position = HeaderSize;
            if (withCodes)
            {
                var scaleBytes = MemoryMarshal.AsBytes(scales.Span);
                codesHash.Append(scaleBytes);
                stream.Write(scaleBytes);
                index.ForEachChunk((codes, _, _, _, _) =>
                {
                    var bytes = MemoryMarshal.AsBytes(codes.Span);
                    codesHash.Append(bytes);
                    stream.Write(bytes);
                });
            }

            var buffer = new ArrayBufferWriter<byte>(ReadBlock + 4096);
            index.ForEachChunk((_, ids, metadata, signatures, slots) =>
            {
                for (var i = 0; i < ids.Length; i++)
                {
                    WriteRecord(buffer, ids.Span[i], metadata.Span[i], signatures.Span[i], slots.Span[i]);
                    if (buffer.WrittenCount >= ReadBlock)
                    {
                        recordsHash.Append(buffer.WrittenSpan);
                        stream.Write(buffer.WrittenSpan);
                        recordsLength += buffer.WrittenCount;
                        buffer.ResetWrittenCount();
                    }
                }
            });
            recordsHash.Append(buffer.WrittenSpan);
            stream.Write(buffer.WrittenSpan);
            recordsLength += buffer.WrittenCount;

            var header = new byte[HeaderSize];
            Magic.CopyTo(header);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), Version);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), index.Dimension);
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), index.Count);
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(24), sequence);
            epoch.TryWriteBytes(header.AsSpan(32, 16));
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(48), recordsLength);
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(64), recordsHash.GetCurrentHashAsUInt64());
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(72), codesHash.GetCurrentHashAsUInt64());
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(80), withCodes ? index.CodeKind : 0);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(84), calibratedRows);
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(HeaderHashed), XxHash3.HashToUInt64(header.AsSpan(0, HeaderHashed)));
            stream.Position = 0;
            stream.Write(header);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>
    /// Loads the snapshot into a new index over <paramref name="segment"/> (which holds the vectors), or
    /// returns null with the reason it cannot be used (the caller then rebuilds from SQLite). Never throws
    /// for a bad file; I/O errors other than a missing file propagate. <paramref name="rewrite"/> says the
    /// file should be written again (its codes were of another kind, or it is of an older version).
    /// </summary>
    public static LocalVectorIndex? TryRead(string path, LocalVectorSegment segment, Guid epoch, long databaseSequence, LocalIndexKind kind, int rescoreFactor, out long sequence, out string? reason, out bool rewrite)
    {
        var dimension = segment.Dimension;
        sequence = 0;
        rewrite = false;
        if (!File.Exists(path))
        {
            reason = "missing";
            return null;
        }

        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        var length = RandomAccess.GetLength(handle);
        var header = new byte[HeaderSize];
        if (length < HeaderSize || RandomAccess.Read(handle, header, 0) != HeaderSize || !header.AsSpan(0, 8).SequenceEqual(Magic))
        {
            reason = "not a vector file";
            return null;
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        if (version is not (Version or VersionWithVectors))
        {
            reason = $"format version {version}";
            return null;
        }

        if (XxHash3.HashToUInt64(header.AsSpan(0, HeaderHashed)) != BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(HeaderHashed)))
        {
            reason = "header checksum mismatch";
            return null;
        }

        var fileDimension = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(12));
        var count = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16));
        sequence = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(24));
        var fileEpoch = new Guid(header.AsSpan(32, 16));
        var recordsLength = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(48));
        var recordsHash = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(64));
        var codesHash = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(72));
        var codeKind = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(80));
        var calibratedRows = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(84));
        // A version 3 file's vectors are skipped unread: the segment holds the same ones, and is the record.
        var vectorsLength = version == VersionWithVectors ? count * dimension * sizeof(float) : 0;
        var codesLength = CodesLength(codeKind, dimension, count);
        reason = fileEpoch != epoch ? "from an earlier collection epoch"
            : fileDimension != dimension ? $"{fileDimension}-d, collection is {dimension}-d"
            : sequence > databaseSequence ? $"ahead of the database (sequence {sequence} > {databaseSequence})"
            : codesLength < 0 ? $"unknown code kind {codeKind}"
            : count is < 0 or > int.MaxValue || recordsLength < 0 || length != HeaderSize + vectorsLength + codesLength + recordsLength ? "truncated or oversized"
            : null;
        if (reason is not null)
        {
            return null;
        }

        var rows = (int)count;

        // Every chunk exists before the two readers start, so neither changes the index's chunk list.
        var index = new LocalVectorIndex(dimension, kind, rows, rescoreFactor, segment);
        index.AppendRows(rows);
        var recordsStart = HeaderSize + vectorsLength + codesLength;
        var records = Task.Run(() => ReadRecords(handle, recordsStart, recordsLength, rows, index, recordsHash));
        string? codesProblem = null;
        float[]? scales = null;
        try
        {
            // Codes of another kind than the reader scans are skipped; the index codes its rows itself.
            if (codeKind != 0 && codeKind == KindOfCodes(kind))
            {
                (scales, codesProblem) = ReadCodes(handle, HeaderSize + vectorsLength, rows, index, codesHash);
            }
        }
        finally
        {
            // The records reader uses the handle and the index: it must be done before either is left.
            ((IAsyncResult)records).AsyncWaitHandle.WaitOne();
        }

        reason = codesProblem ?? records.GetAwaiter().GetResult();
        if (reason is not null)
        {
            return null;
        }

        index.FinishLoad(scales, calibratedRows);
        rewrite = (scales is null && index.UsesCodes) || version != Version;
        return index;
    }

    private static (float[]? Scales, string? Problem) ReadCodes(SafeFileHandle handle, long position, int rows, LocalVectorIndex index, ulong expectedHash)
    {
        var hash = new XxHash3();
        var scales = new float[index.CodeParameters];
        var scaleBytes = MemoryMarshal.AsBytes(scales.AsSpan());
        ReadExactly(handle, scaleBytes, position);
        hash.Append(scaleBytes);
        position += scaleBytes.Length;
        // The 4-bit kind's means come first and may be any finite value; every scale or step is positive.
        var positiveFrom = scales.Length - index.Dimension;
        for (var i = 0; i < scales.Length; i++)
        {
            if (!float.IsFinite(scales[i]) || (i >= positiveFrom && scales[i] <= 0))
            {
                return (null, "bad code scale");
            }
        }

        for (var loaded = 0; loaded < rows;)
        {
            var block = Math.Min(LocalVectorIndex.ChunkRows, rows - loaded);
            var bytes = MemoryMarshal.AsBytes(index.LoadCodes(loaded, block));
            ReadExactly(handle, bytes, position);
            hash.Append(bytes);
            index.CommitLoadedCodes(loaded, block);
            position += bytes.Length;
            loaded += block;
        }

        return hash.GetCurrentHashAsUInt64() == expectedHash ? (scales, null) : (null, "codes checksum mismatch");
    }

    /// <summary>Bytes of the codes section: its parameters and every row's codes; -1 for a kind this reader does not know.</summary>
    private static long CodesLength(int codeKind, int dimension, long count) => codeKind switch
    {
        0 => 0,
        1 => (dimension * sizeof(float)) + (count * dimension),
        2 => (2L * dimension * sizeof(float)) + (count * Int4Dot.Stride(dimension)),
        _ => -1,
    };

    private static int KindOfCodes(LocalIndexKind kind) => kind switch
    {
        LocalIndexKind.Quantized => 1,
        LocalIndexKind.Int4 => 2,
        _ => 0,
    };

    private static void WriteRecord(ArrayBufferWriter<byte> buffer, string id, byte[] metadata, FilterSignature signature, long slot)
    {
        var idBytes = Encoding.UTF8.GetByteCount(id);
        var span = buffer.GetSpan(4 + idBytes + 4 + metadata.Length + 16 + 8);
        BinaryPrimitives.WriteInt32LittleEndian(span, idBytes);
        Encoding.UTF8.GetBytes(id, span[4..]);
        var at = 4 + idBytes;
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], metadata.Length);
        metadata.CopyTo(span[(at + 4)..]);
        at += 4 + metadata.Length;
        BinaryPrimitives.WriteUInt64LittleEndian(span[at..], signature.Low);
        BinaryPrimitives.WriteUInt64LittleEndian(span[(at + 8)..], signature.High);
        BinaryPrimitives.WriteInt64LittleEndian(span[(at + 16)..], slot);
        buffer.Advance(at + 24);
    }

    /// <summary>Parses the records section in blocks; a record never straddles the end of the section.</summary>
    private static string? ReadRecords(SafeFileHandle handle, long position, long length, int rows, LocalVectorIndex index, ulong expectedHash)
    {
        try
        {
            var hash = new XxHash3();
            ParseRecords(handle, position, length, rows, index, hash);
            return hash.GetCurrentHashAsUInt64() == expectedHash ? null : "records checksum mismatch";
        }
        catch (InvalidDataException ex)
        {
            return ex.Message;
        }
    }

    private static void ParseRecords(SafeFileHandle handle, long position, long length, int rows, LocalVectorIndex index, XxHash3 hash)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReadBlock);
        try
        {
            var end = position + length;
            var filled = 0;
            var consumed = 0;
            var row = 0;
            while (row < rows)
            {
                var available = buffer.AsSpan(consumed, filled - consumed);
                if (!TryParseRecord(available, out var size, out var id, out var metadata, out var signature, out var slot))
                {
                    // Move the partial record to the front and read more.
                    available.CopyTo(buffer);
                    filled = available.Length;
                    consumed = 0;
                    if (filled == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, filled).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }

                    var want = (int)Math.Min(buffer.Length - filled, end - position);
                    if (want <= 0)
                    {
                        throw new InvalidDataException("records section ends inside a record");
                    }

                    var target = buffer.AsSpan(filled, want);
                    ReadExactly(handle, target, position);
                    hash.Append(target);
                    position += want;
                    filled += want;
                    continue;
                }

                index.SetLoaded(row++, id, slot, metadata, signature);
                consumed += size;
            }

            if (consumed != filled || position != end)
            {
                throw new InvalidDataException("records section is longer than its rows");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool TryParseRecord(ReadOnlySpan<byte> span, out int size, out string id, out byte[] metadata, out FilterSignature signature, out long slot)
    {
        size = 0;
        slot = -1;
        id = "";
        metadata = [];
        signature = default;
        if (span.Length < 4)
        {
            return false;
        }

        var idLength = BinaryPrimitives.ReadInt32LittleEndian(span);
        if (idLength is < 1 or > 1 << 20)
        {
            throw new InvalidDataException("bad id length");
        }

        if (span.Length < 4 + idLength + 4)
        {
            return false;
        }

        var metadataLength = BinaryPrimitives.ReadInt32LittleEndian(span[(4 + idLength)..]);
        if (metadataLength is < 2 or > 1 << 24)
        {
            throw new InvalidDataException("bad metadata length");
        }

        size = 4 + idLength + 4 + metadataLength + 16 + 8;
        if (span.Length < size)
        {
            return false;
        }

        id = Encoding.UTF8.GetString(span.Slice(4, idLength));
        var json = span.Slice(8 + idLength, metadataLength);
        metadata = json.SequenceEqual(MetadataJson.Empty) ? MetadataJson.Empty : json.ToArray();
        var at = 8 + idLength + metadataLength;
        signature = new FilterSignature(BinaryPrimitives.ReadUInt64LittleEndian(span[at..]), BinaryPrimitives.ReadUInt64LittleEndian(span[(at + 8)..]));
        slot = BinaryPrimitives.ReadInt64LittleEndian(span[(at + 16)..]);
        if (slot < 0)
        {
            throw new InvalidDataException("bad vector slot");
        }

        return true;
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long position)
    {
        while (!buffer.IsEmpty)
        {
            var read = RandomAccess.Read(handle, buffer, position);
            if (read <= 0)
            {
                throw new EndOfStreamException("The vector file ended early.");
            }

            buffer = buffer[read..];
            position += read;
        }
    }
}
