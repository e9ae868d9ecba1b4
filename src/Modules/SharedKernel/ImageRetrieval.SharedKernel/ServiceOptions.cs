using System.ComponentModel.DataAnnotations;

namespace ImageRetrieval.SharedKernel;

/// <summary>
/// Settings under <c>ImageRetrieval</c> that every part of the service shares: the modules (links in
/// responses, the model cache), the Host and the embedded stores (the data directory).
/// </summary>
public sealed class ServiceOptions
{
    public const string Section = "ImageRetrieval";

    /// <summary>Everything the embedded stores and the model cache keep lives under this directory.</summary>
    [Required]
    public string DataPath { get; set; } = "./data";

    /// <summary>Base of absolute links in responses when the service sits behind a proxy; else the request's own origin.</summary>
    [Url]
    public string? PublicBaseUrl { get; set; }

    public string FullDataPath => Path.GetFullPath(DataPath);
}
