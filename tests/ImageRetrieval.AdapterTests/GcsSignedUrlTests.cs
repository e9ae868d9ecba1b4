using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.AdapterTests;

/// <summary>
/// The V4 URLs the official <c>UrlSigner</c> makes for the store, checked against a known key: the dummy
/// service-account key of Google's cross-language conformance suite for Cloud Storage
/// (googleapis/conformance-tests, storage/v1/service-account: "a dummy service account JSON file that is
/// inactive. It's fine for it to be public."). The canonical request is rebuilt here by hand from the
/// "V4 signing process with your own program" page and the signature verified with the public key.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes through IAsyncLifetime.DisposeAsync.")]
public sealed class GcsSignedUrlTests : IAsyncLifetime
{
    internal const string ServiceAccountJson = """
        {
          "type": "service_account",
          "project_id": "dummy-project-id",
          "private_key_id": "ffffffffffffffffffffffffffffffffffffffff",
          "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCsPzMirIottfQ2\nryjQmPWocSEeGo7f7Q4/tMQXHlXFzo93AGgU2t+clEj9L5loNhLVq+vk+qmnyDz5\nQ04y8jVWyMYzzGNNrGRW/yaYqnqlKZCy1O3bmnNjV7EDbC/jE1ZLBY0U3HaSHfn6\nS9ND8MXdgD0/ulRTWwq6vU8/w6i5tYsU7n2LLlQTl1fQ7/emO9nYcCFJezHZVa0H\nmeWsdHwWsok0skwQYQNIzP3JF9BpR5gJT2gNge6KopDesJeLoLzaX7cUnDn+CAnn\nLuLDwwSsIVKyVxhBFsFXPplgpaQRwmGzwEbf/Xpt9qo26w2UMgn30jsOaKlSeAX8\ncS6ViF+tAgMBAAECggEACKRuJCP8leEOhQziUx8Nmls8wmYqO4WJJLyk5xUMUC22\nSI4CauN1e0V8aQmxnIc0CDkFT7qc9xBmsMoF+yvobbeKrFApvlyzNyM7tEa/exh8\nDGD/IzjbZ8VfWhDcUTwn5QE9DCoon9m1sG+MBNlokB3OVOt8LieAAREdEBG43kJu\nyQTOkY9BGR2AY1FnAl2VZ/jhNDyrme3tp1sW1BJrawzR7Ujo8DzlVcS2geKA9at7\n55ua5GbHz3hfzFgjVXDfnkWzId6aHypUyqHrSn1SqGEbyXTaleKTc6Pgv0PgkJjG\nhZazWWdSuf1T5Xbs0OhAK9qraoAzT6cXXvMEvvPt6QKBgQDXcZKqJAOnGEU4b9+v\nOdoh+nssdrIOBNMu1m8mYbUVYS1aakc1iDGIIWNM3qAwbG+yNEIi2xi80a2RMw2T\n9RyCNB7yqCXXVKLBiwg9FbKMai6Vpk2bWIrzahM9on7AhCax/X2AeOp+UyYhFEy6\nUFG4aHb8THscL7b515ukSuKb5QKBgQDMq+9PuaB0eHsrmL6q4vHNi3MLgijGg/zu\nAXaPygSYAwYW8KglcuLZPvWrL6OG0+CrfmaWTLsyIZO4Uhdj7MLvX6yK7IMnagvk\nL3xjgxSklEHJAwi5wFeJ8ai/1MIuCn8p2re3CbwISKpvf7Sgs/W4196P4vKvTiAz\njcTiSYFIKQKBgCjMpkS4O0TakMlGTmsFnqyOneLmu4NyIHgfPb9cA4n/9DHKLKAT\noaWxBPgatOVWs7RgtyGYsk+XubHkpC6f3X0+15mGhFwJ+CSE6tN+l2iF9zp52vqP\nQwkjzm7+pdhZbmaIpcq9m1K+9lqPWJRz/3XXuqi+5xWIZ7NaxGvRjqaNAoGAdK2b\nutZ2y48XoI3uPFsuP+A8kJX+CtWZrlE1NtmS7tnicdd19AtfmTuUL6fz0FwfW4Su\nlQZfPT/5B339CaEiq/Xd1kDor+J7rvUHM2+5p+1A54gMRGCLRv92FQ4EON0RC1o9\nm2I4SHysdO3XmjmdXmfp4BsgAKJIJzutvtbqlakCgYB+Cb10z37NJJ+WgjDt+yT2\nyUNH17EAYgWXryfRgTyi2POHuJitd64Xzuy6oBVs3wVveYFM6PIKXlj8/DahYX5I\nR2WIzoCNLL3bEZ+nC6Jofpb4kspoAeRporj29SgesK6QBYWHWX2H645RkRGYGpDo\n51gjy9m/hSNqBbH2zmh04A==\n-----END PRIVATE KEY-----\n",
          "client_email": "test-iam-credentials@dummy-project-id.iam.gserviceaccount.com",
          "client_id": "000000000000000000000",
          "auth_uri": "https://accounts.google.com/o/oauth2/auth",
          "token_uri": "https://oauth2.googleapis.com/token"
        }
        """;

