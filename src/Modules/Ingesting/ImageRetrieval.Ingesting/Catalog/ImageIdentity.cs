using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace ImageRetrieval.Ingesting.Catalog;

/// <summary>
/// Ids derive from the bytes: the first 128 bits of the SHA-256, as 32 lowercase hex digits, so the
/// same file always gets the same id on every replica and maps one to one onto a UUID for Qdrant.
/// </summary>
internal static partial class ImageIdentity
{
    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex IdPattern();

    public static (string Id, string Sha256) For(ReadOnlySpan<byte> content)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(content));
        return (sha[..32], sha);
    }

    public static bool IsValidId(string id) => IdPattern().IsMatch(id);

    public static string BlobKey(string id, string contentType) => $"images/{id}{Extension(contentType)}";

    public static string? IdFromBlobKey(string key)
    {
        var name = Path.GetFileNameWithoutExtension(key);
        return IsValidId(name) ? name : null;
    }

    private static string Extension(string contentType) => contentType switch
    {
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/webp" => ".webp",
        "image/gif" => ".gif",
        "image/tiff" => ".tiff",
        "image/heif" => ".heic",
        _ => ".bin",
    };
}
