using Google.Apis.Auth.OAuth2;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.BlobStores.Gcs;

/// <summary>What the GCS adapter needs from a Google credential: bearer tokens, and RSA-SHA256 signing when it can.</summary>
internal interface IGcsCredential
{
    Task<string> GetAccessTokenAsync(CancellationToken cancellationToken);

    /// <summary>The service account that signs URLs, or null when this credential cannot sign (user or external-account credentials).</summary>
    Task<string?> GetSigningAccountAsync(CancellationToken cancellationToken);

    /// <summary>An RSA PKCS#1 v1.5 SHA-256 signature of <paramref name="data"/> by <see cref="GetSigningAccountAsync"/>'s key.</summary>
    Task<byte[]> SignAsync(byte[] data, CancellationToken cancellationToken);
}

/// <summary>
/// Google.Apis.Auth credentials: a key file (<see cref="GcsOptions.CredentialsPath"/>) or Application
/// Default Credentials, scoped to <c>devstorage.read_write</c>. Signing per credential type:
/// <list type="bullet">
/// <item>Service-account key: signs locally with its private key.</item>
/// <item>GCE/GKE metadata server (Workload Identity): <see cref="ComputeCredential.SignBlobAsync"/> calls the IAM
/// Credentials API <c>signBlob</c> for the default service account, which needs
/// <c>roles/iam.serviceAccountTokenCreator</c> on itself; without it signing fails and the service serves
/// images through its own <c>/content</c> endpoint.</item>
/// <item>Impersonated service account: IAM <c>signBlob</c> as the target principal.</item>
/// <item>Anything else (gcloud user credentials, workload identity federation): cannot sign.</item>
/// </list>
/// </summary>
internal sealed partial class GoogleGcsCredential : IGcsCredential
{
    public const string Scope = "https://www.googleapis.com/auth/devstorage.read_write";
    private readonly Lazy<Task<GoogleCredential>> _credential;
    private readonly ILogger<GoogleGcsCredential> _logger;

    public GoogleGcsCredential(IOptions<GcsOptions> options, ILogger<GoogleGcsCredential> logger)
        : this(() => LoadAsync(options.Value.CredentialsPath), logger)
    {
    }

    /// <summary>Loads lazily: resolving the store never blocks on (or fails for) credential discovery; the first call does.</summary>
    internal GoogleGcsCredential(Func<Task<GoogleCredential>> load, ILogger<GoogleGcsCredential> logger)
    {
        _credential = new Lazy<Task<GoogleCredential>>(async () => (await load()).CreateScoped(Scope));
        _logger = logger;
    }

    public async Task<string> GetAccessTokenAsync(CancellationToken cancellationToken)
    {
        var credential = await _credential.Value;
        return await ((ITokenAccess)credential).GetAccessTokenForRequestAsync(null, cancellationToken);
    }

    public async Task<string?> GetSigningAccountAsync(CancellationToken cancellationToken)
    {
        var credential = await _credential.Value;
        try
        {
            return credential.UnderlyingCredential switch
            {
                ServiceAccountCredential account => account.Id,
                ImpersonatedCredential impersonated => impersonated.TargetPrincipal,
                ComputeCredential compute => await compute.GetDefaultServiceAccountEmailAsync(cancellationToken),
                _ => null,
            };
        }
        catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or IOException)
        {
            LogNoSigningAccount(_logger, ex.Message);
            return null;
        }
    }

    public async Task<byte[]> SignAsync(byte[] data, CancellationToken cancellationToken)
    {
        var credential = await _credential.Value;
        IBlobSigner signer = credential.UnderlyingCredential switch
        {
            ServiceAccountCredential account => account,
            ImpersonatedCredential impersonated => impersonated,
            ComputeCredential compute => compute,
            _ => throw new InvalidOperationException($"A {credential.UnderlyingCredential.GetType().Name} cannot sign."),
        };
        return Convert.FromBase64String(await signer.SignBlobAsync(data, cancellationToken));
    }

    private static async Task<GoogleCredential> LoadAsync(string? path) =>
        string.IsNullOrEmpty(path)
            ? await GoogleCredential.GetApplicationDefaultAsync()
            : (await CredentialFactory.FromFileAsync<ServiceAccountCredential>(path, CancellationToken.None)).ToGoogleCredential();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot find the service account to sign GCS URLs with ({Error}); links go through the service instead")]
    private static partial void LogNoSigningAccount(ILogger logger, string error);
}

/// <summary>Puts a fresh bearer token on every GCS request (inside the retry loop, so a retry after expiry gets a new one).</summary>
internal sealed class GcsAuthorizationHandler(IGcsCredential credential) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", await credential.GetAccessTokenAsync(cancellationToken));
        return await base.SendAsync(request, cancellationToken);
    }
}
