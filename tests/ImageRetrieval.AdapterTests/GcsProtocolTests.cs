using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.BlobStores;
using ImageRetrieval.Infrastructure.BlobStores.Gcs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.AdapterTests;

/// <summary>Builds the GCS adapter as the Host does (configuration + DI), with a given credential.</summary>
internal static class GcsTestHost
{
    public static ServiceProvider Build(Uri endpoint, string bucket, string prefix, IGcsCredential? credential, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ImageRetrieval:BlobStore:Provider"] = "Gcs",
            ["ImageRetrieval:BlobStore:Gcs:Bucket"] = bucket,
            ["ImageRetrieval:BlobStore:Gcs:Prefix"] = prefix,
            ["ImageRetrieval:BlobStore:Gcs:Endpoint"] = endpoint.ToString(),
            ["ImageRetrieval:BlobStore:Gcs:RetryBaseDelay"] = "00:00:00.010",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        if (credential is not null)
        {
            services.AddSingleton(credential);
        }

        services.AddGcsBlobStore(configuration);
        return services.BuildServiceProvider();
    }

    public static IBlobStore GcsStore(this ServiceProvider provider) =>
        provider.GetRequiredKeyedService<IBlobStore>(BlobStoreRegistration.ProviderKey);
}

[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes the fake server through IAsyncLifetime.DisposeAsync.")]
public sealed class GcsProtocolTests : IAsyncLifetime
{
    private const string Bucket = "ir-images";
    private const string Key = "images/0123456789abcdef0123456789abcdef.jpg";
    private static readonly System.Security.Cryptography.RSA Signer = GcsV4SignerTests.ConformanceKey();
    private readonly FakeGcsServer _server = new(Bucket, Signer) { PageSize = 2 };
    private readonly FakeGcsCredential _credential = new(Signer, GcsV4SignerTests.Account);
    private ServiceProvider _provider = null!;
    private IBlobStore _store = null!;

    public async Task InitializeAsync()
    {
        await _server.StartAsync();
        _provider = GcsTestHost.Build(_server.BaseUri, Bucket, "prod/", _credential);
        _store = _provider.GcsStore();
    }

    public async Task DisposeAsync()
    {
        await _provider.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Given_bytes_When_put_Then_a_media_upload_with_generation_precondition_and_bearer_token_is_sent()
    {
        await _store.PutAsync(Key, new byte[] { 1, 2, 3 }, "image/jpeg", default);

        var request = Assert.Single(_server.Requests);
        Assert.Equal(("POST", $"/upload/storage/v1/b/{Bucket}/o"), (request.Method, request.Path));
        Assert.Equal("media", request.QueryValue("uploadType"));
        Assert.Equal("prod/" + Key, request.QueryValue("name"));
        Assert.Equal("0", request.QueryValue("ifGenerationMatch"));
        Assert.Equal("image/jpeg", request.Header("Content-Type"));
        Assert.Equal($"Bearer {FakeGcsServer.Token}", request.Header("Authorization"));
        Assert.Equal([1, 2, 3], request.Body);
        Assert.Equal(["prod/" + Key], _server.ObjectNames);
    }

    [Fact]
    public async Task Given_an_existing_object_When_put_again_Then_412_counts_as_success_and_the_first_bytes_stay()
    {
        await _store.PutAsync(Key, new byte[] { 1 }, "image/jpeg", default);

        await _store.PutAsync(Key, new byte[] { 9 }, "image/jpeg", default);

        Assert.Equal(2, _server.Requests.Count);
        await using var blob = await _store.OpenReadAsync(Key, default);
        Assert.Equal(1, blob!.Content.ReadByte());
    }

    [Fact]
    public async Task Given_an_object_When_opened_Then_alt_media_streams_it_with_type_and_length()
    {
        await _store.PutAsync(Key, new byte[] { 7, 8, 9, 10 }, "image/png", default);
        _server.ClearRequests();

        await using var blob = await _store.OpenReadAsync(Key, default);

        var request = Assert.Single(_server.Requests);
        Assert.Equal("GET", request.Method);
        Assert.Equal($"/storage/v1/b/{Bucket}/o/prod%2Fimages%2F0123456789abcdef0123456789abcdef.jpg", request.Path);
        Assert.Equal("media", request.QueryValue("alt"));
        Assert.Equal(("image/png", 4L), (blob!.ContentType, blob.Length));
        using var copy = new MemoryStream();
        await blob.Content.CopyToAsync(copy);
        Assert.Equal([7, 8, 9, 10], copy.ToArray());
        Assert.Null(await _store.OpenReadAsync("images/missing.jpg", default));
    }

    [Fact]
    public async Task Given_objects_When_checked_and_deleted_Then_metadata_get_and_delete_are_used_and_404_is_fine()
    {
        await _store.PutAsync(Key, new byte[] { 1 }, "image/jpeg", default);
        _server.ClearRequests();

        Assert.True(await _store.ExistsAsync(Key, default));
        await _store.DeleteAsync(Key, default);
        await _store.DeleteAsync(Key, default);
        Assert.False(await _store.ExistsAsync(Key, default));

        var r = _server.Requests;
        Assert.Equal(("GET", "name"), (r[0].Method, r[0].QueryValue("fields")));
        Assert.Equal(["GET", "DELETE", "DELETE", "GET"], r.Select(x => x.Method));
        Assert.All(r, x => Assert.EndsWith("/o/prod%2Fimages%2F0123456789abcdef0123456789abcdef.jpg", x.Path, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_more_objects_than_a_page_When_listed_Then_page_tokens_are_followed_and_the_prefix_is_stripped()
    {
        foreach (var name in new[] { "images/a.jpg", "images/b.jpg", "images/c.jpg", "thumbs/a.jpg", "images/d.jpg" })
        {
            await _store.PutAsync(name, new byte[] { 1 }, "image/jpeg", default);
        }

        _server.ClearRequests();

        var keys = new List<string>();
        await foreach (var key in _store.ListKeysAsync("images/", default))
        {
            keys.Add(key);
        }

        Assert.Equal(["images/a.jpg", "images/b.jpg", "images/c.jpg", "images/d.jpg"], keys);
        var r = _server.Requests;
        Assert.Equal(2, r.Count);
        Assert.All(r, x => Assert.Equal(("GET", $"/storage/v1/b/{Bucket}/o", "prod/images/"), (x.Method, x.Path, x.QueryValue("prefix"))));
        Assert.Null(r[0].QueryValue("pageToken"));
        Assert.NotNull(r[1].QueryValue("pageToken"));
    }

    [Fact]
    public async Task Given_a_signing_credential_When_a_signed_url_is_made_Then_the_bucket_accepts_it_and_rejects_a_tampered_one()
    {
        await _store.PutAsync(Key, new byte[] { 4, 2 }, "image/jpeg", default);

        var url = await _store.TryGetSignedUrlAsync(Key, default);

        Assert.NotNull(url);
        Assert.Contains("X-Goog-Expires=900&", url.Query, StringComparison.Ordinal);
        Assert.Contains("X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F", url.Query, StringComparison.Ordinal);
        using var anonymous = new HttpClient();
        Assert.Equal([4, 2], await anonymous.GetByteArrayAsync(url));
        var tampered = new Uri(url.OriginalString.Replace("X-Goog-Expires=900", "X-Goog-Expires=901", StringComparison.Ordinal));
        using var rejected = await anonymous.GetAsync(tampered);
        Assert.Equal(HttpStatusCode.Forbidden, rejected.StatusCode);
    }

    [Fact]
    public async Task Given_a_key_signed_before_When_asked_again_Then_the_url_is_reused_without_signing_again()
    {
        var credential = new FakeGcsCredential(RSA.Create(2048), "reuse@dummy-project-id.iam.gserviceaccount.com");
        await using var provider = GcsTestHost.Build(_server.BaseUri, Bucket, "", credential);
        var store = provider.GcsStore();

        var first = await store.TryGetSignedUrlAsync(Key, default);
        var second = await store.TryGetSignedUrlAsync(Key, default);
        await store.TryGetSignedUrlAsync("images/other.jpg", default);

        Assert.Equal(first, second);
        Assert.Equal(2, credential.Signatures);
    }

    [Fact]
    public async Task Given_a_credential_that_cannot_sign_When_a_signed_url_is_asked_Then_null()
    {
        await using var provider = GcsTestHost.Build(_server.BaseUri, Bucket, "", new FakeGcsCredential(null, null));

        Assert.Null(await provider.GcsStore().TryGetSignedUrlAsync(Key, default));
    }

    [Fact]
    public void Given_a_key_When_described_Then_the_object_name_is_returned()
    {
        Assert.Equal("prod/" + Key, _store.DescribeLocation(Key));
        Assert.Throws<ArgumentException>(() => _store.DescribeLocation("../etc/passwd"));
    }

    [Fact]
    public async Task Given_503_then_ok_When_uploading_Then_retried_with_a_fresh_token_and_succeeds()
    {
        _server.Script(new ScriptedAnswer(503, """{"error":{"code":503,"message":"Backend Error","errors":[{"reason":"backendError"}]}}"""));

        await _store.PutAsync(Key, new byte[] { 1 }, "image/jpeg", default);

        Assert.Equal(2, _server.Requests.Count);
        Assert.Equal(2, _credential.TokenRequests);
        Assert.Equal([1], _server.Requests[1].Body);
        Assert.Equal(["prod/" + Key], _server.ObjectNames);
    }

    [Fact]
    public async Task Given_429_with_retry_after_When_checking_existence_Then_waits_and_retries()
    {
        _server.Script(new ScriptedAnswer(429, """{"error":{"code":429,"message":"rateLimitExceeded"}}""", Headers: new Dictionary<string, string> { ["Retry-After"] = "1" }));
        var watch = Stopwatch.StartNew();

        Assert.False(await _store.ExistsAsync(Key, default));

        Assert.Equal(2, _server.Requests.Count);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"retried after {watch.Elapsed}");
    }

    [Fact]
    public async Task Given_persistent_500_When_downloading_Then_store_unavailable_after_the_retries()
    {
        _server.Script([.. Enumerable.Repeat(new ScriptedAnswer(500, """{"error":{"code":500,"message":"Internal Error"}}"""), 10)]);

        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => _store.OpenReadAsync(Key, default));

        Assert.Equal(4, _server.Requests.Count);
        Assert.Contains("Internal Error", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_403_When_uploading_Then_store_request_exception_with_the_gcs_message_and_no_retry()
    {
        _server.Script(new ScriptedAnswer(403, """{"error":{"code":403,"message":"svc@p.iam.gserviceaccount.com does not have storage.objects.create access","errors":[{"reason":"forbidden"}]}}"""));

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.PutAsync(Key, new byte[] { 1 }, "image/jpeg", default));

        Assert.Equal(403, error.ProviderStatusCode);
        Assert.Contains("storage.objects.create", error.Message, StringComparison.Ordinal);
        Assert.Single(_server.Requests);
    }

    [Fact]
    public async Task Given_the_bucket_When_checked_Then_one_object_listing_proves_it_is_reachable()
    {
        await _store.CheckReachableAsync(default);

        var request = Assert.Single(_server.Requests);
        Assert.Equal(("GET", $"/storage/v1/b/{Bucket}/o", "1", "prod/"), (request.Method, request.Path, request.QueryValue("maxResults"), request.QueryValue("prefix")));
    }

    [Fact]
    public void Given_no_bucket_When_options_are_read_Then_validation_fails()
    {
        using var provider = GcsTestHost.Build(_server.BaseUri, "", "", _credential);

        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<GcsOptions>>().Value);
    }
}
