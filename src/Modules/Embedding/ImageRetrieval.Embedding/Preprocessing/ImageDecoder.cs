using System.Runtime.InteropServices;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;
using NetVips;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>
/// Upright 8-bit RGB pixels of a decoded image, row-major, 3 bytes a pixel. Decoded pixels stay in a
/// native buffer until disposed, so a multi-megapixel upload is never copied into a fresh large
/// managed array; a forgotten Dispose is caught by the handle's finalizer.
/// </summary>
internal sealed class RgbImage : IDisposable
{
    private readonly byte[]? managed;
    private readonly NativePixels? native;
    private readonly int length;

    /// <param name="width">Of the whole upright image at the decoded scale, even when only a part of it was decoded.</param>
    public RgbImage(byte[] pixels, int width, int height, string contentType)
        : this(width, height, contentType)
    {
        managed = pixels;
        length = pixels.Length;
    }

    private RgbImage(NativePixels pixels, int length, int width, int height, string contentType)
        : this(width, height, contentType)
    {
        native = pixels;
        this.length = length;
    }

    private RgbImage(int width, int height, string contentType)
    {
        Width = width;
        Height = height;
        ContentType = contentType;
        Region = new PixelWindow(0, 0, width, height);
        SourceWidth = width;
        SourceHeight = height;
    }

    public ReadOnlySpan<byte> Pixels => native is null ? managed.AsSpan(0, length) : native.AsSpan(length);

    /// <summary>The decoded grid: the upright image, shrunk on load when <see cref="SourceWidth"/> differs.</summary>
    public int Width { get; }

    public int Height { get; }

    public string ContentType { get; }

    /// <summary>The part of the decoded grid that <see cref="Pixels"/> holds: all of it unless decoding was given a window.</summary>
    public PixelWindow Region { get; init; }

    /// <summary>The upright size of the image in the file, before any shrink on load: what is reported and stored.</summary>
    public int SourceWidth { get; init; }

    public int SourceHeight { get; init; }

    /// <summary>Copies out of the native buffer only when the caller asks for an array (tests, tools).</summary>
    public byte[] ToArray() => Pixels.ToArray();

    /// <param name="pixels">The decoded grid's <paramref name="region"/>, evaluated on the calling thread (<see cref="CallerThreadPixels"/>).</param>
    internal static RgbImage FromVips(Image pixels, int width, int height, string contentType, PixelWindow region, int sourceWidth, int sourceHeight)
    {
        var native = CallerThreadPixels.Evaluate(pixels, out var length);
        return new RgbImage(native, length, width, height, contentType)
        {
            Region = region,
            SourceWidth = sourceWidth,
            SourceHeight = sourceHeight,
        };
    }

    public void Dispose() => native?.Dispose();
}

/// <summary>
/// Evaluates a libvips pipeline (load, orient, convert, crop) on the thread that calls, strip by strip
/// through a region, instead of with <see cref="Image.WriteToMemory(out ulong)"/>. That one runs the
/// pipeline on libvips' process-wide pool of worker threads, even at a concurrency of 1, and a pooled
/// worker keeps the nice value of the thread that happened to create it: once a bulk decode thread
/// (<see cref="BulkPreprocessing"/>, nice +10) had created the workers, every later decode, a search's
/// included, ran at bulk priority, and a worker a search had created ran bulk decoding at full priority.
/// On the calling thread, the decoding runs at the priority of the lane that asked for it.
/// </summary>
internal static partial class CallerThreadPixels
{
    private const string Libvips = "libvips.so.42";

    // Rows a strip holds: about 32 KiB (at least 16 rows). The stages of the pipeline allocate buffers of
    // about a strip's size as they go, dozens per image, and libvips zeroes each one: at 1 MiB strips
    // that was ~19 MB zeroed per camera photo, in fresh pages, ~15% of its decoding. Small buffers come
    // back from malloc warm in the cache. Measured (`Bench preprocess --camera 1`, thread CPU of the
    // decode): 32 KiB 11.7 ms, 256 KiB 12.6 ms, the whole image at once 15.2 ms.
    private const int StripBytes = 1 << 15;

