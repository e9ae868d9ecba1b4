using System.Diagnostics;
using System.Net;
using Google.Apis.Auth.OAuth2;
using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.BlobStores;
using ImageRetrieval.Infrastructure.BlobStores.Gcs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.AdapterTests;

/// <summary>Google credentials for the fake bucket.</summary>
internal static class GcsTestCredentials
{
    /// <summary>
    /// The conformance service-account key: the library authorizes calls with self-signed JWTs of it (which the
    /// fake verifies with the public key) and signs URLs with it locally.
    /// </summary>
    public static GoogleCredential Signing() =>
        CredentialFactory.FromJson<ServiceAccountCredential>(GcsSignedUrlTests.ServiceAccountJson).ToGoogleCredential();

    /// <summary>A bare access token: it authorizes calls but cannot sign (like gcloud user credentials).</summary>
    public static GoogleCredential NonSigning() => GoogleCredential.FromAccessToken(FakeGcsServer.Token);
}

/// <summary>Builds the GCS adapter as the Host does (configuration + DI), with a given credential.</summary>
internal static class GcsTestHost
{
    public static ServiceProvider Build(Uri endpoint, string bucket, string prefix, GoogleCredential? credential, IDictionary<string, string?>? extra = null)
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
            services.AddSingleton<GcsCredentialSource>(new FixedCredentialSource(credential));
        }

        services.AddGcsBlobStore(configuration);
        return services.BuildServiceProvider();
    }

    public static IBlobStore GcsStore(this ServiceProvider provider) =>
        provider.GetRequiredKeyedService<IBlobStore>(BlobStoreRegistration.ProviderKey);
}


/// <summary>
/// What the official client sends for each store call and how its answers and errors come back, against
/// the fake bucket at the client's configurable base URI (<c>BlobStore:Gcs:Endpoint</c>).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes the fake server through IAsyncLifetime.DisposeAsync.")]
public sealed class GcsProtocolTests : IAsyncLifetime
{
    private const string Bucket = "ir-images";
    private const string Key = "images/0123456789abcdef0123456789abcdef.jpg";
    private const string EncodedName = "prod%2Fimages%2F0123456789abcdef0123456789abcdef.jpg";
    private readonly FakeGcsServer _server = new(Bucket, GcsSignedUrlTests.ConformanceKey()) { PageSize = 2 };
    private ServiceProvider _provider = null!;
    private IBlobStore _store = null!;

    public async Task InitializeAsync()
    {
        await _server.StartAsync();
        _provider = GcsTestHost.Build(_server.BaseUri, Bucket, "prod/", GcsTestCredentials.Signing());
        _store = _provider.GcsStore();
    }

    public async Task DisposeAsync()
    {
        await _provider.DisposeAsync();
        await _server.DisposeAsync();
    }

    private List<RecordedRequest> Storage => [.. _server.Requests];

    private static ScriptedAnswer Error(int status, string message) =>
        new(status, $$$"""{"error":{"code":{{{status}}},"message":"{{{message}}}","errors":[{"message":"{{{message}}}","domain":"global","reason":"x"}]}}""") { PathContains = "/storage/v1/" };

    [Fact]
    public async Task Given_bytes_When_put_Then_a_resumable_upload_with_generation_precondition_and_bearer_token_is_sent()
    {
        await _store.PutAsync(Key, new byte[] { 1, 2, 3 }, "image/jpeg", default);

        var requests = Storage;
        Assert.Equal(2, requests.Count);
        var start = requests[0];
        Assert.Equal(("POST", $"/upload/storage/v1/b/{Bucket}/o", "resumable", "0"), (start.Method, start.Path, start.QueryValue("uploadType"), start.QueryValue("ifGenerationMatch")));
        var upload = requests[1];
        Assert.Equal("PUT", upload.Method);
        Assert.Equal([1, 2, 3], upload.Body);
        // A self-signed JWT of the service account (no token exchange), the same on both requests.
        var bearer = start.Header("Authorization")!;
        Assert.StartsWith("Bearer ", bearer, StringComparison.Ordinal);
        var payload = bearer[7..].Split('.')[1];
        var claims = System.Text.Json.Nodes.JsonNode.Parse(Convert.FromBase64String(payload.Replace('-', '+').Replace('_', '/') + new string('=', (4 - (payload.Length % 4)) % 4)))!;
        Assert.Equal(GcsSignedUrlTests.Account, claims["iss"]!.GetValue<string>());
        Assert.Equal(bearer, upload.Header("Authorization"));
        Assert.Equal(["prod/" + Key], _server.ObjectNames);
    }

