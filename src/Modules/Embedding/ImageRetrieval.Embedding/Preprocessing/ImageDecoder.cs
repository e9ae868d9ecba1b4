using System.Runtime.InteropServices;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;
using NetVips;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>Upright 8-bit RGB pixels of a decoded image, row-major, 3 bytes a pixel.</summary>
internal sealed record RgbImage(byte[] Pixels, int Width, int Height, string ContentType);

internal sealed class ImageRejectedException(ImageRejection rejection) : Exception(rejection.Detail)
{
    public ImageRejection Rejection { get; } = rejection;
}

/// <summary>
/// Decodes uploads with libvips into what Pillow's <c>exif_transpose(img).convert("RGB")</c> gives:
/// EXIF orientation applied, grey replicated to three channels, alpha dropped (not composited),
/// CMYK and 16-bit converted to 8-bit sRGB. Only raster formats from an allow-list are opened; size
/// limits are checked from the header so a decompression bomb is refused before it is decoded.
/// </summary>
internal sealed class ImageDecoder(IOptions<ImageLimitsOptions> limits)
{
    // libvips names loaders by class (VipsForeignLoadJpegBuffer, VipsForeignLoadNsgifBuffer, ...).
    private static readonly (string LoaderPart, string ContentType)[] AllowedLoaders =
    [
        ("jpeg", "image/jpeg"),
        ("png", "image/png"),
        ("webp", "image/webp"),
        ("gif", "image/gif"),
        ("tiff", "image/tiff"),
        ("heif", "image/heif"),
    ];

    static ImageDecoder()
    {
        // Untrusted bytes must never reach loaders such as ImageMagick, PDF or SVG.
        NetVips.NetVips.BlockUntrusted = true;
        NetVips.NetVips.Concurrency = 1;
    }

    public RgbImage Decode(ReadOnlyMemory<byte> bytes)
    {
        var limit = limits.Value;
        if (bytes.Length > limit.MaxFileBytes)
        {
            throw Reject(413, ProblemTypes.FileTooLarge, $"The file has {bytes.Length} bytes; the limit is {limit.MaxFileBytes}.");
        }

        if (bytes.IsEmpty)
        {
            throw Reject(422, ProblemTypes.UndecodableImage, "The file is empty.");
        }

        // libvips takes a byte[]; uploads already are one, so avoid copying megabytes per image.
        var buffer = MemoryMarshal.TryGetArray(bytes, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : bytes.ToArray();
        var loader = Image.FindLoadBuffer(buffer)?.ToUpperInvariant() ?? "";
        var contentType = AllowedLoaders.FirstOrDefault(a => loader.Contains(a.LoaderPart, StringComparison.OrdinalIgnoreCase)).ContentType;
        if (contentType is null)
        {
            throw Reject(415, ProblemTypes.UnsupportedMediaType, "The file is not a JPEG, PNG, WebP, GIF, TIFF or HEIF image.");
        }

        try
        {
            using var header = Image.NewFromBuffer(buffer, failOn: Enums.FailOn.Truncated);
            var pixels = (long)header.Width * header.Height;
            if (pixels > limit.MaxPixels)
            {
                throw Reject(422, ProblemTypes.ImageTooLarge,
                    $"The image is {header.Width}x{header.Height} ({pixels} pixels); the limit is {limit.MaxPixels} pixels.");
            }

            using var rgb = ToRgb(header);
            var data = rgb.WriteToMemory<byte>();
            return new RgbImage(data, rgb.Width, rgb.Height, contentType);
        }
        catch (VipsException ex)
        {
            throw Reject(422, ProblemTypes.UndecodableImage, $"The {contentType} file could not be decoded: {FirstLine(ex.Message)}");
        }
    }

    private static Image ToRgb(Image image)
    {
        var current = image.Autorot();
        current = Replace(current, current.Interpretation == Enums.Interpretation.Cmyk ? current.Colourspace(Enums.Interpretation.Srgb) : null);
        current = Replace(current, current.HasAlpha() ? current.ExtractBand(0, current.Bands - 1) : null);
        if (current.Format != Enums.BandFormat.Uchar)
        {
            current = Replace(current, current.Colourspace(current.Bands == 1 ? Enums.Interpretation.Bw : Enums.Interpretation.Srgb));
            current = Replace(current, current.Format != Enums.BandFormat.Uchar ? current.Cast(Enums.BandFormat.Uchar) : null);
        }

        current = Replace(current, current.Bands == 1 ? current.Bandjoin(current, current) : null);
        if (current.Bands != 3)
        {
            current.Dispose();
            throw Reject(415, ProblemTypes.UnsupportedMediaType, $"Images with {image.Bands} channels are not supported.");
        }

        return current;
    }

    private static Image Replace(Image current, Image? next)
    {
        if (next is null)
        {
            return current;
        }

        current.Dispose();
        return next;
    }

    private static string FirstLine(string message) => message.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? message;

    private static ImageRejectedException Reject(int status, string slug, string detail) => new(new ImageRejection(status, slug, detail));
}