    /// <summary>
    /// The whole of <paramref name="image"/> (8-bit, packed rows) in a native buffer the returned handle
    /// owns. Each strip is generated straight into that buffer (<c>vips_region_prepare_to</c> onto a
    /// region over it): no per-strip copy made by libvips and copied again here, and the buffer itself
    /// comes from a small pool, so its pages are not faulted in afresh for every image.
    /// </summary>
    public static unsafe NativePixels Evaluate(Image image, out int length)
    {
        var rowBytes = checked(image.Width * image.Bands * SampleBytes(image));
        length = checked(rowBytes * image.Height);
        var pixels = NativePixels.Rent(length);
        try
        {
            var address = pixels.DangerousGetHandle();
            using var memory = Image.NewFromMemory(address, (ulong)length, image.Width, image.Height, image.Bands, image.Format);
            using var destination = Region.New(memory);
            var whole = new VipsRect(0, 0, image.Width, image.Height);
            if (RegionImage(destination.DangerousGetHandle(), in whole) != 0)
            {
                throw new VipsException("unable to decode: no region over the output");
            }

            using var source = Region.New(image);
            var rows = Math.Min(Math.Max(StripBytes / rowBytes, 16), image.Height);
            for (var top = 0; top < image.Height; top += rows)
            {
                var strip = new VipsRect(0, top, image.Width, Math.Min(rows, image.Height - top));
                if (RegionPrepareTo(source.DangerousGetHandle(), destination.DangerousGetHandle(), in strip, 0, top) != 0)
                {
                    throw new VipsException("unable to decode");
                }
            }

            GC.KeepAlive(memory);
            return pixels;
        }
        catch
        {
            pixels.Dispose();
            throw;
        }
    }

    private static int SampleBytes(Image image) => image.Format == Enums.BandFormat.Uchar
        ? 1
        : throw new ArgumentException($"Expected 8-bit samples, got {image.Format}.", nameof(image));

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct VipsRect(int Left, int Top, int Width, int Height);

    /// <summary>vips_region_image: makes the region a window on the (memory) image's own pixels.</summary>
    [LibraryImport(Libvips, EntryPoint = "vips_region_image")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int RegionImage(IntPtr region, in VipsRect rect);

    /// <summary>vips_region_prepare_to: computes the area on the calling thread and writes it into <paramref name="destination"/> at (x, y).</summary>
    [LibraryImport(Libvips, EntryPoint = "vips_region_prepare_to")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int RegionPrepareTo(IntPtr region, IntPtr destination, in VipsRect rect, int x, int y);
}

/// <summary>
/// Decoded pixels in native memory, freed on dispose (or by the finalizer when a Dispose is forgotten).
/// Blocks up to <see cref="PoolMaxBytes"/> go back to a small pool on dispose: a search or an ingest
/// decodes one camera photo after another, and a fresh multi-megabyte block costs a page fault and a
/// zeroed page per 4 KiB each time.
/// </summary>
internal sealed class NativePixels : SafeHandle
{
    private const int PoolMaxBytes = 16 << 20;
    private static readonly int PoolMaxBlocks = Math.Max(2, Environment.ProcessorCount * 2);
    private static readonly Lock PoolLock = new();
    private static readonly List<(IntPtr Block, int Capacity)> Pool = [];

    private readonly int capacity;

    private NativePixels(IntPtr block, int capacity)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        this.capacity = capacity;
        SetHandle(block);
    }

    /// <summary>A block of at least <paramref name="length"/> bytes, reused when one is free; its contents are whatever was there.</summary>
    public static unsafe NativePixels Rent(int length)
    {
        lock (PoolLock)
        {
            var best = -1;
            for (var i = 0; i < Pool.Count; i++)
            {
                if (Pool[i].Capacity >= length && (best < 0 || Pool[i].Capacity < Pool[best].Capacity))
                {
                    best = i;
                }
            }

            if (best >= 0)
            {
                var (block, capacity) = Pool[best];
                Pool.RemoveAt(best);
                return new NativePixels(block, capacity);
            }
        }

        // Rounded up so that photos of similar sizes can share blocks.
        var size = length <= PoolMaxBytes ? (int)Math.Min(PoolMaxBytes, ((long)Math.Max(1, length) + 0xFFFF) & ~0xFFFFL) : length;
        return new NativePixels((IntPtr)NativeMemory.Alloc((nuint)size), size);
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public unsafe ReadOnlySpan<byte> AsSpan(int length)
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, capacity);
        return new ReadOnlySpan<byte>((void*)handle, length);
    }