    [Fact]
    public async Task Given_an_existing_object_When_put_again_Then_412_counts_as_success_and_the_first_bytes_stay()
    {
        await _store.PutAsync(Key, new byte[] { 1 }, "image/jpeg", default);
        _server.ClearRequests();

        await _store.PutAsync(Key, new byte[] { 9 }, "image/jpeg", default);

        Assert.Single(Storage); // the session start answers 412; no bytes are sent
        await using var blob = await _store.OpenReadAsync(Key, default);
        Assert.Equal(1, blob!.Content.ReadByte());
    }

    [Fact]
    public async Task Given_an_object_When_opened_Then_alt_media_returns_it_with_type_and_length()
    {
        await _store.PutAsync(Key, new byte[] { 7, 8, 9, 10 }, "image/png", default);
        _server.ClearRequests();

        await using var blob = await _store.OpenReadAsync(Key, default);

        var media = Assert.Single(Storage, r => r.QueryValue("alt") == "media");
        Assert.Equal(("GET", $"/storage/v1/b/{Bucket}/o/{EncodedName}"), (media.Method, media.Path));
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

        var r = Storage;
        Assert.Equal(["GET", "DELETE", "DELETE", "GET"], r.Select(x => x.Method));
        Assert.All(r, x => Assert.Equal($"/storage/v1/b/{Bucket}/o/{EncodedName}", x.Path));
        Assert.Null(r[0].QueryValue("alt"));
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
        var r = Storage;
        Assert.Equal(2, r.Count);
        Assert.All(r, x => Assert.Equal(("GET", $"/storage/v1/b/{Bucket}/o", "prod/images/"), (x.Method, x.Path, x.QueryValue("prefix"))));
        Assert.Null(r[0].QueryValue("pageToken"));
        Assert.NotNull(r[1].QueryValue("pageToken"));
    }

    [Fact]
    public async Task Given_search_hits_When_asked_which_blobs_are_missing_Then_one_glob_listing_answers_instead_of_a_get_per_key()
    {
        var keys = Enumerable.Range(0, 5).Select(i => $"images/{i:D2}{new string('f', 62)}.jpg").ToArray();
        await _store.PutAsync(keys[1], new byte[] { 1 }, "image/jpeg", default);
        await _store.PutAsync(keys[3], new byte[] { 1 }, "image/jpeg", default);
        await _store.PutAsync("images/04" + new string('f', 62) + ".jpg.bak", new byte[] { 1 }, "image/jpeg", default);
        _server.ClearRequests();

        var missing = await _store.FindMissingAsync(keys, default);

        Assert.Equal([keys[0], keys[2], keys[4]], missing.Order(StringComparer.Ordinal));
        var list = Assert.Single(Storage);
        Assert.Equal(("GET", $"/storage/v1/b/{Bucket}/o"), (list.Method, list.Path));
        // The keys' common prefix narrows the scan; the glob names exactly the keys (so a longer name does not count).
        Assert.Equal("prod/images/0", list.QueryValue("prefix"));
        Assert.Equal("prod/images/0{" + string.Join(',', keys.Select(k => k["images/0".Length..])) + "}", list.QueryValue("matchGlob"));
    }

