using Google;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Http;
using Google.Cloud.Storage.V1;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.BlobStores.Gcs;

/// <summary>Where the Google credential comes from: a key file (<see cref="GcsOptions.CredentialsPath"/>) or Application Default Credentials.</summary>
internal class GcsCredentialSource(IOptions<GcsOptions> options)
{
    public const string Scope = "https://www.googleapis.com/auth/devstorage.read_write";

    public virtual async Task<GoogleCredential> LoadAsync(CancellationToken cancellationToken) =>
        string.IsNullOrEmpty(options.Value.CredentialsPath)
            ? await GoogleCredential.GetApplicationDefaultAsync(cancellationToken)
            : (await CredentialFactory.FromFileAsync<ServiceAccountCredential>(options.Value.CredentialsPath, cancellationToken)).ToGoogleCredential();
}

/// <summary>
/// The official <see cref="StorageClient"/> and <see cref="UrlSigner"/> over one Google credential, made on
/// first use (resolving the store never blocks on, or fails for, credential discovery).
/// <list type="bullet">
/// <item>The client sends through the named <c>IHttpClientFactory</c> handler <see cref="HttpMessageHandlerName"/>:
/// our resilience pipeline (retries honouring Retry-After, circuit breaker, per-attempt timeout) in front of
/// the socket, under the library's own handler, which adds the bearer token. Calls pass
/// <see cref="RetryOptions.Never"/> so that the library does not retry on top of it.</item>
/// <item><see cref="GcsOptions.Endpoint"/> is the client's base URI (<c>storage/v1/</c> under it; uploads go to
/// <c>upload/storage/v1/</c>) and the signed URLs' scheme, host and port.</item>
/// <item>Signing: <see cref="UrlSigner.FromCredential(GoogleCredential)"/> signs locally with a service-account
/// key, and under Workload Identity (the GKE metadata server's ComputeCredential) or an impersonated
/// account through the IAM Credentials API <c>signBlob</c>, which needs
/// <c>roles/iam.serviceAccountTokenCreator</c>. Other credentials (gcloud user, external accounts) cannot
/// sign: links then go through the service.</item>
/// </list>
/// </summary>
internal sealed partial class GcsConnection(
    GcsCredentialSource credentials,
    IHttpMessageHandlerFactory handlers,
    IOptions<GcsOptions> options,
    ILogger<GcsConnection> logger) : IDisposable
{
    public const string HttpMessageHandlerName = "ImageRetrieval.Gcs";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private (StorageClient Client, UrlSigner? Signer)? _made;

    public async Task<StorageClient> ClientAsync(CancellationToken cancellationToken) => (await MakeAsync(cancellationToken)).Client;

    /// <summary>The signer, or null when the credential cannot sign.</summary>
    public async Task<UrlSigner?> SignerAsync(CancellationToken cancellationToken) => (await MakeAsync(cancellationToken)).Signer;

    public void Dispose()
    {
        _made?.Client.Dispose();
        _gate.Dispose();
    }

    private async Task<(StorageClient Client, UrlSigner? Signer)> MakeAsync(CancellationToken cancellationToken)
    {
        if (_made is { } made)
        {
            return made;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_made is { } again)
            {
                return again;
            }

            var credential = (await credentials.LoadAsync(cancellationToken)).CreateScoped(GcsCredentialSource.Scope);
            var endpoint = options.Value.Endpoint.TrimEnd('/') + "/";
            var client = await new StorageClientBuilder
            {
                GoogleCredential = credential,
                BaseUri = endpoint + "storage/v1/",
                HttpClientFactory = new HttpClientFromMessageHandlerFactory(_ =>
                    // The factory's handler chain does no decompression or redirects of its own.
                    new HttpClientFromMessageHandlerFactory.ConfiguredHttpMessageHandler(handlers.CreateHandler(HttpMessageHandlerName), false, false)),
            }.BuildAsync(cancellationToken);
            UrlSigner? signer;
            try
            {
                signer = UrlSigner.FromCredential(credential);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or NotSupportedException)
            {
                LogCannotSign(logger, credential.UnderlyingCredential.GetType().Name, ex.Message);
                signer = null;
            }

            _made = (client, signer);
            return (client, signer);
        }
        finally
        {
            _gate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A {Credential} cannot sign GCS URLs ({Error}); links go through the service instead")]
    private static partial void LogCannotSign(ILogger logger, string credential, string error);
}

/// <summary>The library's errors as ours: what the store callers and the Host already understand.</summary>
internal static class GcsErrors
{
    public const string StoreName = "Gcs";

    public static bool IsStatus(Exception ex, System.Net.HttpStatusCode status) => ex is GoogleApiException api && api.HttpStatusCode == status;

    /// <summary>
    /// GCS's answer or a transport failure as <see cref="Abstractions.StoreUnavailableException"/> (408/429/5xx, no
    /// answer, an answer that is not its JSON) or <see cref="Abstractions.StoreRequestException"/> (other 4xx);
    /// null when <paramref name="ex"/> is neither (a bug: let it surface).
    /// </summary>
    public static Exception? Map(string operation, Exception ex, CancellationToken cancellationToken) => ex switch
    {
        GoogleApiException api when (int)api.HttpStatusCode is >= 400 and < 600 =>
            StoreResilience.FailureFor(StoreName, operation, api.HttpStatusCode, Detail(api)),
        GoogleApiException api => new Abstractions.StoreUnavailableException(StoreName, $"{operation}: {Detail(api)}", api),
        Newtonsoft.Json.JsonException json => new Abstractions.StoreUnavailableException(StoreName, $"{operation} answered a body that is not its JSON: {json.Message}", json),
        _ when StoreResilience.IsTransportFailure(ex, cancellationToken) =>
            new Abstractions.StoreUnavailableException(StoreName, $"{operation} failed: {ex.Message}", ex),
        _ => null,
    };

    private static string Detail(GoogleApiException api)
    {
        var detail = api.Error?.Message ?? api.Message;
        return detail.Length > 500 ? detail[..500] : detail;
    }
}