    protected override unsafe bool ReleaseHandle()
    {
        if (capacity <= PoolMaxBytes)
        {
            lock (PoolLock)
            {
                if (Pool.Count < PoolMaxBlocks)
                {
                    Pool.Add((handle, capacity));
                    return true;
                }

                // Full: keep the larger blocks, they serve every size below them.
                var smallest = 0;
                for (var i = 1; i < Pool.Count; i++)
                {
                    smallest = Pool[i].Capacity < Pool[smallest].Capacity ? i : smallest;
                }

                if (Pool[smallest].Capacity < capacity)
                {
                    NativeMemory.Free((void*)Pool[smallest].Block);
                    Pool[smallest] = (handle, capacity);
                    return true;
                }
            }
        }

        NativeMemory.Free((void*)handle);
        return true;
    }
}

/// <summary>The file is not a usable image; the embedding answers <see cref="Rejection"/> in its item and goes on with the others.</summary>
internal sealed class ImageRejectedException(Problem rejection) : Exception(rejection.Detail)
{
    public Problem Rejection { get; } = rejection;

    public static ImageRejectedException Because(string slug, string detail) => new(new Problem(slug, "Image rejected", detail));
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

        // Decoding itself runs on the calling thread (CallerThreadPixels); whatever else still goes
        // through libvips' worker pool should not fan out across the cores inference uses.
        NetVips.NetVips.Concurrency = 1;

