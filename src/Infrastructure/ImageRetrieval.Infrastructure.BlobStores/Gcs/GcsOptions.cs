using System.ComponentModel.DataAnnotations;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.BlobStores.Gcs;

/// <summary>Settings under <c>ImageRetrieval:BlobStore:Gcs</c>.</summary>
public sealed class GcsOptions : StoreResilienceOptions
{
    public const string Section = "ImageRetrieval:BlobStore:Gcs";

    /// <summary>A GCS attempt may take 60 s by default, not the 30 s of the other stores.</summary>
    public GcsOptions() => Timeout = TimeSpan.FromSeconds(60);

    [Required]
    [RegularExpression("^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$", ErrorMessage = "Bucket must be a valid GCS bucket name.")]
    public string Bucket { get; set; } = "";

    /// <summary>Put before every key to form the object name (e.g. <c>prod/</c>); "" keeps keys as they are.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>How long a V4 signed URL stays valid; GCS allows at most 7 days.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan SignedUrlLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>A service-account key file; when unset, Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, or the GKE/GCE metadata server).</summary>
    public string? CredentialsPath { get; set; }

    /// <summary>The client's base (JSON API under <c>storage/v1/</c>, uploads under <c>upload/storage/v1/</c>) and the signed URLs' origin; overridden only for tests and emulators.</summary>
    [Required]
    [Url]
    public string Endpoint { get; set; } = "https://storage.googleapis.com";
}
