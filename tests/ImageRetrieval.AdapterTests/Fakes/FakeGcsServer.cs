using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ImageRetrieval.Infrastructure.BlobStores.Gcs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ImageRetrieval.AdapterTests.Fakes;

/// <summary>
/// An in-memory Cloud Storage bucket answering the JSON API calls the adapter makes, as the JSON API
/// reference describes them ("Objects: insert" with uploadType=media and ifGenerationMatch, "Objects: get"
/// with alt=media, "Objects: delete", "Objects: list" with prefix/pageToken/nextPageToken), requiring
/// <c>Authorization: Bearer</c>; errors are <c>{"error": {"code", "message", "errors"}}</c>. It also serves
/// V4 signed URLs (<c>GET /bucket/object?X-Goog-...</c>) and checks their signature with the signer's public
/// key, following "Canonical requests" and "Signatures" — an implementation separate from the adapter's.
/// </summary>
public sealed class FakeGcsServer(string bucket, RSA? signerPublicKey = null) : FakeProviderServer
{
    public const string Token = "ya29.fake-access-token";
    private readonly SortedDictionary<string, (byte[] Bytes, string ContentType, long Generation)> _objects = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
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
        var raw = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        var rawPath = raw.Split('?')[0];
        var segments = rawPath.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        var method = context.Request.Method;
        var query = context.Request.Query;

        if (query.ContainsKey("X-Goog-Signature"))
        {
            await ServeSignedAsync(context, raw, rawPath);
            return;
        }

        if (context.Request.Headers.Authorization != $"Bearer {Token}")
        {
            // "Authentication": a missing or bad token is 401 UNAUTHENTICATED.
            await ErrorAsync(context, 401, "Invalid Credentials", "authError");
            return;
        }

        // POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name=..  ("Objects: insert", simple upload)
        if (method == "POST" && segments is ["upload", "storage", "v1", "b", var ub, "o"] && ub == bucket)
        {
            if (query["uploadType"] != "media" || string.IsNullOrEmpty(query["name"]))
            {
                await ErrorAsync(context, 400, "Upload requests must include an uploadType and a name.", "invalid");
                return;
            }

            var name = query["name"].ToString();
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            lock (_gate)
            {
                // ifGenerationMatch=0: "the operation succeeds only if there are no live versions of the object".
                if (query["ifGenerationMatch"] == "0" && _objects.ContainsKey(name))
                {
                    context.Response.StatusCode = 412;
                }
                else
                {
                    _objects[name] = (body.ToArray(), context.Request.ContentType ?? "application/octet-stream", ++_generation);
                }
            }

            if (context.Response.StatusCode == 412)
            {
                await ErrorAsync(context, 412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet");
                return;
            }

            await JsonAsync(context, Resource(name));
            return;
        }

        if (segments is ["storage", "v1", "b", var b, "o"] && b == bucket && method == "GET")
        {
            // "Objects: list": lexicographic order, prefix filter, nextPageToken while more remain.
            var prefix = query["prefix"].ToString();
            var after = query["pageToken"].ToString() is { Length: > 0 } token ? Encoding.UTF8.GetString(Convert.FromBase64String(token)) : null;
            var size = int.TryParse(query["maxResults"], out var m) ? Math.Min(m, PageSize) : PageSize;
            List<string> names;
            lock (_gate)
            {
                names = [.. _objects.Keys.Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && (after is null || string.CompareOrdinal(n, after) > 0))];
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

    /// <summary>"Signatures": rebuild the canonical request from what arrived and verify the RSA-SHA256 signature.</summary>
    private async Task ServeSignedAsync(HttpContext context, string raw, string rawPath)
    {
        var pairs = raw.Split('?', 2)[1].Split('&').Select(p => p.Split('=', 2)).ToList();
        var signature = pairs.Single(p => p[0] == "X-Goog-Signature")[1];
        var canonicalQuery = string.Join('&', pairs.Where(p => p[0] != "X-Goog-Signature").OrderBy(p => p[0], StringComparer.Ordinal).Select(p => $"{p[0]}={p[1]}"));
        var q = context.Request.Query;
        var canonicalRequest = $"{context.Request.Method}\n{rawPath}\n{canonicalQuery}\nhost:{context.Request.Host.Value}\n\nhost\nUNSIGNED-PAYLOAD";
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
            };
        }
    }

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

/// <summary>A credential with a fixed token that signs with a given RSA key (or cannot sign), counting token requests.</summary>
internal sealed class FakeGcsCredential(RSA? key, string? account) : IGcsCredential
{
    private int _tokens;

    public int TokenRequests => _tokens;

    public Task<string> GetAccessTokenAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _tokens);
        return Task.FromResult(FakeGcsServer.Token);
    }

    public Task<string?> GetSigningAccountAsync(CancellationToken cancellationToken) => Task.FromResult(key is null ? null : account);

    public int Signatures => _signatures;

    private int _signatures;

    public Task<byte[]> SignAsync(byte[] data, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _signatures);
        return Task.FromResult(key!.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }
}
