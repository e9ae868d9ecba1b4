using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.SharedKernel.Web;

public static class ImageLinks
{
    /// <summary>
    /// The absolute link a caller can open: the blob store's signed URL when there is one, else this
    /// service's own content endpoint under <c>PublicBaseUrl</c> (or the request's origin).
    /// </summary>
    public static string For(HttpContext context, string id, Uri? signedUrl, string? publicBaseUrl)
    {
        if (signedUrl is not null)
        {
            return signedUrl.ToString();
        }

        var request = context.Request;
        var origin = publicBaseUrl?.TrimEnd('/') ?? $"{request.Scheme}://{request.Host}{request.PathBase}";
        return $"{origin}/api/v1/images/{id}/content";
    }
}
