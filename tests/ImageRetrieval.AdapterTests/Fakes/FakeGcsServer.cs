using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ImageRetrieval.AdapterTests.Fakes;

/// <summary>
/// An in-memory Cloud Storage bucket answering the JSON API calls the official client (Google.Cloud.Storage.V1)
/// makes, as the JSON API reference describes them ("Objects: insert" as a resumable upload — a session
/// started with <c>uploadType=resumable</c>, then the bytes PUT to the session URI with <c>Content-Range</c> —
/// with ifGenerationMatch, "Objects: get" with alt=media, "Objects: delete", "Objects: list" with
/// prefix/matchGlob/pageToken/nextPageToken, also as a POST with X-HTTP-Method-Override when its URL is long), requiring <c>Authorization: Bearer</c>; errors are
/// <c>{"error": {"code", "message", "errors"}}</c>. It also serves V4 signed URLs
/// (<c>GET /bucket/object?X-Goog-...</c>) and checks their signature with the signer's public key, following
/// "Canonical requests" and "Signatures" — an implementation separate from the library's.
/// </summary>
public sealed class FakeGcsServer(string bucket, RSA? signerPublicKey = null) : FakeProviderServer
{
    public const string Token = "ya29.fake-access-token";
    private readonly SortedDictionary<string, (byte[] Bytes, string ContentType, long Generation)> _objects = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (string Name, string ContentType, bool IfAbsent, MemoryStream Bytes)> _sessions = new(StringComparer.Ordinal);
    private long _generation = 1_700_000_000_000_000;

    /// <summary>Objects per list page ("maxResults" defaults to 1000 in GCS; small here to exercise pageToken).</summary>
    public int PageSize { get; init; } = 1000;

    public IReadOnlyCollection<string> ObjectNames
    {
        get
        {
            lock (_gate)
            {
                return [.. _objects.Keys];
            }
        }
    }

    protected override void Map(WebApplication app) => app.Run(HandleAsync);

