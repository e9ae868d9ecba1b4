using System.Security.Cryptography;
using System.Text.Json;
using Google.Apis.Auth.OAuth2;
using ImageRetrieval.Infrastructure.BlobStores.Gcs;
using Microsoft.Extensions.Logging.Abstractions;

namespace ImageRetrieval.AdapterTests;

/// <summary>
/// Known answers for V4 signing from Google's cross-language conformance suite for Cloud Storage
/// (googleapis/conformance-tests, storage/v1/v4_signatures.json), signed with the suite's own dummy
/// service-account key (storage/v1/service-account: "a dummy service account JSON file that is inactive.
/// It's fine for it to be public."). Independently re-checked with
/// <c>openssl dgst -sha256 -sign</c> over the string-to-sign built by hand from the
/// "V4 signing process with your own program" page.
/// </summary>
public sealed class GcsV4SignerTests
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

    public static TheoryData<string, string, string, int, string, string> Vectors => new()
    {
        // bucket, object, method, expiration (s), timestamp, expected X-Goog-Signature: the suite's
        // "Simple GET", "Simple PUT", "Vary expiration and timestamp" and "Vary bucket and object".
        { "test-bucket", "test-object", "GET", 10, "2019-02-01T09:00:00Z", "95e6a13d43a1d1962e667f17397f2b80ac9bdd1669210d5e08e0135df9dff4e56113485dbe429ca2266487b9d1796ebdee2d7cf682a6ef3bb9fbb4c351686fba90d7b621cf1c4eb1fdf126460dd25fa0837dfdde0a9fd98662ce60844c458448fb2b352c203d9969cb74efa4bdb742287744a4f2308afa4af0e0773f55e32e92973619249214b97283b2daa14195244444e33f938138d1e5f561088ce8011f4986dda33a556412594db7c12fc40e1ff3f1bedeb7a42f5bcda0b9567f17f65855f65071fabb88ea12371877f3f77f10e1466fff6ff6973b74a933322ff0949ce357e20abe96c3dd5cfab42c9c83e740a4d32b9e11e146f0eb3404d2e975896f74" },
        { "test-bucket", "test-object", "PUT", 10, "2019-02-01T09:00:00Z", "8adff1d4285739e31aa68e73767a46bc5511fde377497dbe08481bf5ceb34e29cc9a59921748d8ec3dd4085b7e9b7772a952afedfcdaecb3ae8352275b8b7c867f204e3db85076220a3127a8a9589302fc1181eae13b9b7fe41109ec8cdc93c1e8bac2d7a0cc32a109ca02d06957211326563ab3d3e678a0ba296e298b5fc5e14593c99d444c94724cc4be97015dbff1dca377b508fa0cb7169195de98d0e4ac96c42b918d28c8d92d33e1bd125ce0fb3cd7ad2c45dae65c22628378f6584971b8bf3945b26f2611eb651e9b6a8648970c1ecf386bb71327b082e7296c4e1ee2fc0bdd8983da80af375c817fb1ad491d0bc22c0f51dba0d66e2cffbc90803e47" },
        { "test-bucket", "test-object", "GET", 20, "2019-03-01T09:00:00Z", "9669ed5b10664dc594c758296580662912cf4bcc5a4ba0b6bf055bcbf6f34eed7bdad664f534962174a924741a0c273a4f67bc1847cef20192a6beab44223bd9d4fbbd749c407b79997598c30f82ddc269ff47ec09fa3afe74e00616d438df0d96a7d8ad0adacfad1dc3286f864d924fe919fb0dce45d3d975c5afe8e13af2db9cc37ba77835f92f7669b61e94c6d562196c1274529e76cfff1564cc2cad7d5387dc8e12f7a5dfd925685fe92c30b43709eee29fa2f66067472cee5423d1a3a4182fe8cea75c9329d181dc6acad7c393cd04f8bf5bc0515127d8ebd65d80c08e19ad03316053ea60033fd1b1fd85a69c576415da3bf0a3718d9ea6d03e0d66f0" },
        { "test-bucket2", "test-object2", "GET", 10, "2019-02-01T09:00:00Z", "36e3d58dfd3ec1d2dd2f24b5ee372a71e811ffaa2162a2b871d26728d0354270bc116face87127532969c4a3967ed05b7309af741e19c7202f3167aa8c2ac420b61417d6451442bb91d7c822cd17be8783f01e05372769c88913561d27e6660dd8259f0081a71f831be6c50283626cbf04494ac10c394b29bb3bce74ab91548f58a37118a452693cf0483d77561fc9cac8f1765d2c724994cca46a83517a10157ee0347a233a2aaeae6e6ab5e204ff8fc5f54f90a3efdb8301d9fff5475d58cd05b181affd657f48203f4fb133c3a3d355b8eefbd10d5a0a5fd70d06e9515460ad74e22334b2cba4b29cae4f6f285cdb92d8f3126d7a1479ca3bdb69c207d860" },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public async Task Given_a_conformance_vector_When_signed_with_the_service_account_credential_Then_the_url_matches_exactly(
        string bucket, string objectName, string method, int expiration, string timestamp, string signature)
    {
        // The production path: Google.Apis.Auth's ServiceAccountCredential behind our GoogleGcsCredential.
        var google = CredentialFactory.FromJson<ServiceAccountCredential>(ServiceAccountJson).ToGoogleCredential();
        var credential = new GoogleGcsCredential(() => Task.FromResult(google), NullLogger<GoogleGcsCredential>.Instance);
        var now = DateTimeOffset.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture);
        var date = now.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(Account, await credential.GetSigningAccountAsync(default));
        var signed = await GcsV4Signer.SignAsync(new Uri("https://storage.googleapis.com"), bucket, objectName, method, now,
            TimeSpan.FromSeconds(expiration), Account, credential.SignAsync, default);

        var expectedQuery = "X-Goog-Algorithm=GOOG4-RSA-SHA256"
            + $"&X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F{date}%2Fauto%2Fstorage%2Fgoog4_request"
            + $"&X-Goog-Date={now:yyyyMMdd'T'HHmmss'Z'}&X-Goog-Expires={expiration}&X-Goog-SignedHeaders=host";
        Assert.Equal($"{method}\n/{bucket}/{objectName}\n{expectedQuery}\nhost:storage.googleapis.com\n\nhost\nUNSIGNED-PAYLOAD", signed.CanonicalRequest);
        Assert.StartsWith($"GOOG4-RSA-SHA256\n{now:yyyyMMdd'T'HHmmss'Z'}\n{date}/auto/storage/goog4_request\n", signed.StringToSign, StringComparison.Ordinal);
        Assert.Equal(signature, signed.SignatureHex);
        Assert.Equal($"https://storage.googleapis.com/{bucket}/{objectName}?{expectedQuery}&X-Goog-Signature={signature}", signed.Url.OriginalString);
    }

    [Fact]
    public void Given_reserved_characters_in_an_object_name_When_encoded_Then_only_unreserved_and_slash_stay()
    {
        // The conformance suite's "path/with/slashes/under_score/amper&sand/file.ext" vector encodes '&' but keeps '/'.
        Assert.Equal("path/with/slashes/under_score/amper%26sand/file.ext", GcsV4Signer.EncodePath("path/with/slashes/under_score/amper&sand/file.ext"));
        Assert.Equal("a%20b%2Bc%3F~%C3%A9", GcsV4Signer.EncodePath("a b+c?~é"));
    }
}
