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

    /// <summary>
    /// Pixels x bands x bytes a sample, checked from the header: bounds what decoding one image holds
    /// in memory whatever its bit depth or band count. The default admits 40 MP of 8-bit RGBA or 16-bit RGB.
    /// </summary>
    [Range(1, 1L << 34)]
    public long MaxDecodedBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Long side over short side. A 1x40000 strip passes the pixel limit, but resizing it to a model's
    /// input reads every row for a handful of columns; past this ratio it is refused.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxAspectRatio { get; set; } = 1000;

    [Range(1, 1000)]
    public int MaxFilesPerRequest { get; set; } = 64;

    /// <summary>The whole multipart body; larger requests get a 413 before anything is read.</summary>
    [Range(1, int.MaxValue)]
    public long MaxRequestBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>The <c>metadata</c> of one ingest (and a search's <c>filter</c>) as sent, in UTF-8 bytes.</summary>
    [Range(64, 1024 * 1024)]
    public int MaxMetadataBytes { get; set; } = 16 * 1024;

    [Range(1, 1000)]
    public int MaxMetadataKeys { get; set; } = 64;

    /// <summary>Characters in one metadata string (or one string in a metadata array or filter).</summary>
    [Range(1, 64 * 1024)]
    public int MaxMetadataStringLength { get; set; } = 1024;

    /// <summary>Elements in one metadata array and values in one filter <c>$in</c>.</summary>
    [Range(1, 10_000)]
    public int MaxMetadataArrayLength { get; set; } = 100;

    /// <summary>Nesting of a metadata or filter document: the object itself is level 1 (<c>{"f": {"$in": [..]}}</c> is 3).</summary>
    [Range(1, 64)]
    public int MaxJsonDepth { get; set; } = 4;
}