    private async Task HandleAsync(HttpContext context)
    {
        // The client gzips JSON request bodies (StorageClientBuilder.GZipEnabled, on by default), as GCS accepts.
        if (context.Request.Headers.ContentEncoding == "gzip")
        {
            context.Request.Body = new System.IO.Compression.GZipStream(context.Request.Body, System.IO.Compression.CompressionMode.Decompress);
        }

        var raw = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        var rawPath = raw.Split('?')[0];
        var segments = rawPath.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        var method = context.Request.Method;
        var query = context.Request.Query;

        // A GET whose URL passes the client's MaxUrlLength (2048) arrives as a POST with "X-HTTP-Method-Override: GET"
        // and its query parameters form-encoded in the body, as Google's APIs accept.
        if (method == "POST" && context.Request.Headers["X-HTTP-Method-Override"] == "GET")
        {
            method = "GET";
            query = new QueryCollection(Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(await new StreamReader(context.Request.Body).ReadToEndAsync()));
        }

        if (query.ContainsKey("X-Goog-Signature"))
        {
            await ServeSignedAsync(context, raw, rawPath);
            return;
        }

        if (!Authorized(context.Request.Headers.Authorization.ToString()))
        {
            // "Authentication": a missing or bad token is 401 UNAUTHENTICATED.
            await ErrorAsync(context, 401, "Invalid Credentials", "authError");
            return;
        }

        // POST /upload/storage/v1/b/{bucket}/o?uploadType=resumable ("Perform a resumable upload": start a session)
        if (method == "POST" && segments is ["upload", "storage", "v1", "b", var ub, "o"] && ub == bucket)
        {
            var text = await new StreamReader(context.Request.Body).ReadToEndAsync();
            var metadata = text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null;
            var name = query["name"].ToString() is { Length: > 0 } named ? named : metadata?["name"]?.GetValue<string>();
            if (query["uploadType"] != "resumable" || string.IsNullOrEmpty(name))
            {
                await ErrorAsync(context, 400, "Upload requests must include an uploadType and a name.", "invalid");
                return;
            }

            // ifGenerationMatch=0: "the operation succeeds only if there are no live versions of the object".
            var ifAbsent = query["ifGenerationMatch"] == "0";
            var id = Guid.NewGuid().ToString("N");
            lock (_gate)
            {
                if (ifAbsent && _objects.ContainsKey(name))
                {
                    context.Response.StatusCode = 412;
                }
                else
                {
                    var type = context.Request.Headers["X-Upload-Content-Type"].ToString() is { Length: > 0 } t ? t : metadata?["contentType"]?.GetValue<string>() ?? "application/octet-stream";
                    _sessions[id] = (name, type, ifAbsent, new MemoryStream());
                }
            }

            if (context.Response.StatusCode == 412)
            {
                await ErrorAsync(context, 412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet");
                return;
            }

            context.Response.Headers.Location = $"{context.Request.Scheme}://{context.Request.Host}/upload/storage/v1/b/{bucket}/o?uploadType=resumable&upload_id={id}";
            return;
        }

        // PUT {session URI}: the bytes with "Content-Range: bytes a-b/total"; 308 with the received Range until the last chunk.
        if (method == "PUT" && segments is ["upload", "storage", "v1", "b", var pb, "o"] && pb == bucket)
        {
            await UploadChunkAsync(context, query["upload_id"].ToString());
            return;
        }

        if (segments is ["storage", "v1", "b", var b, "o"] && b == bucket && method == "GET")
        {
            // "Objects: list": lexicographic order, prefix and matchGlob filters (both apply), nextPageToken while more remain.
            var prefix = query["prefix"].ToString();
            var glob = query["matchGlob"].ToString() is { Length: > 0 } pattern ? GlobRegex(pattern) : null;
            var after = query["pageToken"].ToString() is { Length: > 0 } token ? Encoding.UTF8.GetString(Convert.FromBase64String(token)) : null;
            var size = int.TryParse(query["maxResults"], out var m) ? Math.Min(m, PageSize) : PageSize;
            List<string> names;
            lock (_gate)
            {
                names = [.. _objects.Keys.Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && (after is null || string.CompareOrdinal(n, after) > 0) && (glob is null || glob.IsMatch(n)))];
            }

            var page = names.Take(size).ToList();
            var result = new JsonObject { ["kind"] = "storage#objects" };
            if (page.Count > 0)
            {
                result["items"] = new JsonArray([.. page.Select(n => (JsonNode)new JsonObject { ["name"] = n })]);
            }

            if (names.Count > size)
            {
                result["nextPageToken"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(page[^1]));
            }

            await JsonAsync(context, result);
            return;
        }

        if (segments is ["storage", "v1", "b", var ob, "o", var objectName] && ob == bucket)
        {
            (byte[] Bytes, string ContentType, long Generation) found;
            bool exists;
            lock (_gate)
            {
                exists = _objects.TryGetValue(objectName, out found);
                if (exists && method == "DELETE")
                {
                    _objects.Remove(objectName);
                }
            }

            if (!exists)
            {
                await ErrorAsync(context, 404, $"No such object: {bucket}/{objectName}", "notFound");
                return;
            }

            if (method == "DELETE")
            {
                context.Response.StatusCode = 204; // "Objects: delete" returns an empty response
                return;
            }

            if (query["alt"] == "media")
            {
                context.Response.Headers["X-Goog-Hash"] = "md5=" + Md5(found.Bytes);
                context.Response.Headers["X-Goog-Generation"] = found.Generation.ToString(CultureInfo.InvariantCulture);
                context.Response.ContentType = found.ContentType;
                context.Response.ContentLength = found.Bytes.Length;
                await context.Response.Body.WriteAsync(found.Bytes);
                return;
            }

            await JsonAsync(context, Resource(objectName));
            return;
        }

        await ErrorAsync(context, 404, "Not Found", "notFound");
    }