    [Fact]
    public async Task Given_many_keys_in_two_folders_and_one_with_a_comma_When_asked_which_are_missing_Then_a_few_listings_and_one_get_answer()
    {
        var images = Enumerable.Range(0, 150).Select(i => $"images/{i:D3}{new string('e', 61)}.jpg").ToArray();
        const string Thumb = "thumbs/a.jpg";
        const string Odd = "images/a,b.jpg";
        await _store.PutAsync(images[7], new byte[] { 1 }, "image/jpeg", default);
        await _store.PutAsync(Thumb, new byte[] { 1 }, "image/jpeg", default);
        await _store.PutAsync(Odd, new byte[] { 1 }, "image/jpeg", default);
        _server.ClearRequests();

        var missing = await _store.FindMissingAsync([.. images, Thumb, Odd, "thumbs/b.jpg"], default);

        Assert.Equal(images.Where((_, i) => i != 7).Append("thumbs/b.jpg").Order(StringComparer.Ordinal), missing.Order(StringComparer.Ordinal));
        var requests = Storage;
        var lists = requests.Where(r => r.Path == $"/storage/v1/b/{Bucket}/o").ToList();
        // 150 names of 80 characters make globs too long for one listing: split in a few, plus one listing for the
        // other folder. A long one goes as a POST with X-HTTP-Method-Override: GET (the client's MaxUrlLength).
        Assert.InRange(lists.Count, 3, 5);
        Assert.All(lists, r => Assert.True(ListParameter(r, "matchGlob").Length <= GcsBlobStore.MaxGlobLength));
        Assert.Contains(lists, r => (r.Method, r.Header("X-HTTP-Method-Override")) == ("POST", "GET"));
        Assert.Single(lists, r => ListParameter(r, "prefix").StartsWith("prod/thumbs/", StringComparison.Ordinal));
        // A comma cannot be an alternative of a glob: that key alone is asked with an object GET.
        var get = Assert.Single(requests, r => r.Path != $"/storage/v1/b/{Bucket}/o");
        Assert.Equal(("GET", $"/storage/v1/b/{Bucket}/o/prod/images/a,b.jpg"), (get.Method, Uri.UnescapeDataString(get.Path)));
    }

    /// <summary>A listing's parameter from its query string, or from its form body when the client moved it there.</summary>
    private static string ListParameter(RecordedRequest request, string name)
    {
        if (request.QueryValue(name) is { } inQuery)
        {
            return inQuery;
        }

        var body = request.BodyText;
        if (request.Header("Content-Encoding") == "gzip")
        {
            using var unzipped = new System.IO.Compression.GZipStream(new MemoryStream(request.Body), System.IO.Compression.CompressionMode.Decompress);
            using var reader = new StreamReader(unzipped);
            body = reader.ReadToEnd();
        }

        return Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(body)[name].ToString();
    }

    [Fact]
    public async Task Given_a_signing_credential_When_a_signed_url_is_made_Then_the_bucket_accepts_it_and_rejects_a_tampered_one()
    {
        await _store.PutAsync(Key, new byte[] { 4, 2 }, "image/jpeg", default);

        var url = await _store.TryGetSignedUrlAsync(Key, default);

        Assert.NotNull(url);
        Assert.Contains("X-Goog-Expires=900", url.Query, StringComparison.Ordinal);
        Assert.Contains("X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F", url.Query, StringComparison.Ordinal);
        using var anonymous = new HttpClient();
        Assert.Equal([4, 2], await anonymous.GetByteArrayAsync(url));
        var tampered = new Uri(url.OriginalString.Replace("X-Goog-Expires=900", "X-Goog-Expires=901", StringComparison.Ordinal));
        using var rejected = await anonymous.GetAsync(tampered);
        Assert.Equal(HttpStatusCode.Forbidden, rejected.StatusCode);
    }

