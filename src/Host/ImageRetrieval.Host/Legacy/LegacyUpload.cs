namespace ImageRetrieval.Host.Legacy;

/// <summary>
/// The one file of an old-style request (multipart field <c>file</c>), or the answer FastAPI gave
/// instead: 422 when the field is missing, 400 <c>{"detail"}</c> when it cannot be an image.
/// </summary>
internal sealed record LegacyUpload(ImageUpload? Image, LegacyHttpValidationError? Missing, LegacyHttpError? Invalid, bool Empty = false)
{
    public const string FileField = "file";

    /// <summary>
    /// What an old route answers when the upload is unusable (422 for the missing field, 400 otherwise),
    /// else null; <paramref name="whenEmpty"/> replaces the 400's words for an empty file where the old route had its own.
    /// </summary>
    public Results<Ok<T>, BadRequest<LegacyHttpError>, UnprocessableEntity<LegacyHttpValidationError>>? RefusalAs<T>(LegacyHttpError? whenEmpty = null) =>
        (Missing, Invalid) switch
        {
            ({ } missing, _) => TypedResults.UnprocessableEntity(missing),
            (_, { } invalid) => TypedResults.BadRequest(Empty && whenEmpty is not null ? whenEmpty : invalid),
            _ => null,
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
            // A malformed form (InvalidDataException) and one cut short (IOException: the body ended before the closing
            // boundary) are both the caller's; Starlette answered both with these words.
            catch (Exception ex) when (ex is InvalidDataException || (ex is IOException && !request.HttpContext.RequestAborted.IsCancellationRequested))
            {
                return new LegacyUpload(null, null, new LegacyHttpError("There was an error parsing the body"));
            }
        }

        if (file is null)
        {
            return new LegacyUpload(null, LegacyHttpValidationError.MissingField(FileField), null);
        }

        // The old services answered every refused image with 400 {"detail"}, a too-large one included.
        var read = await FormFileReader.TryReadAsync(file, limits, cancellationToken);
        return read switch
        {
            { Refusal: { } refused } => new LegacyUpload(null, null, new LegacyHttpError(refused.Detail)),
            { Upload.Content.IsEmpty: true } => new LegacyUpload(null, null, new LegacyHttpError("The file is empty."), Empty: true),
            _ => new LegacyUpload(read.Upload, null, null),
        };
    }
}