    /// <summary>
    /// "List objects and prefixes using glob": <c>**</c> matches across folders, <c>*</c> within one, <c>?</c> one
    /// character, <c>{a,b}</c> any one of the comma-separated alternatives, <c>\</c> escapes; the whole name must match.
    /// Brackets are not served: the adapter sends none.
    /// </summary>
    private static System.Text.RegularExpressions.Regex GlobRegex(string glob)
    {
        var pattern = new StringBuilder("^");
        var braces = 0;
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            switch (c)
            {
                case '*' when i + 1 < glob.Length && glob[i + 1] == '*':
                    pattern.Append(".*");
                    i++;
                    break;
                case '*':
                    pattern.Append("[^/]*");
                    break;
                case '?':
                    pattern.Append("[^/]");
                    break;
                case '{':
                    braces++;
                    pattern.Append("(?:");
                    break;
                case '}' when braces > 0:
                    braces--;
                    pattern.Append(')');
                    break;
                case ',' when braces > 0:
                    pattern.Append('|');
                    break;
                case '\\' when i + 1 < glob.Length:
                    pattern.Append(System.Text.RegularExpressions.Regex.Escape(glob[++i].ToString()));
                    break;
                default:
                    pattern.Append(System.Text.RegularExpressions.Regex.Escape(c.ToString()));
                    break;
            }
        }

