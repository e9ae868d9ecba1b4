namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>
/// What a compaction of a Local collection's vector segment did: slots and bytes of fp32 vectors before and
/// after, the time to the switch and its parts: copying the live vectors and the rows and renumbering the
/// vector file (beside writes), the time writes were held up (bringing over what they changed meanwhile, the
/// SQLite commit and the switch) and the switch, the only part that holds queries up; then freeing the old
/// file, after the switch and outside every lock.
/// </summary>
public sealed record SegmentCompaction(string Collection, long Rows, long SlotsBefore, long SlotsAfter, long BytesBefore, long BytesAfter, TimeSpan Elapsed)
{
    public TimeSpan Copy { get; init; }

    /// <summary>Copying the rows into the renumbered table, beside writes.</summary>
    public TimeSpan Prepare { get; init; }

    /// <summary>How long writes waited at most: from taking the writers' turn to the switch's end.</summary>
    public TimeSpan WritersHeld { get; init; }

    /// <summary>Renumbering the snapshot of memory for the new segment, beside writes (see <see cref="SnapshotRenumbered"/>).</summary>
    public TimeSpan Snapshot { get; init; }

    /// <summary>Whether the vector file was renumbered, so an open after a kill reads it rather than rebuilding from SQLite.</summary>
    public bool SnapshotRenumbered { get; init; }

    public TimeSpan Commit { get; init; }

    public TimeSpan Switch { get; init; }

    /// <summary>Freeing the old file after the switch, outside the locks (see <see cref="FreedInSteps"/>).</summary>
    public TimeSpan Release { get; init; }

    /// <summary>Whether the old file's blocks were freed a step at a time (no other handle had it open), or left to its last close.</summary>
    public bool FreedInSteps { get; init; }
}
