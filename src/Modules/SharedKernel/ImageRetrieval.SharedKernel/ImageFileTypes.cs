using System.Collections.Frozen;

namespace ImageRetrieval.SharedKernel;

/// <summary>
/// The file extensions of the image formats this service reads and the content type each implies: what the
/// command line picks up from a directory and labels its uploads with, and what the local blob store
/// answers for a stored key. The decoder still decides the real format from the bytes.
/// </summary>
public static class ImageFileTypes
{
    public const string Unknown = "application/octet-stream";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".jpg"] = "image/jpeg",
        [".jpeg"] = "image/jpeg",
        [".png"] = "image/png",
        [".webp"] = "image/webp",
        [".gif"] = "image/gif",
        [".tif"] = "image/tiff",
        [".tiff"] = "image/tiff",
        [".heic"] = "image/heic",
        [".heif"] = "image/heif",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>True when the path's extension (any case) is one of an image format this service reads.</summary>
    public static bool HasImageExtension(string path) => ContentTypes.ContainsKey(Path.GetExtension(path));

    /// <summary>The content type the path's extension implies, or <see cref="Unknown"/>.</summary>
    public static string ContentTypeOf(string path) => ContentTypes.GetValueOrDefault(Path.GetExtension(path), Unknown);
}
