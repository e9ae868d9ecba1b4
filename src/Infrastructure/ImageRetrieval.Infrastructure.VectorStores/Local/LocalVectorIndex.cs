using System.Collections.ObjectModel;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>How the Local store scans: int8 or 4-bit codes first and fp32 re-scoring of the best, or fp32 for every row.</summary>
public enum LocalIndexKind
{
    /// <summary>int8 codes (one byte a dimension, scaled per dimension), then fp32 re-scoring.</summary>
    Quantized,

    /// <summary>fp32 for every row.</summary>
    Exact,

    /// <summary>4-bit codes (half a byte a dimension, centred and scaled per dimension), then fp32 re-scoring of a wider candidate set.</summary>
    Int4,
}

/// <summary>
/// The in-memory copy of one collection, in chunks of <see cref="ChunkRows"/> rows: per chunk the
/// rows' codes (quantized kinds, row <c>i</c> at <c>i * CodeStride</c>), ids, vector segment slots,
/// metadata as UTF-8 JSON and a Bloom signature of the metadata. The fp32 unit vectors are not copied
/// here: they are read by slot from the collection's <see cref="LocalVectorSegment"/> (a memory map of
/// the file), or, for an index without one, from blocks of its own (<see cref="VectorOf"/>). Chunks grow
/// without copying what is there and split a scan across cores naturally.
/// Not thread-safe: <see cref="LocalVectorStore"/> guards it with a reader/writer lock.
/// </summary>
internal sealed class LocalVectorIndex
{
    internal const int ChunkShift = 14;
    internal const int ChunkRows = 1 << ChunkShift;

    /// <summary>
    /// Below this many bytes scanned one core finishes before parallel workers pay off; above it the
    /// scan is split across cores. Measured on 2 cores at 384-d fp32: 10k rows 1.0 ms serial vs 2.5 ms
    /// split, 25k rows break even (~1.7 ms), 100k rows 6.8 ms serial vs 3.7 ms split. 64 MB is ~42k rows of 384-d fp32.
    /// </summary>
    internal const long ParallelScanBytes = 64_000_000;

    /// <summary>Below this many rows the quantized kind scans fp32 anyway: it is as fast and exact, and too few rows calibrate poorly.</summary>
    internal const int QuantizeMinRows = 2048;

    private const int InitialCapacity = 64;

    /// <summary>Rows a scan worker takes at a time: 4096 rows are 0.75 MB of a 768-d high plane, 12 MB of fp32.</summary>
    private const int ScanBlockRows = 4096;

    private readonly Dictionary<string, int> _rowById;

    // Where the fp32 vectors are: the segment, or (no segment) blocks of ChunkRows slots owned here.
    private readonly LocalVectorSegment? _segment;
    private float[][] _ownVectors = [];
    private readonly Lock _sortedGate = new();
    private SortedSet<string>? _sortedIds;
    private readonly List<Chunk> _chunks = [];
    private readonly bool _quantized;
    private readonly bool _int4;
    private readonly int _codeStride;
    private float[] _scales;
    private float[] _inverseScales;
    private float[] _means;
    private int _calibratedRows;
    private sbyte[]? _loadBuffer;