        // libvips' operation cache would keep decoded pixels of past uploads alive; every upload is new.
        Cache.Max = 0;
    }

    /// <param name="target">
    /// The model input the pixels are for: only the part of the image its resize and crop read is
    /// converted and copied out (libvips still has to decompress the rows before it).
    /// </param>
    /// <param name="shrinkOnLoad">
    /// For JPEG, let the decoder scale down by 2, 4 or 8 in the DCT domain as long as the result stays
    /// at least twice the size <paramref name="target"/> resizes to (<see cref="PixelTensorWriter.ShrinkFactor"/>):
    /// far fewer pixels are decompressed, converted and resampled; the Pillow-exact resize then runs
    /// from the shrunk image, so the tensor is close to, but no longer bit-identical with, Pillow's.
    /// </param>
    public RgbImage Decode(ReadOnlyMemory<byte> bytes, PixelTensorWriter? target = null, bool shrinkOnLoad = false)
    {
        var limit = limits.Value;
        if (bytes.Length > limit.MaxFileBytes)
        {
            throw Reject(ProblemTypes.FileTooLarge, $"The file has {bytes.Length} bytes; the limit is {limit.MaxFileBytes}.");
        }

        if (bytes.IsEmpty)
        {
            throw Reject(ProblemTypes.UndecodableImage, "The file is empty.");
        }

        // A source over a byte[] reads it in place; uploads already are one, so avoid copying megabytes per image.
        var buffer = MemoryMarshal.TryGetArray(bytes, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : bytes.ToArray();
        var loader = Image.FindLoadBuffer(buffer)?.ToUpperInvariant() ?? "";
        var contentType = AllowedLoaders.FirstOrDefault(a => loader.Contains(a.LoaderPart, StringComparison.OrdinalIgnoreCase)).ContentType;
        if (contentType is null)
        {
            throw Reject(ProblemTypes.UnsupportedMediaType, "The file is not a JPEG, PNG, WebP, GIF, TIFF or HEIF image.");
        }

        try
        {
            // Loaded from a source over the pinned upload, not with Image.NewFromBuffer: that one copies the
            // file into a libvips blob and reports the copy with GC.AddMemoryPressure, whose heuristic then
            // started a gen2 collection every ~2 s under ingest and search load (dotnet-trace: GCStart reason
            // InducedNotForced, 11 in 20 s), pausing every request. Each source pins the array until it is disposed,
            // after every image read from it (using declarations dispose in reverse order).
            using var headerSource = Source.NewFromMemory(buffer);
            using var header = Image.NewFromSource(headerSource, access: Enums.Access.Sequential, failOn: Enums.FailOn.Truncated);
            CheckHeader(header, limit);
            var (sourceWidth, sourceHeight) = UprightSize(header);
            var shrink = shrinkOnLoad && target is not null && contentType == "image/jpeg" ? target.ShrinkFactor(sourceWidth, sourceHeight) : 1;
            using var shrunkSource = shrink > 1 ? Source.NewFromMemory(buffer) : null;
            using var shrunk = shrunkSource is not null
                ? Image.NewFromSource(shrunkSource, access: Enums.Access.Sequential, failOn: Enums.FailOn.Truncated, kwargs: new VOption { { "shrink", shrink } })
                : null;
            using var rgb = ToRgb(shrunk ?? header);
            var (width, height) = (rgb.Width, rgb.Height);
            var whole = new PixelWindow(0, 0, width, height);
            var region = target?.SourceWindow(width, height, sourceWidth, sourceHeight) ?? whole;
            if (region == whole)
            {
                return RgbImage.FromVips(rgb, width, height, contentType, whole, sourceWidth, sourceHeight);
            }

            using var part = rgb.ExtractArea(region.X, region.Y, region.Width, region.Height);
            return RgbImage.FromVips(part, width, height, contentType, region, sourceWidth, sourceHeight);
        }
        catch (VipsException ex)
        {
            throw Reject(ProblemTypes.UndecodableImage, $"The {contentType} file could not be decoded: {FirstLine(ex.Message)}");
        }
    }

    /// <summary>The size after EXIF orientation, from the header: orientations 5-8 turn the image by 90 degrees.</summary>
    private static (int Width, int Height) UprightSize(Image header)
    {
        var orientation = header.Contains("orientation") && header.Get("orientation") is int o ? o : 1;
        return orientation is >= 5 and <= 8 ? (header.Height, header.Width) : (header.Width, header.Height);
    }

    /// <summary>What decoding will cost, from the header alone: pixels, bytes of decoded samples, shape.</summary>
    private static void CheckHeader(Image header, ImageLimitsOptions limit)
    {
        var (width, height) = (header.Width, header.Height);
        if (width <= 0 || height <= 0)
        {
            throw Reject(ProblemTypes.UndecodableImage, $"The image declares a size of {width}x{height}.");
        }

        var pixels = (long)width * height;
        if (pixels > limit.MaxPixels)
        {
            throw Reject(ProblemTypes.ImageTooLarge, $"The image is {width}x{height} ({pixels} pixels); the limit is {limit.MaxPixels} pixels.");
        }

        // Bands x bytes a sample: a 16-bit RGBA or a float image takes many times the bytes of 8-bit RGB.
        var decodedBytes = checked(pixels * header.Bands * SampleBytes(header.Format));
        if (decodedBytes > limit.MaxDecodedBytes)
        {
            throw Reject(ProblemTypes.ImageTooLarge,
                $"The image is {width}x{height} with {header.Bands} {header.Format} bands, {decodedBytes} bytes decoded; the limit is {limit.MaxDecodedBytes} bytes.");
        }

        var (shortSide, longSide) = width <= height ? (width, height) : (height, width);
        if (longSide > (long)shortSide * limit.MaxAspectRatio)
        {
            throw Reject(ProblemTypes.ImageTooLarge,
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
            throw Reject(ProblemTypes.UnsupportedMediaType, $"Images with {image.Bands} channels are not supported.");
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

    private static ImageRejectedException Reject(string slug, string detail) => ImageRejectedException.Because(slug, detail);
}
