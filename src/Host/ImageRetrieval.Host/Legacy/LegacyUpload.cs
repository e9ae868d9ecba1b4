using ImageRetrieval.SharedKernel;
using ImageRetrieval.SharedKernel.Web;

namespace ImageRetrieval.Host.Legacy;

/// <summary>
/// The one file of an old-style request (multipart field <c>file</c>), or the answer FastAPI gave
/// instead: 422 when the field is missing, 400 <c>{"detail"}</c> when it cannot be an image.
/// </summary>
internal sealed record LegacyUpload(ImageUpload? Image, LegacyHttpValidationError? Missing, LegacyHttpError? Invalid, bool Empty = false)
{
    public const string FileField = "file";

    /// <summary>Every way this service refuses an image; the old services answered all of them with 400.</summary>
    private static readonly HashSet<string> ImageRejections = new(StringComparer.Ordinal)
    {
        ProblemTypes.FileTooLarge, ProblemTypes.ImageTooLarge, ProblemTypes.UnsupportedMediaType, ProblemTypes.UndecodableImage,
    };

    public static async Task<LegacyUpload> ReadAsync(HttpRequest request, ImageLimitsOptions limits, CancellationToken cancellationToken)
    {
        // Like Starlette, a body that is not a form has no fields at all, so the file is "missing" (422), not a 415.
        IFormFile? file = null;
        if (request.HasFormContentType)
        {
            try
            {
                file = (await request.ReadFormAsync(cancellationToken)).Files.GetFile(FileField);
            }
            catch (InvalidDataException)
            {
                return new LegacyUpload(null, null, new LegacyHttpError("There was an error parsing the body"));
            }
        }

        if (file is null)
        {
            return new LegacyUpload(null, LegacyHttpValidationError.MissingField(FileField), null);
        }

        try
        {
            var image = await FormFileReader.ReadAsync(file, limits, cancellationToken);
            return image.Content.IsEmpty
                ? new LegacyUpload(null, null, new LegacyHttpError("The file is empty."), Empty: true)
                : new LegacyUpload(image, null, null);
        }
        catch (ServiceProblemException ex) when (IsImageRejection(ex.Slug))
        {
            return new LegacyUpload(null, null, new LegacyHttpError(ex.Message));
        }
    }

    /// <summary>True for a problem slug (or its <c>urn:</c> form) that means "this file is not a usable image".</summary>
    public static bool IsImageRejection(string slugOrType) =>
        ImageRejections.Contains(slugOrType.StartsWith(ProblemTypes.Prefix, StringComparison.Ordinal) ? slugOrType[ProblemTypes.Prefix.Length..] : slugOrType);
}
