using System.ComponentModel.DataAnnotations;

namespace ImageRetrieval.Infrastructure.VectorStores.Local;

/// <summary>Settings of the embedded store, under <c>ImageRetrieval:VectorStore:Local</c>.</summary>
public sealed class LocalVectorStoreOptions
{
    public const string Section = "ImageRetrieval:VectorStore:Local";

    /// <summary>
    /// <see cref="LocalIndexKind.Quantized"/> (default) ranks rows by int8 codes and re-scores the best
    /// in fp32: about a quarter of the memory traffic of <see cref="LocalIndexKind.Exact"/>, which
    /// scores every row in fp32 and uses less memory (no codes).
    /// </summary>
    public LocalIndexKind Index { get; set; } = LocalIndexKind.Quantized;

    /// <summary>Quantized kind: candidates re-scored in fp32 per result asked for (at least 100 in all). Higher trades speed for recall.</summary>
    [Range(1, 1000)]
    public int RescoreFactor { get; set; } = LocalVectorIndex.DefaultRescoreFactor;
}
