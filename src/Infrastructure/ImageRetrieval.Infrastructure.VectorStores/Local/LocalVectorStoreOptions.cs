using System.ComponentModel.DataAnnotations;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>Settings of the embedded store, under <c>ImageRetrieval:VectorStore:Local</c>.</summary>
public sealed class LocalVectorStoreOptions
{
    public const string Section = "ImageRetrieval:VectorStore:Local";

    /// <summary>
    /// <see cref="LocalIndexKind.Int4"/> (default) ranks rows by the high 2 bits of 4-bit codes (a
    /// sixteenth of the fp32 bytes a scan reads), refines the best thousands by the full 4-bit codes and
    /// re-scores at least 200 of those in fp32, so returned scores are exact;
    /// <see cref="LocalIndexKind.Quantized"/> does the same with int8 codes (twice the bytes, a narrower
    /// candidate set); <see cref="LocalIndexKind.Exact"/> scores every row in fp32 and holds no codes.
    /// </summary>
    public LocalIndexKind Index { get; set; } = LocalIndexKind.Int4;

    /// <summary>Quantized kind: candidates re-scored in fp32 per result asked for (at least 100 in all). Higher trades speed for recall.</summary>
    [Range(1, 1000)]
    public int RescoreFactor { get; set; } = LocalVectorIndex.DefaultRescoreFactor;

    /// <summary>
    /// Compacts the vector segment in the background (after a write or an open) once dead slots (left by
    /// overwritten and deleted rows) are at least <see cref="CompactDeadFraction"/> of it and at least
    /// <see cref="CompactMinDeadSlots"/>. Off: only the <c>compact</c> command compacts.
    /// </summary>
    public bool AutoCompact { get; set; } = true;

    /// <summary>Share of the segment's slots that must be dead before it is compacted automatically: 0.5 keeps the file within twice its live vectors.</summary>
    [Range(0.01, 0.99)]
    public double CompactDeadFraction { get; set; } = 0.5;

    /// <summary>Dead slots needed at least before an automatic compaction (one mapped extent: 48 MiB at 768-d), so small collections are not rewritten for a few rows.</summary>
    [Range(1, int.MaxValue)]
    public int CompactMinDeadSlots { get; set; } = 16_384;
}
