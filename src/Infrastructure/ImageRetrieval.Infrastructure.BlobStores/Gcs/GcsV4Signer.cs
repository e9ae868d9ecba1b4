using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ImageRetrieval.Infrastructure.BlobStores.Gcs;

/// <summary>
/// Cloud Storage V4 signed URLs ("V4 signing process with your own program"), for GET with only the
/// <c>host</c> header signed:
/// <code>
/// canonical request = VERB \n /bucket/object \n sorted query \n host:HOST \n \n host \n UNSIGNED-PAYLOAD
/// string to sign    = GOOG4-RSA-SHA256 \n yyyyMMddTHHmmssZ \n yyyyMMdd/auto/storage/goog4_request \n hex(sha256(canonical request))
/// URL               = scheme://HOST/bucket/object ? sorted query &amp; X-Goog-Signature=hex(RSA-SHA256(string to sign))
/// </code>
/// The query holds X-Goog-Algorithm, -Credential (<c>email/scope</c>), -Date, -Expires (seconds) and
/// -SignedHeaders, each RFC 3986-encoded and sorted by name; the object name is encoded except '/'.
/// </summary>
internal static class GcsV4Signer
{
    public const string Algorithm = "GOOG4-RSA-SHA256";

    internal sealed record SignedUrl(string CanonicalRequest, string StringToSign, string SignatureHex, Uri Url);

    public static async Task<SignedUrl> SignAsync(
        Uri endpoint,
        string bucket,
        string objectName,
        string method,
        DateTimeOffset now,
        TimeSpan lifetime,
        string signingAccount,
        Func<byte[], CancellationToken, Task<byte[]>> sign,
        CancellationToken cancellationToken)
    {
        var utc = now.UtcDateTime;
        var date = utc.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var timestamp = utc.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var scope = $"{date}/auto/storage/goog4_request";
        var host = endpoint.IsDefaultPort ? endpoint.Host : endpoint.Authority;
        var path = endpoint.AbsolutePath.TrimEnd('/') + "/" + bucket + "/" + EncodePath(objectName);

        var query = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["X-Goog-Algorithm"] = Algorithm,
            ["X-Goog-Credential"] = $"{signingAccount}/{scope}",
            ["X-Goog-Date"] = timestamp,
            ["X-Goog-Expires"] = ((long)lifetime.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            ["X-Goog-SignedHeaders"] = "host",
        };
        var canonicalQuery = string.Join('&', query.Select(kv => Uri.EscapeDataString(kv.Key) + "=" + Uri.EscapeDataString(kv.Value)));
        var canonicalRequest = string.Join('\n', method, path, canonicalQuery, $"host:{host}\n", "host", "UNSIGNED-PAYLOAD");
        var stringToSign = string.Join('\n', Algorithm, timestamp, scope, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest))));
        var signature = Convert.ToHexStringLower(await sign(Encoding.UTF8.GetBytes(stringToSign), cancellationToken));
        var url = new Uri($"{endpoint.Scheme}://{host}{path}?{canonicalQuery}&X-Goog-Signature={signature}");
        return new SignedUrl(canonicalRequest, stringToSign, signature, url);
    }

    /// <summary>Percent-encodes every byte but RFC 3986 unreserved characters and '/'.</summary>
    public static string EncodePath(string objectName)
    {
        var builder = new StringBuilder(objectName.Length);
        foreach (var b in Encoding.UTF8.GetBytes(objectName))
        {
            var c = (char)b;
            if (b < 0x80 && (char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~' or '/'))
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