    /// <param name="segment">The segment whose slots hold the rows' vectors (written and committed there
    /// before a row names them); without one the index keeps a copy of each upserted vector.</param>
    public LocalVectorIndex(int dimension, LocalIndexKind kind = LocalIndexKind.Quantized, int capacity = 0, int rescoreFactor = DefaultRescoreFactor, LocalVectorSegment? segment = null)
    {
        if (segment is not null && segment.Dimension != dimension)
        {
            throw new ArgumentException($"The segment holds {segment.Dimension}-d vectors, the index {dimension}-d.", nameof(segment));
        }

        _segment = segment;
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rescoreFactor, 1);
        Dimension = dimension;
        Kind = kind;
        RescoreFactor = rescoreFactor;
        _quantized = kind != LocalIndexKind.Exact;
        _int4 = kind == LocalIndexKind.Int4;
        _codeStride = _int4 ? Int4Dot.PlaneStride(dimension) : dimension;
        _rowById = new Dictionary<string, int>(capacity, StringComparer.Ordinal);
        _scales = new float[dimension];
        _inverseScales = new float[dimension];
        _means = new float[dimension];
        Reserve(capacity);
    }

    /// <summary>Candidates re-scored in fp32 per result asked for (at least <see cref="MinCandidates"/>).</summary>
    public const int DefaultRescoreFactor = 10;

    internal const int MinCandidates = 100;

    /// <summary>
    /// The 4-bit kind re-scores at least this many candidates in fp32. They are the best by the full
    /// 4-bit estimate, which rarely misplaces a true top-10 row past the first hundred.
    /// </summary>
    internal const int Int4MinRescored = 200;

    /// <summary>
    /// The 4-bit kind's first pass ranks rows by the high 2-bit halves of their codes alone (half the
    /// bytes of a full 4-bit scan; the scan is bound by memory bandwidth) and keeps at least this many
    /// for the full 4-bit estimate.
    /// </summary>
    internal const int Int4MinFirstPass = 2000;

    /// <summary>
    /// ... and at least this share of the rows (1 / this): how far down a 2-bit ranking a true
    /// neighbour can fall grows with the collection.
    /// </summary>
    internal const int Int4FirstPassShare = 512;

    /// <summary>
    /// The 4-bit step of a dimension in its standard deviations: 16 levels then span about ±2.9σ, near
    /// the mean-square optimum of a uniform 16-level quantizer for Gaussian data (0.34σ) with some room
    /// for heavier tails.
    /// </summary>
    internal const float Int4StepSigmas = 0.36f;

    /// <summary>The kind of codes the index scans and the vector file stores: 0 none, 1 int8, 2 4-bit.</summary>
    internal int CodeKind => !UsesCodes ? 0 : _int4 ? 2 : 1;

    /// <summary>Bytes of codes a row takes in a chunk's code array (the 4-bit kind has two such arrays, one a plane).</summary>
    internal int CodeStride => _codeStride;

    public int Dimension { get; }

    public LocalIndexKind Kind { get; }

    public int RescoreFactor { get; }

    public int Count { get; private set; }

    /// <summary>True once int8 codes exist and queries use them.</summary>
    public bool UsesCodes => _quantized && _calibratedRows > 0;

    public bool Contains(string id) => _rowById.ContainsKey(id);

    /// <summary>
    /// The parameters rows are coded with now, or null while rows get no codes. A calibration replaces the
    /// object (never changes it), so codes made with it (<see cref="EncodeInto"/>) are current exactly
    /// while <see cref="Coding"/> is still the same reference.
    /// </summary>
    internal object? Coding => UsesCodes ? _inverseScales : null;

    /// <summary>Bytes of codes a row has (the 4-bit kind's two planes, high then low).</summary>
    internal int CodeBytes => _int4 ? 2 * _codeStride : _codeStride;

    /// <summary>
    /// Codes a unit vector as <see cref="Upsert"/> would with the current <see cref="Coding"/>, into
    /// <paramref name="codes"/> (<see cref="CodeBytes"/> long). Reads only the coding parameters, so a
    /// batch runs it on several threads while the store's exclusive lock keeps them fixed.
    /// </summary>
    internal void EncodeInto(ReadOnlySpan<float> unitVector, Span<sbyte> codes)
    {
        if (_int4)
        {
            Int4Dot.EncodePlanes(unitVector, MemoryMarshal.AsBytes(codes[.._codeStride]), MemoryMarshal.AsBytes(codes.Slice(_codeStride, _codeStride)), _means, _inverseScales);
        }
        else
        {
            Quantize(unitVector, codes[.._codeStride], _inverseScales);
        }
    }

    /// <summary>
    /// Inserts or replaces; <paramref name="unitVector"/> must already be L2-normalised; <paramref name="slot"/>
    /// is its place in the vector segment (which holds it already; an index without a segment copies it).
    /// <paramref name="codes"/> made by <see cref="EncodeInto"/> with <paramref name="codedWith"/> are
    /// taken as they are when that is still the <see cref="Coding"/>; otherwise the row is coded here.
    /// </summary>
    public void Upsert(string id, long slot, ReadOnlySpan<float> unitVector, byte[] metadata, FilterSignature signature, ReadOnlySpan<sbyte> codes = default, object? codedWith = null)
    {
        Put(id, slot, unitVector, metadata, signature, codes, codedWith);
        CalibrateWhenDue();
    }

    /// <summary>
    /// Re-calibrates when the collection has doubled since the last calibration, which keeps the scales
    /// true to the data for O(1) amortised work per row. Reads every row's vector, so only once their
    /// slots are committed.
    /// </summary>
    internal void CalibrateWhenDue()
    {
        if (_quantized && Count >= QuantizeMinRows && Count >= 2L * _calibratedRows)
        {
            Calibrate();
        }
    }

    /// <summary>
    /// <see cref="Upsert"/> of a batch's rows whose slots are not committed yet, beside the commit: nothing
    /// is re-calibrated (that reads committed vectors; <see cref="CalibrateWhenDue"/> after the commit codes
    /// every row again if it is due), and what each row replaced goes to <paramref name="undo"/>, so that
    /// <see cref="Revert"/> can put memory back should the commit fail. Only under the store's exclusive lock.
    /// </summary>
    internal void UpsertPending(PreparedBatch batch, PendingRows undo)
    {
        var rows = batch.Rows;
        for (var i = 0; i < rows.Length; i++)
        {
            var row = rows[i];
            if (batch.ReplacedSlot(i) >= 0 && _rowById.TryGetValue(row.Id, out var existing))
            {
                var (chunk, offset) = Locate(existing);
                sbyte[]? codes = null;
                if (UsesCodes && chunk.Codes is not null)
                {
                    codes = new sbyte[CodeBytes];
                    chunk.Code(offset, _codeStride).CopyTo(codes);
                    if (_int4)
                    {
                        chunk.LowCode(offset, _codeStride).CopyTo(codes.AsSpan(_codeStride));
                    }
                }

                undo.Replaced.Add((existing, chunk.Slots[offset], chunk.Metadata[offset], chunk.Signatures[offset], codes));
            }

            Put(row.Id, batch.FirstSlot + i, batch.Vector(i), row.MetadataBytes, row.Signature, batch.Codes(i), batch.CodedWith);
        }
    }

    /// <summary>Undoes an <see cref="UpsertPending"/> (whole or cut short): the rows it added are dropped (they are the last ones), the ones it replaced get back what they held.</summary>
    internal void Revert(PendingRows undo)
    {
        for (var row = Count - 1; row >= undo.CountBefore; row--)
        {
            var (chunk, offset) = Locate(row);
            _rowById.Remove(chunk.Ids[offset]);
            _sortedIds?.Remove(chunk.Ids[offset]);
            chunk.Ids[offset] = null!;
            chunk.Metadata[offset] = null!;
        }

        Count = Math.Min(Count, undo.CountBefore);
        foreach (var (row, slot, metadata, signature, codes) in undo.Replaced)
        {
            var (chunk, offset) = Locate(row);
            chunk.Slots[offset] = slot;
            chunk.Metadata[offset] = metadata;
            chunk.Signatures[offset] = signature;
            if (codes is not null)
            {
                codes.AsSpan(0, _codeStride).CopyTo(chunk.Code(offset, _codeStride));
                if (_int4)
                {
                    codes.AsSpan(_codeStride).CopyTo(chunk.LowCode(offset, _codeStride));
                }
            }
        }
    }

    /// <summary>What an <see cref="UpsertPending"/> changed: the row count before it and each replaced row's former slot, metadata, signature and codes.</summary>
    internal sealed class PendingRows(int countBefore)
    {
        public int CountBefore { get; } = countBefore;

        public List<(int Row, long Slot, byte[] Metadata, FilterSignature Signature, sbyte[]? Codes)> Replaced { get; } = [];
    }

    private void Put(string id, long slot, ReadOnlySpan<float> unitVector, byte[] metadata, FilterSignature signature, ReadOnlySpan<sbyte> codes, object? codedWith)
    {
        if (_segment is null)
        {
            KeepVector(slot, unitVector);
        }

        // Room first, so a failure to grow leaves no id in the map without its row; one hash lookup for both cases.
        EnsureCapacity(Count + 1);
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_rowById, id, out var exists);
        if (!exists)
        {
            entry = Count++;
            _sortedIds?.Add(id);
        }

        var row = entry;
        var (chunk, offset) = Locate(row);
        chunk.Ids[offset] = id;
        chunk.Slots[offset] = slot;
        chunk.Metadata[offset] = metadata;
        chunk.Signatures[offset] = signature;
        if (UsesCodes)
        {
            if (codedWith is not null && ReferenceEquals(codedWith, _inverseScales) && codes.Length == CodeBytes)
            {
                codes[.._codeStride].CopyTo(chunk.Code(offset, _codeStride));
                if (_int4)
                {
                    codes[_codeStride..].CopyTo(chunk.LowCode(offset, _codeStride));
                }
            }
            else
            {
                Encode(unitVector, chunk, offset);
            }
        }
    }

    /// <summary>Swap-removes: the last row moves into the hole so the chunks stay dense.</summary>
    public bool Remove(string id)
    {
        if (!_rowById.Remove(id, out var row))
        {
            return false;
        }

        _sortedIds?.Remove(id);
        var last = Count - 1;
        var (lastChunk, lastOffset) = Locate(last);
        if (row != last)
        {
            var (chunk, offset) = Locate(row);
            if (chunk.Codes is not null && lastChunk.Codes is not null)
            {
                lastChunk.Code(lastOffset, _codeStride).CopyTo(chunk.Code(offset, _codeStride));
                if (chunk.LowCodes is not null && lastChunk.LowCodes is not null)
                {
                    lastChunk.LowCode(lastOffset, _codeStride).CopyTo(chunk.LowCode(offset, _codeStride));
                }
            }

            chunk.Ids[offset] = lastChunk.Ids[lastOffset];
            chunk.Slots[offset] = lastChunk.Slots[lastOffset];
            chunk.Metadata[offset] = lastChunk.Metadata[lastOffset];
            chunk.Signatures[offset] = lastChunk.Signatures[lastOffset];
            _rowById[chunk.Ids[offset]] = row;
        }

        lastChunk.Ids[lastOffset] = null!;
        lastChunk.Metadata[lastOffset] = null!;
        Count = last;
        return true;
    }

    /// <summary>The vector segment slot of <paramref name="id"/>'s row, or -1 when there is none.</summary>
    public long SlotOf(string id)
    {
        if (!_rowById.TryGetValue(id, out var row))
        {
            return -1;
        }

        var (chunk, offset) = Locate(row);
        return chunk.Slots[offset];
    }

    /// <summary>
    /// Up to <paramref name="limit"/> ids after <paramref name="after"/> in SQLite's BINARY (UTF-8 byte)
    /// order, which listing has always used. The sorted set is built on the first listing (a fill or a
    /// reopen that never lists does not pay for it) and kept up to date by writes from then on.
    /// Safe beside other readers: building it is serialised, writers hold the store's exclusive lock.
    /// </summary>
    public List<string> ListIds(string? after, int limit)
    {
        SortedSet<string> sorted;
        lock (_sortedGate)
        {
            sorted = _sortedIds ??= new SortedSet<string>(_rowById.Keys, Utf8Order.Instance);
        }

        var ids = new List<string>(Math.Min(limit, 1024));
        if (sorted.Count == 0 || (after is not null && Utf8Order.Instance.Compare(after, sorted.Max!) >= 0))
        {
            return ids;
        }

        foreach (var id in after is null ? sorted : sorted.GetViewBetween(after, sorted.Max!))
        {
            if (after is not null && id == after)
            {
                continue;
            }

            ids.Add(id);
            if (ids.Count == limit)
            {
                break;
            }
        }

        return ids;
    }

    public VectorRecord? Get(string id, bool includeVector)
    {
        if (!_rowById.TryGetValue(id, out var row))
        {
            return null;
        }

        var (chunk, offset) = Locate(row);
        var vector = includeVector ? VectorOf(chunk, offset).ToArray() : ReadOnlyMemory<float>.Empty;
        return new VectorRecord(id, vector, MetadataJson.Parse(chunk.Metadata[offset]));
    }

    public ReadOnlyDictionary<string, JsonElement>? GetMetadata(string id)
    {
        if (!_rowById.TryGetValue(id, out var row))
        {
            return null;
        }

        var (chunk, offset) = Locate(row);
        return MetadataJson.Parse(chunk.Metadata[offset]);
    }

    /// <summary>
    /// Top-k by dot product (cosine, since rows and <paramref name="unitQuery"/> are unit length), best
    /// first, equal scores ordered by id. The quantized kind ranks every row by its int8 codes, keeps the
    /// best <c>k x RescoreFactor</c> that pass the filter and re-scores those in fp32, so returned scores
    /// are always exact. Results carry metadata but no vector.
    /// </summary>
    /// <param name="firstPass">The 4-bit kind's first-pass candidate count instead of the default (for measuring the trade-off).</param>
    public List<ScoredRecord> Search(float[] unitQuery, int topK, MetadataFilter? filter, float? minScore, IReadOnlyCollection<string>? excludeIds, bool? parallel = null, LocalIndexKind? kind = null, int? firstPass = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        if (unitQuery.Length != Dimension)
        {
            throw new ArgumentException($"The query vector has {unitQuery.Length} dimensions but the collection has {Dimension}.", nameof(unitQuery));
        }

        if (Count == 0)
        {
            return [];
        }

        HashSet<int>? excludedRows = null;
        if (excludeIds is { Count: > 0 })
        {
            excludedRows = [];
            foreach (var id in excludeIds)
            {
                if (_rowById.TryGetValue(id, out var row))
                {
                    excludedRows.Add(row);
                }
            }
        }

        var scan = new ScanParameters(unitQuery, Math.Min(topK, Math.Max(Count, 1)), filter is null ? null : new CompiledFilter(filter), minScore ?? float.NegativeInfinity, excludedRows);
        var useCodes = UsesCodes && (kind ?? Kind) != LocalIndexKind.Exact;
        var bytesScanned = (long)Count * (useCodes ? _codeStride : Dimension * sizeof(float));
        var partitions = parallel ?? (bytesScanned >= ParallelScanBytes && Environment.ProcessorCount > 1) ? Environment.ProcessorCount : 1;
        var best = !useCodes ? SearchExact(scan, partitions) : _int4 ? SearchPlanes(scan, partitions, firstPass) : SearchCodes(scan, partitions);

        var ranked = best.DrainBestFirst();
        var results = new List<ScoredRecord>(ranked.Count);
        foreach (var (row, score) in ranked)
        {
            var (chunk, offset) = Locate(row);
            results.Add(new ScoredRecord(new VectorRecord(chunk.Ids[offset], ReadOnlyMemory<float>.Empty, MetadataJson.Parse(chunk.Metadata[offset])), score));
        }

        return results;
    }

    private TopK SearchExact(ScanParameters scan, int partitions)
    {
        var partials = RunShared(partitions, () => new TopK(scan.TopK), (local, start, end) => ScanExact(scan, start, end, local));
        var best = new TopK(scan.TopK);
        foreach (var partial in partials)
        {
            best.MergeFrom(partial);
        }

        return best;
    }

    private TopK SearchCodes(ScanParameters scan, int partitions)
    {
        var candidates = CandidateCount(scan.TopK, MinCandidates);
        var (query, magnitude) = QuantizeQuery(scan.Query);
        var merged = ScanCandidates(partitions, candidates, (local, start, end) => ScanCodes(scan, query, magnitude, start, end, local));
        return Rescore(scan, merged.Rows);
    }

    /// <summary>
    /// The 4-bit kind: the high plane ranks every row that passes the filter (the scan), the best
    /// <paramref name="firstPass"/> of those get their low plane added (a row's full 4-bit estimate is
    /// <c>4 x high + low</c>), and the best of those are re-scored in fp32.
    /// </summary>
    private TopK SearchPlanes(ScanParameters scan, int partitions, int? firstPass)
    {
        var rescored = CandidateCount(scan.TopK, Int4MinRescored);
        var candidates = Math.Min(Count, Math.Max(rescored, firstPass ?? Math.Max(Int4MinFirstPass, Count / Int4FirstPassShare)));
        var (quantized, _) = QuantizeQuery(scan.Query);
        var query = Int4Dot.LayOutForPlanes(quantized);
        var merged = ScanCandidates(partitions, candidates, (local, start, end) => ScanHighPlane(scan, query, start, end, local));

        // The candidates' low planes are scattered reads; in row order they come in address order.
        var refined = new CandidateBuffer(rescored);
        var stride = _codeStride;
        foreach (var entry in merged.SortedByRow())
        {
            var row = (int)(entry >> 32);
            var (chunk, offset) = Locate(row);
            var estimate = (4 * (int)entry) + Int4Dot.PlaneDot(MemoryMarshal.AsBytes(chunk.LowCode(offset, stride)), query);
            if (refined.MayAccept(estimate))
            {
                refined.Offer(estimate, row);
            }
        }

        return Rescore(scan, refined.Rows);
    }

    /// <summary>The code estimates only choose candidates; the returned scores and order come from fp32.</summary>
    /// <summary>How many code-ranked rows go on to the next, finer score: never fewer than the answer needs.</summary>
    private int CandidateCount(int topK, int minimum) => Math.Min(Count, Math.Max(topK * RescoreFactor, Math.Max(minimum, topK)));

    /// <summary>Runs a code scan on the workers, each into its own buffer, and merges their best.</summary>
    private CandidateBuffer ScanCandidates(int partitions, int capacity, Action<CandidateBuffer, int, int> scan)
    {
        var merged = new CandidateBuffer(capacity);
        foreach (var partial in RunShared(partitions, () => new CandidateBuffer(capacity), scan))
        {
            partial.MoveTo(merged);
        }

        return merged;
    }

    private TopK Rescore(ScanParameters scan, ReadOnlySpan<int> rows)
    {
        var best = new TopK(scan.TopK);
        ReadOnlySpan<float> unit = scan.Query;
        foreach (var row in rows)
        {
            var (chunk, offset) = Locate(row);
            var score = TensorPrimitives.Dot(unit, VectorOf(chunk, offset));
            if (score >= scan.MinScore)
            {
                best.Offer(row, score, chunk.Ids[offset]);
            }
        }

        return best;
    }

    private void ScanExact(ScanParameters scan, int start, int end, TopK best)
    {
        var dimension = Dimension;
        ReadOnlySpan<float> query = scan.Query;
        for (var row = start; row < end;)
        {
            var chunk = _chunks[row >> ChunkShift];
            var chunkStart = row & (ChunkRows - 1);
            var chunkEnd = Math.Min(chunkStart + (end - row), chunk.Ids.Length);
            for (var offset = chunkStart; offset < chunkEnd; offset++, row++)
            {
                if (scan.ExcludedRows is not null && scan.ExcludedRows.Contains(row))
                {
                    continue;
                }

                if (scan.Filter is not null && !scan.Filter.MayMatch(chunk.Signatures[offset]))
                {
                    continue;
                }

                var score = TensorPrimitives.Dot(query, VectorOf(chunk, offset));
                if (score < scan.MinScore || !best.MayAccept(score))
                {
                    continue;
                }

                // Parsing the JSON costs more than the dot product, so only rows that would make the cut pay it.
                if (scan.Filter is null || scan.Filter.Matches(chunk.Metadata[offset]))
                {
                    best.Offer(row, score, chunk.Ids[offset]);
                }
            }
        }
    }

    private void ScanCodes(ScanParameters scan, sbyte[] query, byte[] magnitude, int start, int end, CandidateBuffer best)
    {
        var dimension = Dimension;
        for (var row = start; row < end;)
        {
            var chunk = _chunks[row >> ChunkShift];
            var chunkStart = row & (ChunkRows - 1);
            var chunkEnd = Math.Min(chunkStart + (end - row), chunk.Ids.Length);
            var codes = chunk.Codes!;
            for (var offset = chunkStart; offset < chunkEnd; offset++, row++)
            {
                if (scan.ExcludedRows is not null && scan.ExcludedRows.Contains(row))
                {
                    continue;
                }

                if (scan.Filter is not null && !scan.Filter.MayMatch(chunk.Signatures[offset]))
                {
                    continue;
                }

                var estimate = Int8Dot.Dot(new ReadOnlySpan<sbyte>(codes, offset * dimension, dimension), query, magnitude);
                if (!best.MayAccept(estimate))
                {
                    continue;
                }

                if (scan.Filter is null || scan.Filter.Matches(chunk.Metadata[offset]))
                {
                    best.Offer(estimate, row);
                }
            }
        }
    }

    private void ScanHighPlane(ScanParameters scan, sbyte[] query, int start, int end, CandidateBuffer best)
    {
        var stride = _codeStride;
        var excluded = scan.ExcludedRows;
        var filter = scan.Filter;
        for (var row = start; row < end;)
        {
            var chunk = _chunks[row >> ChunkShift];
            var chunkStart = row & (ChunkRows - 1);
            var chunkEnd = Math.Min(chunkStart + (end - row), chunk.Ids.Length);
            var codes = MemoryMarshal.AsBytes(chunk.Codes!.AsSpan());
            if (excluded is null && filter is null)
            {
                // The common case: nothing but the dot product and one comparison a row.
                for (var offset = chunkStart; offset < chunkEnd; offset++, row++)
                {
                    var estimate = Int4Dot.PlaneDot(codes.Slice(offset * stride, stride), query);
                    if (best.MayAccept(estimate))
                    {
                        best.Offer(estimate, row);
                    }
                }

                continue;
            }

            for (var offset = chunkStart; offset < chunkEnd; offset++, row++)
            {
                if (excluded is not null && excluded.Contains(row))
                {
                    continue;
                }

                if (filter is not null && !filter.MayMatch(chunk.Signatures[offset]))
                {
                    continue;
                }

                var estimate = Int4Dot.PlaneDot(codes.Slice(offset * stride, stride), query);
                if (!best.MayAccept(estimate))
                {
                    continue;
                }

                if (filter is null || filter.Matches(chunk.Metadata[offset]))
                {
                    best.Offer(estimate, row);
                }
            }
        }
    }

    /// <summary>
    /// A search's scan on <paramref name="workers"/> workers that take blocks of <see cref="ScanBlockRows"/>
    /// rows from a shared counter, each into its own state: a worker that starts late or loses its core
    /// to another process leaves its share to the others instead of holding the query up, as fixed halves did.
    /// </summary>
    private T[] RunShared<T>(int workers, Func<T> create, Action<T, int, int> scan)
    {
        var count = Count;
        var blocks = (count + ScanBlockRows - 1) / ScanBlockRows;
        if (workers <= 1 || blocks < 2)
        {
            var only = create();
            scan(only, 0, count);
            return [only];
        }

        var results = new T[workers];
        var next = -1;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            var local = create();
            int block;
            while ((block = Interlocked.Increment(ref next)) < blocks)
            {
                var start = block * ScanBlockRows;
                scan(local, start, Math.Min(count, start + ScanBlockRows));
            }

            results[w] = local;
        });
        return results;
    }

    /// <summary>Splits [0, Count) into <paramref name="partitions"/> contiguous ranges, one worker each.</summary>
    private T[] RunPartitioned<T>(int partitions, Func<int, int, T> scan)
    {
        var count = Count;
        if (partitions <= 1 || count < partitions)
        {
            return [scan(0, count)];
        }

        var results = new T[partitions];
        var perPartition = (count + partitions - 1) / partitions;
        Parallel.For(0, partitions, p =>
        {
            var start = Math.Min(count, p * perPartition);
            results[p] = scan(start, Math.Min(count, start + perPartition));
        });
        return results;
    }

    /// <summary>
    /// The query in the codes' space: each dimension weighted by its scale (so that code·weighted ≈ the
    /// fp32 dot product), then quantized with one scale of its own, which a ranking does not need.
    /// </summary>
    private (sbyte[] Query, byte[] Magnitude) QuantizeQuery(ReadOnlySpan<float> unitQuery)
    {
        var weighted = new float[Dimension];
        TensorPrimitives.Multiply(unitQuery, _scales, weighted);
        var max = TensorPrimitives.MaxMagnitude(weighted);
        var scale = new float[Dimension];
        scale.AsSpan().Fill(max == 0 ? 1f : 127f / MathF.Abs(max));
        var query = new sbyte[Dimension];
        Quantize(weighted, query, scale);
        var magnitude = new byte[Dimension];
        for (var i = 0; i < query.Length; i++)
        {
            magnitude[i] = (byte)Math.Abs(query[i]);
        }

        return (query, magnitude);
    }

    /// <summary>
    /// Per-dimension scales from the data: the largest |value| of each dimension maps to 127, so every
    /// dimension uses the full int8 range however unevenly the model spreads its energy. Rows added later
    /// with a larger value are clipped until the next calibration.
    /// </summary>
    internal void Calibrate()
    {
        if (_int4)
        {
            CalibrateInt4();
            return;
        }

        var count = Count;
        var dimension = Dimension;
        var partitions = (long)count * dimension * sizeof(float) >= ParallelScanBytes ? Environment.ProcessorCount : 1;
        var maxima = RunPartitioned(partitions, (start, end) =>
        {
            var max = new float[dimension];
            for (var row = start; row < end; row++)
            {
                var (chunk, offset) = Locate(row);
                TensorPrimitives.MaxMagnitude(max, VectorOf(chunk, offset), max);
            }

            TensorPrimitives.Abs(max, max);
            return max;
        });
        var largest = new float[dimension];
        foreach (var max in maxima)
        {
            TensorPrimitives.Max(largest, max, largest);
        }

        var scales = new float[dimension];
        var inverse = new float[dimension];
        for (var d = 0; d < dimension; d++)
        {
            scales[d] = largest[d] > 0 ? largest[d] / 127f : 1f;
            inverse[d] = 1f / scales[d];
        }

        _scales = scales;
        _inverseScales = inverse;
        EncodeAll(partitions);
        _calibratedRows = count;
    }

    /// <summary>
    /// 4-bit calibration: each dimension is centred on its mean (embeddings are often far from zero-mean,
    /// and 16 levels cannot afford to spend half the range on an offset) and stepped in
    /// <see cref="Int4StepSigmas"/> of its standard deviation. Sums are taken per chunk in fp32 and
    /// added up in fp64, which keeps a million rows' mean exact enough for a code step.
    /// </summary>
    private void CalibrateInt4()
    {
        var count = Count;
        var dimension = Dimension;
        var partitions = (long)count * dimension * sizeof(float) >= ParallelScanBytes ? Environment.ProcessorCount : 1;
        var moments = RunPartitioned(partitions, (start, end) =>
        {
            var sum = new double[dimension];
            var squares = new double[dimension];
            var chunkSum = new float[dimension];
            var chunkSquares = new float[dimension];
            for (var row = start; row < end;)
            {
                var stop = Math.Min(end, ((row >> ChunkShift) + 1) << ChunkShift);
                chunkSum.AsSpan().Clear();
                chunkSquares.AsSpan().Clear();
                for (; row < stop; row++)
                {
                    var (chunk, offset) = Locate(row);
                    var vector = VectorOf(chunk, offset);
                    TensorPrimitives.Add(chunkSum, vector, chunkSum);
                    TensorPrimitives.MultiplyAdd(vector, vector, chunkSquares, chunkSquares);
                }

                for (var d = 0; d < dimension; d++)
                {
                    sum[d] += chunkSum[d];
                    squares[d] += chunkSquares[d];
                }
            }

            return (Sum: sum, Squares: squares);
        });

        var means = new float[dimension];
        var steps = new float[dimension];
        var inverse = new float[dimension];
        for (var d = 0; d < dimension; d++)
        {
            var sum = 0.0;
            var squares = 0.0;
            foreach (var (s, q) in moments)
            {
                sum += s[d];
                squares += q[d];
            }

            var mean = sum / count;
            var deviation = Math.Sqrt(Math.Max(0, (squares / count) - (mean * mean)));
            means[d] = (float)mean;
            steps[d] = deviation > 1e-12 ? (float)(deviation * Int4StepSigmas) : 1f;
            inverse[d] = 1f / steps[d];
        }

        _means = means;
        _scales = steps;
        _inverseScales = inverse;
        EncodeAll(partitions);
        _calibratedRows = count;
    }

    /// <summary>Codes every row with the current scales (after a calibration).</summary>
    private void EncodeAll(int partitions)
    {
        foreach (var chunk in _chunks)
        {
            AllocateCodes(chunk);
        }

        RunPartitioned(partitions, (start, end) =>
        {
            for (var row = start; row < end; row++)
            {
                var (chunk, offset) = Locate(row);
                Encode(VectorOf(chunk, offset), chunk, offset);
            }

            return true;
        });
    }

    private void Encode(ReadOnlySpan<float> vector, Chunk chunk, int offset)
    {
        if (_int4)
        {
            Int4Dot.EncodePlanes(vector, MemoryMarshal.AsBytes(chunk.Code(offset, _codeStride)), MemoryMarshal.AsBytes(chunk.LowCode(offset, _codeStride)), _means, _inverseScales);
        }
        else
        {
            Quantize(vector, chunk.Code(offset, _codeStride), _inverseScales);
        }
    }

    private void AllocateCodes(Chunk chunk)
    {
        chunk.Codes ??= GC.AllocateUninitializedArray<sbyte>(chunk.Ids.Length * _codeStride);
        if (_int4)
        {
            chunk.LowCodes ??= GC.AllocateUninitializedArray<sbyte>(chunk.Ids.Length * _codeStride);
        }
    }

    /// <summary>
    /// codes = clamp(round(vector x inverseScales), -127, 127): never -128, which the AVX2 sign trick
    /// in <see cref="Int8Dot"/> cannot negate. SSE packs with saturation in element
    /// order (TensorPrimitives' float-to-sbyte conversion is not vectorised), which made this 60% of a reopen.
    /// </summary>
    internal static void Quantize(ReadOnlySpan<float> vector, Span<sbyte> codes, ReadOnlySpan<float> inverseScales)
    {
        var length = vector.Length;
        var i = 0;
        ref var v = ref MemoryMarshal.GetReference(vector);
        ref var s = ref MemoryMarshal.GetReference(inverseScales);
        if (Sse41.IsSupported)
        {
            ref var c = ref MemoryMarshal.GetReference(codes);
            var floor = Vector128.Create((sbyte)-127);
            for (; i + 16 <= length; i += 16)
            {
                // cvtps2dq rounds half to even, as MathF.Round does below.
                var a = Sse2.ConvertToVector128Int32(Vector128.LoadUnsafe(ref v, (nuint)i) * Vector128.LoadUnsafe(ref s, (nuint)i));
                var b = Sse2.ConvertToVector128Int32(Vector128.LoadUnsafe(ref v, (nuint)(i + 4)) * Vector128.LoadUnsafe(ref s, (nuint)(i + 4)));
                var d = Sse2.ConvertToVector128Int32(Vector128.LoadUnsafe(ref v, (nuint)(i + 8)) * Vector128.LoadUnsafe(ref s, (nuint)(i + 8)));
                var e = Sse2.ConvertToVector128Int32(Vector128.LoadUnsafe(ref v, (nuint)(i + 12)) * Vector128.LoadUnsafe(ref s, (nuint)(i + 12)));
                var packed = Sse2.PackSignedSaturate(Sse2.PackSignedSaturate(a, b), Sse2.PackSignedSaturate(d, e));
                Sse41.Max(packed, floor).StoreUnsafe(ref c, (nuint)i);
            }
        }

        for (; i < length; i++)
        {
            codes[i] = (sbyte)Math.Clamp(MathF.Round(Unsafe.Add(ref v, i) * Unsafe.Add(ref s, i)), -127f, 127f);
        }
    }


    // ---- bulk loading (vector file, SQLite rebuild) ----

    /// <summary>
    /// The fp32 unit vector of the row at <paramref name="offset"/> of <paramref name="chunk"/>: read in
    /// place from the segment by the row's slot (valid while the caller holds the store's lock), so rows
    /// are not contiguous in memory; scans and re-scoring read every row through here.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<float> VectorOf(Chunk chunk, int offset) => VectorAtSlot(chunk.Slots[offset]);

    /// <summary>The fp32 unit vector of row <paramref name="row"/> (see <see cref="VectorOf"/>).</summary>
    internal ReadOnlySpan<float> Vector(int row)
    {
        var (chunk, offset) = Locate(row);
        return VectorOf(chunk, offset);
    }

    private ReadOnlySpan<float> VectorAtSlot(long slot) => _segment is { } segment
        ? segment.Row(slot)
        : _ownVectors[(int)(slot >> ChunkShift)].AsSpan((int)(slot & (ChunkRows - 1)) * Dimension, Dimension);

    /// <summary>An index without a segment keeps its vectors by slot in blocks of <see cref="ChunkRows"/> slots.</summary>
    private void KeepVector(long slot, ReadOnlySpan<float> unitVector)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        var block = (int)(slot >> ChunkShift);
        if (block >= _ownVectors.Length)
        {
            Array.Resize(ref _ownVectors, Math.Max(block + 1, _ownVectors.Length * 2));
        }

        var vectors = _ownVectors[block] ??= GC.AllocateUninitializedArray<float>(ChunkRows * Dimension);
        unitVector.CopyTo(vectors.AsSpan((int)(slot & (ChunkRows - 1)) * Dimension, Dimension));
    }

    /// <summary>
    /// Appends <paramref name="rows"/> rows for a bulk load (the vector file) to describe with
    /// <see cref="SetLoaded"/> and <see cref="LoadCodes"/>; their vectors are in the segment already.
    /// </summary>
    internal void AppendRows(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (_segment is null && rows > 0)
        {
            throw new InvalidOperationException("Rows are loaded in bulk only into an index that reads its vectors from a segment.");
        }

        EnsureCapacity(Count + rows);
        Count += rows;
    }

    /// <summary>Sets the id, slot and metadata of a row made by <see cref="AppendRows"/>; a repeated id means the source is corrupt.</summary>
    internal void SetLoaded(int row, string id, long slot, byte[] metadata, FilterSignature signature)
    {
        if (_segment is not null && slot >= _segment.Committed)
        {
            throw new InvalidDataException($"Record '{id}' names vector slot {slot}, past the segment's {_segment.Committed} committed slots.");
        }

        if (!_rowById.TryAdd(id, row))
        {
            throw new InvalidDataException($"Record '{id}' appears twice.");
        }

        var (chunk, offset) = Locate(row);
        chunk.Ids[offset] = id;
        chunk.Slots[offset] = slot;
        chunk.Metadata[offset] = metadata;
        chunk.Signatures[offset] = signature;
    }

    /// <summary>
    /// The codes of rows [<paramref name="first"/>, +<paramref name="rows"/>) (appended already, within
    /// one chunk) for a bulk load to fill; <see cref="FinishLoad"/> with the scales they were made with
    /// must follow.
    /// </summary>
    internal Span<sbyte> LoadCodes(int first, int rows)
    {
        var (chunk, offset) = Locate(first);
        AllocateCodes(chunk);
        if (!_int4)
        {
            return chunk.Codes.AsSpan(offset * _codeStride, rows * _codeStride);
        }

        // The file holds the 4-bit codes packed; CommitLoadedCodes splits them into the planes.
        var packed = Int4Dot.Stride(Dimension) * rows;
        if (_loadBuffer is null || _loadBuffer.Length < packed)
        {
            _loadBuffer = GC.AllocateUninitializedArray<sbyte>(packed);
        }

        return _loadBuffer.AsSpan(0, packed);
    }

    /// <summary>After the span from <see cref="LoadCodes"/> is filled: takes its codes (the 4-bit kind splits them into its planes).</summary>
    internal void CommitLoadedCodes(int first, int rows)
    {
        if (!_int4)
        {
            return;
        }

        var packed = Int4Dot.Stride(Dimension);
        var source = MemoryMarshal.AsBytes(_loadBuffer.AsSpan(0, packed * rows));
        var (chunk, offset) = Locate(first);
        var high = MemoryMarshal.AsBytes(chunk.Codes.AsSpan(offset * _codeStride, rows * _codeStride));
        var low = MemoryMarshal.AsBytes(chunk.LowCodes.AsSpan(offset * _codeStride, rows * _codeStride));
        Int4Dot.ToPlanes(source, high, low, rows);
    }

    /// <summary>
    /// After a bulk load: the quantized kinds take the parameters the loaded codes were made with
    /// (<paramref name="scales"/>, from the vector file: <see cref="CodeParameters"/>), or calibrate and
    /// code every row themselves when the collection is big enough to use codes.
    /// </summary>
    internal void FinishLoad(ReadOnlySpan<float> scales = default, int calibratedRows = 0)
    {
        _loadBuffer = null;
        if (!_quantized)
        {
            return;
        }

        if (!scales.IsEmpty && Count > 0)
        {
            if (scales.Length != CodeParameters)
            {
                throw new ArgumentException($"{CodeParameters} code parameters expected.", nameof(scales));
            }

            // Rows past the loaded ones (spare capacity) get codes when they are written.
            _loadBuffer = null;
            foreach (var chunk in _chunks)
            {
                AllocateCodes(chunk);
            }

            if (_int4)
            {
                _means = scales[..Dimension].ToArray();
                scales = scales[Dimension..];
            }

            var inverse = new float[Dimension];
            for (var d = 0; d < Dimension; d++)
            {
                inverse[d] = 1f / scales[d];
            }

            _scales = scales.ToArray();
            _inverseScales = inverse;
            _calibratedRows = Math.Max(1, calibratedRows);
            return;
        }

        if (Count >= QuantizeMinRows)
        {
            Calibrate();
        }
    }

    /// <summary>Floats that describe the codes: int8 a scale per dimension, 4-bit a mean and then a step per dimension.</summary>
    internal int CodeParameters => _int4 ? 2 * Dimension : Dimension;

    /// <summary>The parameters the codes were made with and the row count they were calibrated on (for the vector file); empty without codes.</summary>
    internal (ReadOnlyMemory<float> Scales, int CalibratedRows) Calibration => !UsesCodes
        ? (ReadOnlyMemory<float>.Empty, 0)
        : _int4 ? ([.. _means, .. _scales], _calibratedRows) : (_scales, _calibratedRows);

    /// <summary>
    /// Visits every row in row order (for writing the vector file); codes are empty without them, and the
    /// 4-bit kind's are packed from its planes into a buffer that is valid during the visit.
    /// </summary>
    internal void ForEachChunk(Action<ReadOnlyMemory<sbyte>, ReadOnlyMemory<string>, ReadOnlyMemory<byte[]>, ReadOnlyMemory<FilterSignature>, ReadOnlyMemory<long>> visit)
    {
        sbyte[]? packed = null;
        for (var c = 0; c < _chunks.Count; c++)
        {
            var rows = Math.Min(ChunkRows, Count - (c << ChunkShift));
            if (rows <= 0)
            {
                break;
            }

            var chunk = _chunks[c];
            var codes = UsesCodes && chunk.Codes is { } all ? all.AsMemory(0, rows * _codeStride) : ReadOnlyMemory<sbyte>.Empty;
            if (_int4 && !codes.IsEmpty)
            {
                var stride = Int4Dot.Stride(Dimension);
                packed ??= GC.AllocateUninitializedArray<sbyte>(ChunkRows * stride);
                var target = MemoryMarshal.AsBytes(packed.AsSpan());
                var high = MemoryMarshal.AsBytes(chunk.Codes.AsSpan(0, rows * _codeStride));
                var low = MemoryMarshal.AsBytes(chunk.LowCodes.AsSpan(0, rows * _codeStride));
                Int4Dot.FromPlanes(high, low, target[..(rows * stride)], rows);

                codes = packed.AsMemory(0, rows * stride);
            }

            visit(codes, chunk.Ids.AsMemory(0, rows), chunk.Metadata.AsMemory(0, rows), chunk.Signatures.AsMemory(0, rows), chunk.Slots.AsMemory(0, rows));
        }
    }

    /// <summary>
    /// For a compaction that keeps <paramref name="slots"/> (ascending; new slot <c>i</c> is old slot
    /// <c>slots[i]</c>): each row's new slot, by row, and in <paramref name="unnamed"/> the new slots no
    /// row names (rows deleted or overwritten while the compaction copied: their slots stay dead in the
    /// new file), or null when a row names a slot not among them (memory and SQLite disagree, and nothing
    /// may be renumbered). Reads only: run it beside queries.
    /// </summary>
    internal int[]? PlanSlotRenumbering(long[] slots, out long[] unnamed)
    {
        unnamed = [];
        if (_segment is null || slots.Length < Count)
        {
            return null;
        }

        var planned = new int[Count];
        var named = new bool[slots.Length];
        for (var row = 0; row < Count; row++)
        {
            var (chunk, offset) = Locate(row);
            var at = Array.BinarySearch(slots, chunk.Slots[offset]);
            if (at < 0 || named[at])
            {
                return null;
            }

            planned[row] = at;
            named[at] = true;
        }

        if (slots.Length > Count)
        {
            var free = new long[slots.Length - Count];
            for (int i = 0, n = 0; i < named.Length; i++)
            {
                if (!named[i])
                {
                    free[n++] = i;
                }
            }

            unnamed = free;
        }

        return planned;
    }

    /// <summary>Gives every row its planned slot (from <see cref="PlanSlotRenumbering"/>, with no write since), under the exclusive lock.</summary>
    internal void RenumberSlots(int[] planned)
    {
        if (planned.Length != Count)
        {
            throw new ArgumentException($"{Count} planned slots expected.", nameof(planned));
        }

        for (var row = 0; row < Count; row++)
        {
            var (chunk, offset) = Locate(row);
            chunk.Slots[offset] = planned[row];
        }
    }

    // ---- storage ----

    private (Chunk Chunk, int Offset) Locate(int row) => (_chunks[row >> ChunkShift], row & (ChunkRows - 1));

    private void Reserve(int rows)
    {
        if (rows > 0)
        {
            EnsureCapacity(rows);
        }
    }

    private void EnsureCapacity(int rows)
    {
        var capacity = _chunks.Count == 0 ? 0 : ((_chunks.Count - 1) << ChunkShift) + _chunks[^1].Ids.Length;
        if (rows <= capacity)
        {
            return;
        }

        // The last chunk grows by doubling up to full size (small collections stay small); then whole chunks are added.
        if (_chunks.Count > 0 && _chunks[^1].Ids.Length < ChunkRows)
        {
            var last = _chunks[^1];
            var needed = Math.Min(ChunkRows, rows - ((_chunks.Count - 1) << ChunkShift));
            last.Grow(Math.Min(ChunkRows, Math.Max(needed, last.Ids.Length * 2)), _codeStride);
            capacity = ((_chunks.Count - 1) << ChunkShift) + last.Ids.Length;
        }

        while (capacity < rows)
        {
            var size = Math.Min(ChunkRows, Math.Max(InitialCapacity, rows - capacity));
            _chunks.Add(new Chunk(size, UsesCodes ? _codeStride : 0, _int4));
            capacity += size;
            if (size < ChunkRows)
            {
                break;
            }
        }
    }

    private sealed class Chunk
    {
        public Chunk(int capacity, int codeStride, bool planes)
        {
            Codes = codeStride > 0 ? GC.AllocateUninitializedArray<sbyte>(capacity * codeStride) : null;
            LowCodes = codeStride > 0 && planes ? GC.AllocateUninitializedArray<sbyte>(capacity * codeStride) : null;
            Ids = new string[capacity];
            Slots = new long[capacity];
            Metadata = new byte[capacity][];
            Signatures = new FilterSignature[capacity];
        }

        /// <summary>int8 codes, or the 4-bit kind's high plane.</summary>
        public sbyte[]? Codes { get; set; }

        /// <summary>The 4-bit kind's low plane.</summary>
        public sbyte[]? LowCodes { get; set; }

        public string[] Ids { get; private set; }

        public long[] Slots { get; private set; }

        public byte[][] Metadata { get; private set; }

        public FilterSignature[] Signatures { get; private set; }

        public Span<sbyte> Code(int offset, int stride) => Codes!.AsSpan(offset * stride, stride);

        public Span<sbyte> LowCode(int offset, int stride) => LowCodes!.AsSpan(offset * stride, stride);

        public void Grow(int capacity, int codeStride)
        {
            if (Codes is not null)
            {
                var codes = GC.AllocateUninitializedArray<sbyte>(capacity * codeStride);
                Codes.CopyTo(codes, 0);
                Codes = codes;
            }

            if (LowCodes is not null)
            {
                var low = GC.AllocateUninitializedArray<sbyte>(capacity * codeStride);
                LowCodes.CopyTo(low, 0);
                LowCodes = low;
            }

            var ids = Ids;
            Array.Resize(ref ids, capacity);
            Ids = ids;
            var slots = Slots;
            Array.Resize(ref slots, capacity);
            Slots = slots;
            var metadata = Metadata;
            Array.Resize(ref metadata, capacity);
            Metadata = metadata;
            var signatures = Signatures;
            Array.Resize(ref signatures, capacity);
            Signatures = signatures;
        }
    }

    private sealed record ScanParameters(float[] Query, int TopK, CompiledFilter? Filter, float MinScore, HashSet<int>? ExcludedRows);

    /// <summary>
    /// The best code estimates seen so far, as (estimate, row) keys in a buffer twice the size kept:
    /// when it fills, a selection keeps the best <c>capacity</c> and their worst becomes the bar a row
    /// must pass. Amortised O(1) per accepted row, where a heap pays a sift; a first pass keeps
    /// thousands of candidates, so that matters. No allocation per row.
    /// </summary>
    private sealed class CandidateBuffer
    {
        private readonly int _capacity;
        private readonly long[] _keys;
        private int _count;
        private int _bar = int.MinValue;
        private bool _selected;

        public CandidateBuffer(int capacity)
        {
            _capacity = Math.Max(1, capacity);
            _keys = new long[2 * _capacity];
        }

        /// <summary>Rows of the best estimates (at most the capacity), in no particular order.</summary>
        public int[] Rows
        {
            get
            {
                var rows = new int[Select()];
                for (var i = 0; i < rows.Length; i++)
                {
                    rows[i] = (int)(uint)_keys[i];
                }

                return rows;
            }
        }

        public bool MayAccept(int estimate) => estimate > _bar;

        public void Offer(int estimate, int row)
        {
            _selected = false;
            _keys[_count++] = ((long)estimate << 32) | (uint)row;
            if (_count == _keys.Length)
            {
                Select();
            }
        }

        /// <summary>The best (at most the capacity) in row order, as keys with the row in the high half and the estimate in the low one.</summary>
        public long[] SortedByRow()
        {
            var keys = new long[Select()];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = ((long)(uint)_keys[i] << 32) | (uint)(int)(_keys[i] >> 32);
            }

            Array.Sort(keys);
            return keys;
        }

        public void MoveTo(CandidateBuffer other)
        {
            for (var i = 0; i < _count; i++)
            {
                var estimate = (int)(_keys[i] >> 32);
                if (other.MayAccept(estimate))
                {
                    other.Offer(estimate, (int)(uint)_keys[i]);
                }
            }
        }

        /// <summary>Keeps the best <c>capacity</c> keys at the front; returns how many are kept.</summary>
        private int Select()
        {
            if (_count > _capacity && !_selected)
            {
                SelectLargest(_keys.AsSpan(0, _count), _capacity);
                _count = _capacity;
                // Equal estimates past the bar would tie with the worst kept one; the heap this replaces dropped them too.
                var worst = long.MaxValue;
                for (var i = 0; i < _count; i++)
                {
                    worst = Math.Min(worst, _keys[i]);
                }

                _bar = (int)(worst >> 32);
            }

            _selected = true;
            return _count;
        }

        /// <summary>Quickselect (median of three, Hoare partition): the <paramref name="k"/> largest keys end up first.</summary>
        private static void SelectLargest(Span<long> keys, int k)
        {
            var lo = 0;
            var hi = keys.Length - 1;
            while (lo < hi)
            {
                var mid = lo + ((hi - lo) >> 1);
                var pivot = Median(keys[lo], keys[mid], keys[hi]);
                var i = lo;
                var j = hi;
                while (i <= j)
                {
                    while (keys[i] > pivot)
                    {
                        i++;
                    }

                    while (keys[j] < pivot)
                    {
                        j--;
                    }

                    if (i <= j)
                    {
                        (keys[i], keys[j]) = (keys[j], keys[i]);
                        i++;
                        j--;
                    }
                }

                // [lo, j] >= pivot >= [i, hi]; narrow to the side holding position k - 1.
                if (k - 1 <= j)
                {
                    hi = j;
                }
                else if (k - 1 >= i)
                {
                    lo = i;
                }
                else
                {
                    return;
                }
            }
        }

        private static long Median(long a, long b, long c) => a < b ? (b < c ? b : Math.Max(a, c)) : (a < c ? a : Math.Max(b, c));
    }

    /// <summary>
    /// A bounded min-heap of the best rows seen so far; its root is the worst kept candidate, so a new
    /// row costs one comparison when it does not make the cut.
    /// </summary>
    private sealed class TopK(int capacity)
    {
        private readonly PriorityQueue<int, Candidate> _heap = new(capacity + 1, WorstFirst.Instance);

        /// <summary>False when <paramref name="score"/> cannot enter a full heap (ties on score may still enter by id).</summary>
        public bool MayAccept(float score) => _heap.Count < capacity || !_heap.TryPeek(out _, out var worst) || score >= worst.Score;

        public void Offer(int row, float score, string id)
        {
            if (_heap.Count < capacity)
            {
                _heap.Enqueue(row, new Candidate(score, id));
                return;
            }

            _heap.TryPeek(out _, out var worst);
            if (score < worst.Score)
            {
                return;
            }

            var candidate = new Candidate(score, id);
            if (WorstFirst.Instance.Compare(candidate, worst) > 0)
            {
                _heap.DequeueEnqueue(row, candidate);
            }
        }

        public void MergeFrom(TopK other)
        {
            foreach (var (row, candidate) in other._heap.UnorderedItems)
            {
                if (_heap.Count < capacity)
                {
                    _heap.Enqueue(row, candidate);
                }
                else if (_heap.TryPeek(out _, out var worst) && WorstFirst.Instance.Compare(candidate, worst) > 0)
                {
                    _heap.DequeueEnqueue(row, candidate);
                }
            }
        }

        public List<(int Row, float Score)> DrainBestFirst()
        {
            var ranked = new List<(int Row, float Score)>(_heap.Count);
            while (_heap.TryDequeue(out var row, out var candidate))
            {
                ranked.Add((row, candidate.Score));
            }

            ranked.Reverse();
            return ranked;
        }
    }

    private readonly record struct Candidate(float Score, string Id);

    /// <summary>
    /// UTF-8 byte order of strings, as SQLite's BINARY collation sorts them: UTF-16 ordinal order except
    /// that surrogates (U+D800-DFFF, i.e. code points past U+FFFF) sort after U+E000-FFFF.
    /// </summary>
    internal sealed class Utf8Order : IComparer<string>
    {
        public static readonly Utf8Order Instance = new();

        public int Compare(string? x, string? y)
        {
            var a = x.AsSpan();
            var b = y.AsSpan();
            var at = a.CommonPrefixLength(b);
            if (at == a.Length || at == b.Length)
            {
                return a.Length.CompareTo(b.Length);
            }

            return Rank(a[at]).CompareTo(Rank(b[at]));
        }

        private static int Rank(char c) => c < 0xD800 ? c : c < 0xE000 ? c + 0x2000 : c - 0x800;
    }

    /// <summary>Orders worse candidates first: lower score, then (for equal scores) the larger id.</summary>
    private sealed class WorstFirst : IComparer<Candidate>
    {
        public static readonly WorstFirst Instance = new();

        public int Compare(Candidate x, Candidate y)
        {
            var byScore = x.Score.CompareTo(y.Score);
            return byScore != 0 ? byScore : string.CompareOrdinal(y.Id, x.Id);
        }
    }

    /// <summary>Copies <paramref name="vector"/> scaled to unit length; a zero or non-finite vector has no direction.</summary>
    public static float[] Normalize(ReadOnlySpan<float> vector, string what)
    {
        var unit = new float[vector.Length];
        NormalizeInto(vector, unit, what);
        return unit;
    }

    /// <summary>
    /// <see cref="Normalize"/> into <paramref name="unit"/> (a row of a batch's vector buffer, so a bulk
    /// fill allocates nothing per row).
    /// </summary>
    public static void NormalizeInto(ReadOnlySpan<float> vector, Span<float> unit, string what)
    {
        if (!TryNormalizeInto(vector, unit))
        {
            throw NotNormalizable(what, nameof(vector));
        }
    }

    /// <summary><see cref="NormalizeInto"/> that returns false (writing nothing) instead of throwing.</summary>
    public static bool TryNormalizeInto(ReadOnlySpan<float> vector, Span<float> unit)
    {
        var norm = TensorPrimitives.Norm(vector);
        if (!float.IsFinite(norm) || norm <= 0f)
        {
            return false;
        }

        TensorPrimitives.Divide(vector, norm, unit);
        return true;
    }

    /// <summary>The error for a vector that has no direction.</summary>
    public static ArgumentException NotNormalizable(string what, string parameter) =>
        new($"{what} has a zero, infinite or NaN length and cannot be compared by cosine.", parameter);
}
