using System.Security.Cryptography;
using System.Text;
using ImageRetrieval.Host.Api;

// In the Host namespace so Program.cs needs no extra using for one line.
namespace ImageRetrieval.Host;

/// <summary>
/// The search page at <c>/</c>: plain HTML, CSS and JavaScript embedded in the Host, so it works offline
/// and behind an ingress that lets nothing else through. It calls the same <c>/api/v1</c> as any client.
/// </summary>
internal static class SearchPageEndpoints
{
    // Only the service itself: scripts and styles from files (no inline code), images from the service
    // or from object URLs the page makes of bytes it fetched with the API key.
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; " +
        "form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

    private const string ResourcePrefix = "SearchPage/";

    private static readonly (string Route, string Resource, string ContentType)[] Assets =
    [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/search-page/search.js", "search.js", "text/javascript; charset=utf-8"),
        ("/search-page/search.css", "search.css", "text/css; charset=utf-8"),
        ("/search-page/icon.svg", "icon.svg", "image/svg+xml"),
    ];

    public static WebApplication MapSearchPage(this WebApplication app)
    {
        // The page learns from its own markup whether to ask for a key, so it never has to provoke a 401 to find out.
        var keysRequired = app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.Enabled;
        foreach (var (route, resource, contentType) in Assets)
        {
            var asset = Load(resource, contentType, keysRequired);
            app.MapMethods(route, [HttpMethods.Get, HttpMethods.Head], (HttpContext context) => Serve(context, asset))
                .WithName("SearchPage:" + resource)
                .ExcludeFromDescription();
        }

        return app;
    }

    private static IResult Serve(HttpContext context, Asset asset)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        // Revalidate every time: the files change with each release and the ETag makes a revalidation a 304.
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        if (context.Request.Headers.IfNoneMatch.Contains(asset.ETag))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return TypedResults.Bytes(asset.Bytes, asset.ContentType);
    }

    private static Asset Load(string resource, string contentType, bool keysRequired)
    {
        using var stream = typeof(SearchPageEndpoints).Assembly.GetManifestResourceStream(ResourcePrefix + resource)
            ?? throw new InvalidOperationException($"The search page resource '{resource}' is not embedded in the Host.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = reader.ReadToEnd();
        if (resource == "index.html")
        {
            text = text.Replace("{{api-key}}", keysRequired ? "required" : "none", StringComparison.Ordinal);
        }

        var bytes = Encoding.UTF8.GetBytes(text);
        var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 8)) + "\"";
        return new Asset(bytes, contentType, etag);
    }

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag);
}
