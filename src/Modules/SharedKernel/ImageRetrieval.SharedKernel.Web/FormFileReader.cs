using ImageRetrieval.SharedKernel;
using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.SharedKernel.Web;

public static class FormFileReader
{
    /// <summary>
    /// Reads an uploaded file into memory, or refuses it from its declared length before reading a
    /// byte when it is over <see cref="ImageLimitsOptions.MaxFileBytes"/>.
    /// </summary>
    public static async Task<ImageUpload> ReadAsync(IFormFile file, ImageLimitsOptions limits, CancellationToken cancellationToken)
    {
        var name = string.IsNullOrWhiteSpace(file.FileName) ? file.Name : Path.GetFileName(file.FileName);
        if (file.Length > limits.MaxFileBytes)
        {
            throw new ServiceProblemException(413, ProblemTypes.FileTooLarge, "File too large",
                $"'{name}' has {file.Length} bytes; the limit is {limits.MaxFileBytes}.");
        }

        var buffer = new byte[file.Length];
        await using var stream = file.OpenReadStream();
        await stream.ReadExactlyAsync(buffer, cancellationToken);
        return new ImageUpload(name, buffer);
    }
}
