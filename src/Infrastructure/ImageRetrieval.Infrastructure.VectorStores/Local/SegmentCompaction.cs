namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// What a compaction of a Local collection's vector segment did: slots and bytes of fp32 vectors before and
/// after, the whole time and its parts: copying the live vectors and the rows (beside writes), the time
/// writes were held up (bringing over what they changed meanwhile, the SQLite commit and the switch) and
/// the switch, the only part that holds queries up.
/// </summary>
public sealed record SegmentCompaction(string Collection, long Rows, long SlotsBefore, long SlotsAfter, long BytesBefore, long BytesAfter, TimeSpan Elapsed)
{
    public TimeSpan Copy { get; init; }

    /// <summary>Copying the rows into the renumbered table, beside writes.</summary>
    public TimeSpan Prepare { get; init; }

    /// <summary>How long writes waited at most: from taking the writers' turn to the switch's end.</summary>
    public TimeSpan WritersHeld { get; init; }

    public TimeSpan Commit { get; init; }

    public TimeSpan Switch { get; init; }
}