    [Fact]
    public async Task Given_a_key_signed_before_When_asked_again_Then_the_same_url_is_reused()
    {
        var first = await _store.TryGetSignedUrlAsync(Key, default);
        await Task.Delay(1100); // a new signature would carry a later X-Goog-Date
        var second = await _store.TryGetSignedUrlAsync(Key, default);
        var other = await _store.TryGetSignedUrlAsync("images/other.jpg", default);

        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public async Task Given_a_credential_that_cannot_sign_When_a_signed_url_is_asked_Then_null_and_calls_still_work()
    {
        await using var provider = GcsTestHost.Build(_server.BaseUri, Bucket, "", GcsTestCredentials.NonSigning());
        var store = provider.GcsStore();

        Assert.Null(await store.TryGetSignedUrlAsync(Key, default));
        await store.PutAsync(Key, new byte[] { 3 }, "image/jpeg", default);
        Assert.True(await store.ExistsAsync(Key, default));
    }

    [Fact]
    public void Given_a_key_When_described_Then_the_object_name_is_returned()
    {
        Assert.Equal("prod/" + Key, _store.DescribeLocation(Key));
        Assert.Throws<ArgumentException>(() => _store.DescribeLocation("../etc/passwd"));
    }

    [Fact]
    public async Task Given_503_then_ok_When_uploading_Then_retried_and_succeeds()
    {
        _server.Script(Error(503, "Backend Error") with { PathContains = "/upload/" });

        await _store.PutAsync(Key, new byte[] { 1 }, "image/jpeg", default);

        Assert.Equal(["POST", "POST", "PUT"], Storage.Select(r => r.Method));
        Assert.Equal([1], Storage[^1].Body);
        Assert.Equal(["prod/" + Key], _server.ObjectNames);
    }

    [Fact]
    public async Task Given_429_with_retry_after_When_checking_existence_Then_waits_and_retries()
    {
        _server.Script(Error(429, "rateLimitExceeded") with { Headers = new Dictionary<string, string> { ["Retry-After"] = "1" } });
        var watch = Stopwatch.StartNew();

        Assert.False(await _store.ExistsAsync(Key, default));

        Assert.Equal(2, Storage.Count);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"retried after {watch.Elapsed}");
    }

    [Fact]
    public async Task Given_persistent_500_When_downloading_Then_store_unavailable_after_the_retries()
    {
        _server.Script([.. Enumerable.Repeat(Error(500, "Internal Error"), 10)]);

        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => _store.OpenReadAsync(Key, default));

        Assert.Equal(4, Storage.Count); // first attempt + MaxRetries (3), none from the library on top
        Assert.Contains("Internal Error", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_403_When_uploading_Then_store_request_exception_with_the_gcs_message_and_no_retry()
    {
        _server.Script(Error(403, "svc@p.iam.gserviceaccount.com does not have storage.objects.create access"));

        var error = await Assert.ThrowsAsync<StoreRequestException>(() => _store.PutAsync(Key, new byte[] { 1 }, "image/jpeg", default));

        Assert.Equal(403, error.ProviderStatusCode);
        Assert.False(error.RejectedContent);
        Assert.Contains("storage.objects.create", error.Message, StringComparison.Ordinal);
        Assert.Single(Storage);
    }

    [Fact]
    public async Task Given_400_When_listing_Then_rejected_content()
    {
        _server.Script(Error(400, "Invalid argument"));

        var error = await Assert.ThrowsAsync<StoreRequestException>(async () =>
        {
            await foreach (var key in _store.ListKeysAsync("", default))
            {
                Assert.Fail(key);
            }
        });

        Assert.True(error.RejectedContent);
    }

    [Fact]
    public async Task Given_an_answer_that_is_not_json_When_checking_existence_Then_store_unavailable_not_a_crash()
    {
        _server.Script(new ScriptedAnswer(200, "<html>proxy</html>", "text/html") { PathContains = "/storage/v1/" });

        await Assert.ThrowsAsync<StoreUnavailableException>(() => _store.CheckReachableAsync(default));
    }

    [Fact]
    public async Task Given_nothing_listening_When_checking_reachability_Then_store_unavailable()
    {
        await using var provider = GcsTestHost.Build(new Uri("http://127.0.0.1:9/"), Bucket, "", GcsTestCredentials.NonSigning(),
            new Dictionary<string, string?> { ["ImageRetrieval:BlobStore:Gcs:MaxRetries"] = "1" });

        await Assert.ThrowsAsync<StoreUnavailableException>(() => provider.GcsStore().CheckReachableAsync(default));
    }

    [Fact]
    public async Task Given_the_bucket_When_checked_Then_one_object_listing_proves_it_is_reachable()
    {
        await _store.CheckReachableAsync(default);

        var request = Assert.Single(Storage);
        Assert.Equal(("GET", $"/storage/v1/b/{Bucket}/o", "1", "prod/"), (request.Method, request.Path, request.QueryValue("maxResults"), request.QueryValue("prefix")));
    }

    [Fact]
    public void Given_no_bucket_When_options_are_read_Then_validation_fails()
    {
        using var provider = GcsTestHost.Build(_server.BaseUri, "", "", GcsTestCredentials.NonSigning());

        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<GcsOptions>>().Value);
    }
}