    internal const string Account = "test-iam-credentials@dummy-project-id.iam.gserviceaccount.com";

    internal static RSA ConformanceKey()
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(JsonDocument.Parse(ServiceAccountJson).RootElement.GetProperty("private_key").GetString());
        return rsa;
    }

    private const string Bucket = "signed-bucket";
    private readonly FakeGcsServer _server = new(Bucket, ConformanceKey());
    private Microsoft.Extensions.DependencyInjection.ServiceProvider? _provider;

    public Task InitializeAsync() => _server.StartAsync();

    public async Task DisposeAsync()
    {
        if (_provider is not null)
        {
            await _provider.DisposeAsync();
        }

        await _server.DisposeAsync();
    }

    [Theory]
    [InlineData("images/0123456789abcdef0123456789abcdef.jpg", 900)]
    [InlineData("path/with/slashes/under_score/amper&sand/a b+c~é.ext", 60)]
    public async Task Given_the_service_account_key_When_a_url_is_signed_Then_it_verifies_with_the_public_key_and_carries_the_configured_expiry_and_headers(string key, int lifetimeSeconds)
    {
        _provider = GcsTestHost.Build(_server.BaseUri, Bucket, "", GcsTestCredentials.Signing(), new Dictionary<string, string?>
        {
            ["ImageRetrieval:BlobStore:Gcs:SignedUrlLifetime"] = TimeSpan.FromSeconds(lifetimeSeconds).ToString("c", CultureInfo.InvariantCulture),
        });
        var before = DateTimeOffset.UtcNow.AddSeconds(-2);

        var url = await GcsTestHost.GcsStore(_provider).TryGetSignedUrlAsync(key, default);

        Assert.NotNull(url);
        var query = url.Query.TrimStart('?').Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        var date = DateTimeOffset.ParseExact(query["X-Goog-Date"], "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        Assert.InRange(date, before, DateTimeOffset.UtcNow.AddSeconds(2));
        Assert.Equal("GOOG4-RSA-SHA256", query["X-Goog-Algorithm"]);
        Assert.Equal(Uri.EscapeDataString($"{Account}/{date:yyyyMMdd}/auto/storage/goog4_request"), query["X-Goog-Credential"]);
        Assert.Equal(lifetimeSeconds.ToString(CultureInfo.InvariantCulture), query["X-Goog-Expires"]);
        Assert.Equal("host", query["X-Goog-SignedHeaders"]);
        Assert.Equal((_server.BaseUri.Scheme, _server.BaseUri.Authority), (url.Scheme, url.Authority));
        // Path style: /bucket/object, the object name percent-encoded except '/' and the unreserved characters.
        var path = url.AbsolutePath;
        Assert.Equal("/" + Bucket + "/" + string.Join('/', key.Split('/').Select(Uri.EscapeDataString)), path);

        var canonicalQuery = string.Join('&', query.Where(p => p.Key != "X-Goog-Signature").OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        // Only the host header is signed, by name: UrlSigner leaves a non-default port out (GCS is on 443).
        var canonicalRequest = $"GET\n{path}\n{canonicalQuery}\nhost:{url.Host}\n\nhost\nUNSIGNED-PAYLOAD";
        var stringToSign = $"GOOG4-RSA-SHA256\n{query["X-Goog-Date"]}\n{date:yyyyMMdd}/auto/storage/goog4_request\n{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";
        using var key2 = ConformanceKey();
        Assert.True(key2.VerifyData(Encoding.UTF8.GetBytes(stringToSign), Convert.FromHexString(query["X-Goog-Signature"]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        using var other = RSA.Create(2048);
        Assert.False(other.VerifyData(Encoding.UTF8.GetBytes(stringToSign), Convert.FromHexString(query["X-Goog-Signature"]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    [Fact]
    public async Task Given_an_object_When_its_signed_url_is_fetched_without_credentials_Then_the_bucket_serves_it()
    {
        _provider = GcsTestHost.Build(_server.BaseUri, Bucket, "", GcsTestCredentials.Signing());
        var store = GcsTestHost.GcsStore(_provider);
        await store.PutAsync("a/b.jpg", new byte[] { 5, 6 }, "image/jpeg", default);

        var url = await store.TryGetSignedUrlAsync("a/b.jpg", default);

        using var anonymous = new HttpClient();
        Assert.Equal([5, 6], await anonymous.GetByteArrayAsync(url));
    }
}
