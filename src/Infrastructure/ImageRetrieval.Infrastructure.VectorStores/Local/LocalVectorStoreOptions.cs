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
}
