using System.Text;
using Microsoft.Net.Http.Headers;

namespace ImageRetrieval.Host.Api;

/// <summary>What a request body declares about itself, checked before an endpoint reads it.</summary>
internal static class RequestBodyChecks
{
    /// <summary>
    /// A JSON body whose Content-Type names a charset .NET does not know (<c>charset=bogus</c>) is a 415 problem:
    /// the JSON reader throws a bare InvalidOperationException for it, which would be a 500. Known charsets
    /// (utf-8, iso-8859-1, ...) are still transcoded by the reader as before.
    /// </summary>
    public static void UseKnownJsonCharsets(this WebApplication app) =>
        app.Use(async (context, next) =>
        {
            if (context.Request.HasJsonContentType()
                && MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var media)
                && HeaderUtilities.RemoveQuotes(media.Charset) is { Length: > 0 } charset
                && !IsKnownEncoding(charset.Value!))
            {
                await context.WriteProblemAsync(new Problem(ProblemTypes.UnsupportedMediaType, "Unsupported charset",
                    $"The body's charset '{charset.Value}' is not a known encoding; send JSON as UTF-8."));
                return;
            }

            await next(context);
        });

    private static bool IsKnownEncoding(string charset)
    {
        try
        {
            _ = Encoding.GetEncoding(charset);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