        return new System.Text.RegularExpressions.Regex(pattern.Append('$').ToString(), System.Text.RegularExpressions.RegexOptions.CultureInvariant);
    }

    /// <summary>
    /// <see cref="Token"/> (a bare access token), or a self-signed JWT of the service account ("Addendum:
    /// Service account authorization without OAuth"), which the client library sends for a scoped key:
    /// RS256 over <c>header.payload</c>, verified with the signer's public key, not expired.
    /// </summary>
    private bool Authorized(string header)
    {
        if (header == $"Bearer {Token}")
        {
            return true;
        }

        var parts = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header[7..].Split('.') : [];
        if (parts.Length != 3 || signerPublicKey is null)
        {
            return false;
        }

        var signed = signerPublicKey.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var claims = JsonNode.Parse(Base64Url(parts[1]));
        return signed && claims?["exp"]?.GetValue<long>() > DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    private static byte[] Base64Url(string text) =>
        Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/') + new string('=', (4 - (text.Length % 4)) % 4));

    private async Task UploadChunkAsync(HttpContext context, string id)
    {
        using var chunk = new MemoryStream();
        await context.Request.Body.CopyToAsync(chunk);
        var range = context.Request.Headers.ContentRange.ToString(); // "bytes 0-99/100", "bytes */100" (a status query)
        var total = range.Split('/') is [_, var t] && long.TryParse(t, CultureInfo.InvariantCulture, out var n) ? n : (long?)null;
        (string Name, string ContentType, bool IfAbsent, MemoryStream Bytes) session;
        var status = 200;
        lock (_gate)
        {
            if (!_sessions.TryGetValue(id, out session))
            {
                status = 404;
            }
            else
            {
                chunk.Position = 0;
                chunk.CopyTo(session.Bytes);
                if (total is null || session.Bytes.Length < total)
                {
                    status = 308;
                }
                else if (session.IfAbsent && _objects.ContainsKey(session.Name))
                {
                    status = 412;
                    _sessions.Remove(id);
                }
                else
                {
                    _objects[session.Name] = (session.Bytes.ToArray(), session.ContentType, ++_generation);
                    _sessions.Remove(id);
                }
            }
        }

        switch (status)
        {
            case 404:
                await ErrorAsync(context, 404, "No such upload session.", "notFound");
                return;
            case 412:
                await ErrorAsync(context, 412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet");
                return;
            case 308:
                context.Response.StatusCode = 308;
                if (session.Bytes.Length > 0)
                {
                    context.Response.Headers["Range"] = $"bytes=0-{session.Bytes.Length - 1}";
                }

                return;
            default:
                await JsonAsync(context, Resource(session.Name));
                return;
        }
    }

    /// <summary>"Signatures": rebuild the canonical request from what arrived and verify the RSA-SHA256 signature.</summary>
    private async Task ServeSignedAsync(HttpContext context, string raw, string rawPath)
    {
        var pairs = raw.Split('?', 2)[1].Split('&').Select(p => p.Split('=', 2)).ToList();
        var signature = pairs.Single(p => p[0] == "X-Goog-Signature")[1];
        var canonicalQuery = string.Join('&', pairs.Where(p => p[0] != "X-Goog-Signature").OrderBy(p => p[0], StringComparer.Ordinal).Select(p => $"{p[0]}={p[1]}"));
        var q = context.Request.Query;
        // The host as the client library signs it: the name without a port (GCS itself is only ever on 443).
        var canonicalRequest = $"{context.Request.Method}\n{rawPath}\n{canonicalQuery}\nhost:{context.Request.Host.Host}\n\nhost\nUNSIGNED-PAYLOAD";
        var scope = q["X-Goog-Credential"].ToString().Split('/', 2)[1];
        var stringToSign = $"GOOG4-RSA-SHA256\n{q["X-Goog-Date"]}\n{scope}\n{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";
        var valid = signerPublicKey is not null && signature.Length % 2 == 0
            && signerPublicKey.VerifyData(Encoding.UTF8.GetBytes(stringToSign), Convert.FromHexString(signature), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var issued = DateTimeOffset.ParseExact(q["X-Goog-Date"].ToString(), "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        var expired = issued.AddSeconds(int.Parse(q["X-Goog-Expires"].ToString(), CultureInfo.InvariantCulture)) < DateTimeOffset.UtcNow;
        if (!valid || expired)
        {
            // Signed URLs go through the XML API, whose errors are XML.
            context.Response.StatusCode = 403;
            context.Response.ContentType = "application/xml";
            await context.Response.WriteAsync($"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{(valid ? "ExpiredToken" : "SignatureDoesNotMatch")}</Code></Error>");
            return;
        }

        var segments = rawPath.TrimStart('/').Split('/', 2);
        var name = Uri.UnescapeDataString(segments[1]);
        (byte[] Bytes, string ContentType, long Generation) found;
        lock (_gate)
        {
            if (segments[0] != bucket || !_objects.TryGetValue(name, out found))
            {
                context.Response.StatusCode = 404;
                return;
            }
        }

        context.Response.ContentType = found.ContentType;
        await context.Response.Body.WriteAsync(found.Bytes);
    }

    private JsonObject Resource(string name)
    {
        lock (_gate)
        {
            var o = _objects[name];
            return new JsonObject
            {
                ["kind"] = "storage#object",
                ["id"] = $"{bucket}/{name}/{o.Generation}",
                ["name"] = name,
                ["bucket"] = bucket,
                ["generation"] = o.Generation.ToString(CultureInfo.InvariantCulture),
                ["contentType"] = o.ContentType,
                ["size"] = o.Bytes.Length.ToString(CultureInfo.InvariantCulture),
                ["md5Hash"] = Md5(o.Bytes),
            };
        }
    }

    // GCS reports MD5 (base64) in md5Hash and X-Goog-Hash; the client checks what it received against it.
#pragma warning disable CA5351 // The protocol's checksum, not a security use.
    private static string Md5(byte[] bytes) => Convert.ToBase64String(MD5.HashData(bytes));
#pragma warning restore CA5351

    private static Task JsonAsync(HttpContext context, JsonNode body)
    {
        context.Response.ContentType = "application/json; charset=UTF-8";
        return context.Response.WriteAsync(body.ToJsonString());
    }

    private static Task ErrorAsync(HttpContext context, int status, string message, string reason)
    {
        context.Response.StatusCode = status;
        return JsonAsync(context, new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["code"] = status,
                ["message"] = message,
                ["errors"] = new JsonArray(new JsonObject { ["message"] = message, ["domain"] = "global", ["reason"] = reason }),
            },
        });
    }
}

/// <summary>Hands the GCS adapter a given credential instead of Application Default Credentials.</summary>
internal sealed class FixedCredentialSource(Google.Apis.Auth.OAuth2.GoogleCredential credential)
    : ImageRetrieval.Infrastructure.BlobStores.Gcs.GcsCredentialSource(Microsoft.Extensions.Options.Options.Create(new ImageRetrieval.Infrastructure.BlobStores.Gcs.GcsOptions()))
{
    public override Task<Google.Apis.Auth.OAuth2.GoogleCredential> LoadAsync(CancellationToken cancellationToken) => Task.FromResult(credential);
}
