namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>What a compaction of a Local collection's vector segment did: slots and bytes of fp32 vectors before and after.</summary>
public sealed record SegmentCompaction(string Collection, long Rows, long SlotsBefore, long SlotsAfter, long BytesBefore, long BytesAfter, TimeSpan Elapsed);
