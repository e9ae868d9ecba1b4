using System.ComponentModel.DataAnnotations;

namespace ImageRetrieval.SharedKernel;

/// <summary><c>ImageRetrieval:Limits</c>: what one uploaded image may cost before it is refused.</summary>
public sealed class ImageLimitsOptions
{
    public const string Section = "ImageRetrieval:Limits";

    [Range(1, 1L << 31)]
    public long MaxFileBytes { get; set; } = 20L * 1024 * 1024;

    /// <summary>Checked from the header, before the pixels are decoded.</summary>
    [Range(1, 1L << 32)]
    public long MaxPixels { get; set; } = 40_000_000;

    [Range(1, 1000)]
    public int MaxFilesPerRequest { get; set; } = 64;

    /// <summary>The whole multipart body; larger requests get a 413 before anything is read.</summary>
    [Range(1, int.MaxValue)]
    public long MaxRequestBytes { get; set; } = 256L * 1024 * 1024;
}
