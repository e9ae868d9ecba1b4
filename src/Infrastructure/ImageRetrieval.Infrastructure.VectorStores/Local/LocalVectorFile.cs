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

    /// <summary>Where a compaction writes the snapshot of the compacted segment (see <see cref="Renumber"/>).</summary>
    public static string CompactedPathFor(string path) => path + ".compact";

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

            var header = NewHeader(index.Dimension, index.Count, sequence, epoch, recordsLength, recordsHash.GetCurrentHashAsUInt64(), codesHash.GetCurrentHashAsUInt64(), withCodes ? index.CodeKind : 0, calibratedRows);
            stream.Position = 0;
            stream.Write(header);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>
    /// For a compaction of the segment of epoch <paramref name="from"/>: writes the snapshot at
    /// <paramref name="path"/> (when it is one of that epoch) to <see cref="CompactedPathFor"/> as a snapshot
    /// of the compacted segment's epoch <paramref name="to"/>, at the same sequence: every record whose slot
    /// is among <paramref name="keptSlots"/> (ascending; new slot <c>i</c> holds old slot <c>keptSlots[i]</c>)
    /// with its new slot, codes and all, the others left out (they were deleted or overwritten after the
    /// snapshot, which the replay from SQLite after its sequence settles, as it does for any snapshot).
    /// The file is fsynced, and not yet named as the snapshot: the caller renames it once the database has
    /// committed <paramref name="to"/> (an open finishes that, see <see cref="FinishCompacted"/>).
    /// </summary>
    /// <remarks>
    /// Why: memory after a compaction is the snapshot's rows renumbered, but writing it anew reads all of
    /// memory, which writes would wait for; this reads a file instead, beside them. The source's checksums are
    /// verified as it is read, so a damaged snapshot is not passed on under fresh ones.
    /// </remarks>
    /// <returns>The snapshot's sequence, or null (nothing left behind) when there is no intact snapshot of <paramref name="from"/>.</returns>
    public static long? Renumber(string path, int dimension, Guid from, Guid to, long[] keptSlots, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var target = CompactedPathFor(path);
        using var source = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        if (ReadHeader(source, dimension, out _) is not { Version: Version } header || header.Epoch != from)
        {
            return null;
        }

        var rows = (int)header.Count;
        var (parameterBytes, codeRowBytes) = CodeLayout(header.CodeKind, dimension);
        var recordsStart = HeaderSize + CodesLength(header.CodeKind, dimension, header.Count);

        // Each row's new slot (-1: left out), from a first pass over the records.
        var newSlots = new int[rows];
        var kept = 0;
        long keptLength = 0;
        var check = new XxHash3();
        try
        {
            ScanRecords(source, recordsStart, header.RecordsLength, rows, check, (row, record) =>
            {
                var at = Array.BinarySearch(keptSlots, SlotOf(record));
                newSlots[row] = at >= 0 ? at : -1;
                if (at >= 0)
                {
                    kept++;
                    keptLength += record.Length;
                }
            });
        }
        catch (InvalidDataException)
        {
            return null;
        }

        if (check.GetCurrentHashAsUInt64() != header.RecordsHash || kept == 0)
        {
            return null;
        }

        var written = false;
        try
        {
            using (var output = new FileStream(target, FileMode.Create, FileAccess.ReadWrite, FileShare.None, bufferSize: 0))
            {
                output.Position = HeaderSize;
                var codesHash = new XxHash3();
                var sourceCodes = new XxHash3();
                var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(ReadBlock, parameterBytes));
                var keptCodes = ArrayPool<byte>.Shared.Rent(ReadBlock + codeRowBytes);
                try
                {
                    if (header.CodeKind != 0)
                    {
                        var parameters = buffer.AsSpan(0, parameterBytes);
                        ReadExactly(source, parameters, HeaderSize);
                        sourceCodes.Append(parameters);
                        codesHash.Append(parameters);
                        output.Write(parameters);
                        var blockRows = ReadBlock / codeRowBytes;
                        var position = (long)HeaderSize + parameterBytes;
                        for (var first = 0; first < rows; first += blockRows)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            var block = Math.Min(blockRows, rows - first);
                            var codes = buffer.AsSpan(0, block * codeRowBytes);
                            ReadExactly(source, codes, position);
                            sourceCodes.Append(codes);
                            position += codes.Length;
                            var filled = 0;
                            for (var r = 0; r < block; r++)
                            {
                                if (newSlots[first + r] >= 0)
                                {
                                    codes.Slice(r * codeRowBytes, codeRowBytes).CopyTo(keptCodes.AsSpan(filled));
                                    filled += codeRowBytes;
                                }
                            }

                            codesHash.Append(keptCodes.AsSpan(0, filled));
                            output.Write(keptCodes, 0, filled);
                        }
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    ArrayPool<byte>.Shared.Return(keptCodes);
                }

                if (header.CodeKind != 0 && sourceCodes.GetCurrentHashAsUInt64() != header.CodesHash)
                {
                    return null;
                }

                // The records again, the kept ones with their new slot; the source is hashed again as it is read.
                var recordsHash = new XxHash3();
                var records = new ArrayBufferWriter<byte>(ReadBlock + 4096);
                check = new XxHash3();
                ScanRecords(source, recordsStart, header.RecordsLength, rows, check, (row, record) =>
                {
                    if (newSlots[row] < 0)
                    {
                        return;
                    }

                    var span = records.GetSpan(record.Length);
                    record.CopyTo(span);
                    BinaryPrimitives.WriteInt64LittleEndian(span[(record.Length - 8)..], newSlots[row]);
                    records.Advance(record.Length);
                    if (records.WrittenCount >= ReadBlock)
                    {
                        recordsHash.Append(records.WrittenSpan);
                        output.Write(records.WrittenSpan);
                        records.ResetWrittenCount();
                    }
                });
                recordsHash.Append(records.WrittenSpan);
                output.Write(records.WrittenSpan);
                if (check.GetCurrentHashAsUInt64() != header.RecordsHash)
                {
                    return null;
                }

                output.Position = 0;
                output.Write(NewHeader(dimension, kept, header.Sequence, to, keptLength, recordsHash.GetCurrentHashAsUInt64(), codesHash.GetCurrentHashAsUInt64(), header.CodeKind, header.CalibratedRows));
                output.Flush(flushToDisk: true);
            }

            written = true;
            return header.Sequence;
        }
        finally
        {
            if (!written)
            {
                File.Delete(target);
            }
        }
    }

    /// <summary>
    /// What a compaction's snapshot beside <paramref name="path"/> (<see cref="Renumber"/>) left: when it is of
    /// <paramref name="epoch"/> (the database committed its compaction) it becomes the snapshot, the rename a
    /// stop kept its writer from doing; otherwise (its compaction never committed, or it is damaged) it is removed.
    /// Only the writer of the files calls this.
    /// </summary>
    public static void FinishCompacted(string path, int dimension, Guid epoch)
    {
        var compacted = CompactedPathFor(path);
        if (!File.Exists(compacted))
        {
            return;
        }

        bool committed;
        using (var handle = File.OpenHandle(compacted, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            committed = ReadHeader(handle, dimension, out _) is { } header && header.Epoch == epoch;
        }

        if (committed)
        {
            File.Move(compacted, path, overwrite: true);
        }
        else
        {
            File.Delete(compacted);
        }
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
        var header = ReadHeader(handle, dimension, out reason);
        if (header is null)
        {
            return null;
        }

        var (version, count, fileSequence, fileEpoch, recordsLength, recordsHash, codesHash, codeKind, calibratedRows) = header.Value;
        sequence = fileSequence;
        reason = fileEpoch != epoch ? "from an earlier collection epoch"
            : sequence > databaseSequence ? $"ahead of the database (sequence {sequence} > {databaseSequence})"
            : null;
        if (reason is not null)
        {
            return null;
        }

        // A version 3 file's vectors are skipped unread: the segment holds the same ones, and is the record.
        var vectorsLength = version == VersionWithVectors ? count * dimension * sizeof(float) : 0;
        var codesLength = CodesLength(codeKind, dimension, count);
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

    /// <summary>What a vector file's header says.</summary>
    private readonly record struct Header(int Version, long Count, long Sequence, Guid Epoch, long RecordsLength, ulong RecordsHash, ulong CodesHash, int CodeKind, int CalibratedRows);

    /// <summary>The header of a file of this dimension whose sections fill it exactly, or null with the reason it is not one.</summary>
    private static Header? ReadHeader(SafeFileHandle handle, int dimension, out string? reason)
    {
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
        var recordsLength = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(48));
        var codeKind = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(80));
        var vectorsLength = version == VersionWithVectors ? count * dimension * sizeof(float) : 0;
        var codesLength = CodesLength(codeKind, dimension, count);
        reason = fileDimension != dimension ? $"{fileDimension}-d, collection is {dimension}-d"
            : codesLength < 0 ? $"unknown code kind {codeKind}"
            : count is < 0 or > int.MaxValue || recordsLength < 0 || length != HeaderSize + vectorsLength + codesLength + recordsLength ? "truncated or oversized"
            : null;
        if (reason is not null)
        {
            return null;
        }

        return new Header(
            version,
            count,
            BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(24)),
            new Guid(header.AsSpan(32, 16)),
            recordsLength,
            BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(64)),
            BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(72)),
            codeKind,
            BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(84)));
    }

    private static byte[] NewHeader(int dimension, long count, long sequence, Guid epoch, long recordsLength, ulong recordsHash, ulong codesHash, int codeKind, int calibratedRows)
    {
        var header = new byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), Version);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), dimension);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), count);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(24), sequence);
        epoch.TryWriteBytes(header.AsSpan(32, 16));
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(48), recordsLength);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(64), recordsHash);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(72), codesHash);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(80), codeKind);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(84), calibratedRows);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(HeaderHashed), XxHash3.HashToUInt64(header.AsSpan(0, HeaderHashed)));
        return header;
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
    private static long CodesLength(int codeKind, int dimension, long count) =>
        CodeLayout(codeKind, dimension) is var (parameters, row) && parameters >= 0 ? parameters + (count * row) : -1;

    /// <summary>Bytes of a kind's code parameters and of one row's codes; -1 for a kind this reader does not know.</summary>
    private static (int Parameters, int Row) CodeLayout(int codeKind, int dimension) => codeKind switch
    {
        0 => (0, 0),
        1 => (dimension * sizeof(float), dimension),
        2 => (2 * dimension * sizeof(float), Int4Dot.Stride(dimension)),
        _ => (-1, 0),
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
            ScanRecords(handle, position, length, rows, hash, (row, record) =>
            {
                ParseRecord(record, out var id, out var metadata, out var signature, out var slot);
                index.SetLoaded(row, id, slot, metadata, signature);
            });
            return hash.GetCurrentHashAsUInt64() == expectedHash ? null : "records checksum mismatch";
        }
        catch (InvalidDataException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>One whole record of the records section, and its row.</summary>
    private delegate void RecordVisitor(int row, ReadOnlySpan<byte> record);

    /// <summary>Hands every record of the section to <paramref name="visit"/> in order, hashing the section's bytes as it reads them.</summary>
    private static void ScanRecords(SafeFileHandle handle, long position, long length, int rows, XxHash3 hash, RecordVisitor visit)
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
                var size = RecordSize(available);
                if (size == 0)
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

                visit(row++, available[..size]);
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

    /// <summary>The size of the record at the start of <paramref name="span"/>, or 0 when the span ends inside it.</summary>
    private static int RecordSize(ReadOnlySpan<byte> span)
    {
        if (span.Length < 4)
        {
            return 0;
        }

        var idLength = BinaryPrimitives.ReadInt32LittleEndian(span);
        if (idLength is < 1 or > 1 << 20)
        {
            throw new InvalidDataException("bad id length");
        }

        if (span.Length < 4 + idLength + 4)
        {
            return 0;
        }

        var metadataLength = BinaryPrimitives.ReadInt32LittleEndian(span[(4 + idLength)..]);
        if (metadataLength is < 2 or > 1 << 24)
        {
            throw new InvalidDataException("bad metadata length");
        }

        var size = 4 + idLength + 4 + metadataLength + 16 + 8;
        return span.Length < size ? 0 : size;
    }

    /// <summary>The slot a whole record names (its last 8 bytes).</summary>
    private static long SlotOf(ReadOnlySpan<byte> record)
    {
        var slot = BinaryPrimitives.ReadInt64LittleEndian(record[^8..]);
        return slot >= 0 ? slot : throw new InvalidDataException("bad vector slot");
    }

    private static void ParseRecord(ReadOnlySpan<byte> record, out string id, out byte[] metadata, out FilterSignature signature, out long slot)
    {
        var idLength = BinaryPrimitives.ReadInt32LittleEndian(record);
        var metadataLength = BinaryPrimitives.ReadInt32LittleEndian(record[(4 + idLength)..]);
        id = Encoding.UTF8.GetString(record.Slice(4, idLength));
        var json = record.Slice(8 + idLength, metadataLength);
        metadata = json.SequenceEqual(MetadataJson.Empty) ? MetadataJson.Empty : json.ToArray();
        var at = 8 + idLength + metadataLength;
        signature = new FilterSignature(BinaryPrimitives.ReadUInt64LittleEndian(record[at..]), BinaryPrimitives.ReadUInt64LittleEndian(record[(at + 8)..]));
        slot = SlotOf(record);
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
