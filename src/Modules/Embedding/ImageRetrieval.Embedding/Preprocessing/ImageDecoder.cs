using System.Runtime.InteropServices;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;
using NetVips;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>Upright 8-bit RGB pixels of a decoded image, row-major, 3 bytes a pixel.</summary>
/// <param name="Width">Of the whole upright image, even when only a part of it was decoded.</param>
internal sealed record RgbImage(byte[] Pixels, int Width, int Height, string ContentType)
{
    /// <summary>The part of the upright image that <see cref="Pixels"/> holds: all of it unless decoding was given a window.</summary>
    public PixelWindow Region { get; init; } = new(0, 0, Width, Height);
}

internal sealed class ImageRejectedException(ImageRejection rejection) : Exception(rejection.Detail)
{
    public ImageRejection Rejection { get; } = rejection;
}

/// <summary>
/// Decodes uploads with libvips into what Pillow's <c>exif_transpose(img).convert("RGB")</c> gives:
/// EXIF orientation applied, grey replicated to three channels, alpha dropped (not composited),
/// CMYK and 16-bit converted to 8-bit sRGB. Only raster formats from an allow-list are opened; size
/// limits (pixels, decoded bytes, aspect ratio) are checked from the header so a decompression bomb
/// is refused before it is decoded, and only the first frame or page of a multi-image file is read.
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

        // libvips' operation cache would keep decoded pixels of past uploads alive; every upload is new.
        Cache.Max = 0;
    }

    /// <param name="window">
    /// Given the upright width and height, the part of the image that is needed; only that part is
    /// converted and copied out (libvips still has to decompress the rows before it).
    /// </param>
    public RgbImage Decode(ReadOnlyMemory<byte> bytes, Func<int, int, PixelWindow>? window = null)
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
            using var header = Image.NewFromBuffer(buffer, access: Enums.Access.Sequential, failOn: Enums.FailOn.Truncated);
            CheckHeader(header, limit);
            using var rgb = ToRgb(header);
            var (width, height) = (rgb.Width, rgb.Height);
            var region = window?.Invoke(width, height) ?? new PixelWindow(0, 0, width, height);
            if (region == new PixelWindow(0, 0, width, height))
            {
                return new RgbImage(rgb.WriteToMemory<byte>(), width, height, contentType);
            }

            using var part = rgb.ExtractArea(region.X, region.Y, region.Width, region.Height);
            return new RgbImage(part.WriteToMemory<byte>(), width, height, contentType) { Region = region };
        }
        catch (VipsException ex)
        {
            throw Reject(422, ProblemTypes.UndecodableImage, $"The {contentType} file could not be decoded: {FirstLine(ex.Message)}");
        }
    }

    /// <summary>What decoding will cost, from the header alone: pixels, bytes of decoded samples, shape.</summary>
    private static void CheckHeader(Image header, ImageLimitsOptions limit)
    {
        var (width, height) = (header.Width, header.Height);
        if (width <= 0 || height <= 0)
        {
            throw Reject(422, ProblemTypes.UndecodableImage, $"The image declares a size of {width}x{height}.");
        }

        var pixels = (long)width * height;
        if (pixels > limit.MaxPixels)
        {
            throw Reject(422, ProblemTypes.ImageTooLarge, $"The image is {width}x{height} ({pixels} pixels); the limit is {limit.MaxPixels} pixels.");
        }

        // Bands x bytes a sample: a 16-bit RGBA or a float image takes many times the bytes of 8-bit RGB.
        var decodedBytes = checked(pixels * header.Bands * SampleBytes(header.Format));
        if (decodedBytes > limit.MaxDecodedBytes)
        {
            throw Reject(422, ProblemTypes.ImageTooLarge,
                $"The image is {width}x{height} with {header.Bands} {header.Format} bands, {decodedBytes} bytes decoded; the limit is {limit.MaxDecodedBytes} bytes.");
        }

        var (shortSide, longSide) = width <= height ? (width, height) : (height, width);
        if (longSide > (long)shortSide * limit.MaxAspectRatio)
        {
            throw Reject(422, ProblemTypes.ImageTooLarge,
                $"The image is {width}x{height}, an aspect ratio over {limit.MaxAspectRatio}:1, the limit.");
        }
    }

    private static int SampleBytes(Enums.BandFormat format) => format switch
    {
        Enums.BandFormat.Uchar or Enums.BandFormat.Char => 1,
        Enums.BandFormat.Ushort or Enums.BandFormat.Short => 2,
        Enums.BandFormat.Uint or Enums.BandFormat.Int or Enums.BandFormat.Float => 4,
        Enums.BandFormat.Complex or Enums.BandFormat.Double => 8,
        Enums.BandFormat.Dpcomplex => 16,
        _ => 8,
    };

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
