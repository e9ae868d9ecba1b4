using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.SharedKernel.Web;

/// <summary>One uploaded file as read: its bytes, or why it was refused before a byte was read.</summary>
public sealed record FormFileRead(string FileName, ImageUpload? Upload, Problem? Refusal);

/// <summary>
/// How every upload route reads its files: the caller's name for each (without a client's directory),
/// refused from its declared length before a byte is read when it is over
/// <see cref="ImageLimitsOptions.MaxFileBytes"/>, else read into memory.
/// </summary>
public static class FormFileReader
{
    /// <summary>Each file in order; one that is too large is refused in its place and the others are still read.</summary>
    public static async Task<IReadOnlyList<FormFileRead>> ReadEachAsync(IReadOnlyList<IFormFile> files, ImageLimitsOptions limits, CancellationToken cancellationToken)
    {
        var reads = new List<FormFileRead>(files.Count);
        foreach (var file in files)
        {
            reads.Add(await TryReadAsync(file, limits, cancellationToken));
        }

        return reads;
    }

    /// <summary>Every file, or the first refusal thrown (413 <c>file-too-large</c>) for a route that takes all or nothing.</summary>
    public static async Task<IReadOnlyList<ImageUpload>> ReadAllAsync(IReadOnlyList<IFormFile> files, ImageLimitsOptions limits, CancellationToken cancellationToken) =>
        (await ReadEachAsync(files, limits, cancellationToken)).Select(read => read.Upload ?? throw new ServiceProblemException(read.Refusal!)).ToList();

    /// <summary>The file, or its refusal thrown (413 <c>file-too-large</c>).</summary>
    public static async Task<ImageUpload> ReadAsync(IFormFile file, ImageLimitsOptions limits, CancellationToken cancellationToken)
    {
        var read = await TryReadAsync(file, limits, cancellationToken);
        return read.Upload ?? throw new ServiceProblemException(read.Refusal!);
    }

    public static async Task<FormFileRead> TryReadAsync(IFormFile file, ImageLimitsOptions limits, CancellationToken cancellationToken)
    {
        var name = string.IsNullOrWhiteSpace(file.FileName) ? file.Name : Path.GetFileName(file.FileName);
        if (file.Length > limits.MaxFileBytes)
        {
            return new FormFileRead(name, null, new Problem(ProblemTypes.FileTooLarge, "File too large",
                $"'{name}' has {file.Length} bytes; the limit is {limits.MaxFileBytes}."));
        }

        var buffer = new byte[file.Length];
        await using var stream = file.OpenReadStream();
        await stream.ReadExactlyAsync(buffer, cancellationToken);
        return new FormFileRead(name, new ImageUpload(name, buffer), null);
    }
}
