using Grpc.Core;
using ImageRetrieval.AdapterTests.Fakes;
using ImageRetrieval.Infrastructure.BlobStores.Gcs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ImageRetrieval.IntegrationTests.CrossCutting;

/// <summary>
/// The Host against provider fakes told to answer errors: what the caller gets is never a 500, a
/// request the provider judged is a 400, a provider outage a 503 with Retry-After, a provider that
/// refuses the service a 502, and no answer carries the provider's words.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "xunit disposes through IAsyncLifetime.DisposeAsync.")]
public sealed class StoreFailureTests : IAsyncLifetime
{
    private const string Secret = "internal-detail-/var/lib/provider";
    private readonly FakeQdrantTransport _qdrant = new();
    private ServiceFactory? _factory;
    private HttpClient? _client;

    private HttpClient Client => _client!;

    public async Task InitializeAsync()
    {
        _factory = new ServiceFactory(overrides: new Dictionary<string, string?>
        {
            ["ImageRetrieval:VectorStore:Provider"] = "Qdrant",
            ["ImageRetrieval:VectorStore:Qdrant:Url"] = "http://qdrant.fake:6334",
            ["ImageRetrieval:VectorStore:Qdrant:MaxRetries"] = "0",
        })
        {
            ConfigureServices = _qdrant.Install,
        };
        _client = await _factory.CreateReadyClientAsync();
        using var ingest = await Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), Multipart.Files("files", Paths.PhotoFiles[0]));
        Assert.Equal(HttpStatusCode.OK, ingest.StatusCode);
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        _qdrant.Dispose();
    }

    [Theory]
    [InlineData(StatusCode.InvalidArgument, HttpStatusCode.BadRequest, "store-rejected-request")]
    [InlineData(StatusCode.Unauthenticated, HttpStatusCode.BadGateway, "store-error")]
    [InlineData(StatusCode.PermissionDenied, HttpStatusCode.BadGateway, "store-error")]
    [InlineData(StatusCode.NotFound, HttpStatusCode.BadGateway, "store-error")]
    [InlineData(StatusCode.Internal, HttpStatusCode.ServiceUnavailable, "store-unavailable")]
    [InlineData(StatusCode.Unavailable, HttpStatusCode.ServiceUnavailable, "store-unavailable")]
    [InlineData(StatusCode.DeadlineExceeded, HttpStatusCode.ServiceUnavailable, "store-unavailable")]
    public async Task Given_the_vector_store_answers_an_error_When_searching_Then_the_caller_gets_a_mapped_problem_without_the_providers_words(
        StatusCode providerStatus, HttpStatusCode expected, string slug)
    {
        _qdrant.Script(new ScriptedStatus(providerStatus, Secret) { MethodContains = "Points/Query" });

        using var response = await SearchAsync("""{"camera":"x"}""");

        await AssertProblemAsync(response, expected, slug);
        Assert.Equal(expected == HttpStatusCode.ServiceUnavailable, response.Headers.RetryAfter is not null);
    }

    [Fact]
    public async Task Given_the_vector_store_asks_to_wait_When_searching_Then_its_Retry_After_is_passed_on()
    {
        _qdrant.Script(new ScriptedStatus(StatusCode.ResourceExhausted, "Rate limiting exceeded", new Dictionary<string, string> { ["retry-after"] = "7" }) { MethodContains = "Points/Query" });

        using var response = await SearchAsync(null);

        await AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "store-unavailable");
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task Given_the_vector_store_answers_a_page_that_is_not_grpc_When_searching_Then_it_is_a_503_not_a_500()
    {
        _qdrant.Script(new ScriptedStatus(StatusCode.OK) { MethodContains = "Points/Query", HttpStatus = HttpStatusCode.OK, HttpBody = $"<html>{Secret}</html>" });

        using var response = await SearchAsync(null);

        await AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "store-unavailable");
    }

    [Fact]
    public async Task Given_the_vector_store_rejects_a_forged_cursor_When_listing_Then_a_400_names_the_cursor()
    {
        _qdrant.Script(new ScriptedStatus(StatusCode.InvalidArgument, $"Wrong input: {Secret}") { MethodContains = "Points/Scroll" });

        using var response = await Client.GetAsync(new Uri("/api/v1/images?cursor=00000000-0000-0000-0000-000000000000", UriKind.Relative));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation");
        Assert.True(problem["errors"]!.AsObject().ContainsKey("cursor"), problem.ToJsonString());
    }

    [Theory]
    [InlineData(403, HttpStatusCode.BadGateway, "store-error")]
    [InlineData(500, HttpStatusCode.ServiceUnavailable, "store-unavailable")]
    public async Task Given_the_blob_store_answers_an_error_When_ingesting_Then_the_caller_gets_a_mapped_problem(int providerStatus, HttpStatusCode expected, string slug)
    {
        await using var gcs = new FakeGcsServer("bucket");
        await gcs.StartAsync();
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?>
        {
            ["ImageRetrieval:BlobStore:Provider"] = "Gcs",
            ["ImageRetrieval:BlobStore:Gcs:Bucket"] = "bucket",
            ["ImageRetrieval:BlobStore:Gcs:Endpoint"] = gcs.BaseUri.ToString(),
            ["ImageRetrieval:BlobStore:Gcs:MaxRetries"] = "0",
        })
        {
            ConfigureServices = services => services.Replace(ServiceDescriptor.Singleton<GcsCredentialSource>(
                new FixedCredentialSource(Google.Apis.Auth.OAuth2.GoogleCredential.FromAccessToken(FakeGcsServer.Token)))),
        };
        using var client = await factory.CreateReadyClientAsync();
        gcs.Script(new ScriptedAnswer(providerStatus, $$$"""{"error":{"code":{{{providerStatus}}},"message":"{{{Secret}}}"}}""") { PathContains = "/upload/" });

        using var response = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), Multipart.Files("files", Paths.PhotoFiles[1]));

        await AssertProblemAsync(response, expected, slug);
    }

    [Fact]
    public async Task Given_pinecone_refuses_the_metadata_When_ingesting_Then_it_is_the_callers_400()
    {
        await using var pinecone = new FakePineconeServer();
        await pinecone.StartAsync();
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?>
        {
            ["ImageRetrieval:VectorStore:Provider"] = "Pinecone",
            ["ImageRetrieval:VectorStore:Pinecone:ApiKey"] = FakePineconeServer.ApiKey,
            ["ImageRetrieval:VectorStore:Pinecone:ControlPlaneUrl"] = pinecone.BaseUri.ToString(),
            ["ImageRetrieval:VectorStore:Pinecone:IndexPollInterval"] = "00:00:00.010",
            ["ImageRetrieval:VectorStore:Pinecone:MaxRetries"] = "0",
        });
        using var client = await factory.CreateReadyClientAsync();
        pinecone.Script(new ScriptedAnswer(400, $$"""{"code":3,"message":"Metadata size exceeds the limit: {{Secret}}","details":[]}""") { PathContains = "vectors/upsert" });

        using var form = Multipart.Files("files", Paths.PhotoFiles[2]);
        form.Add(new StringContent("""{"note":"fine here, too big for the provider"}"""), "metadata");
        using var response = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "store-rejected-request");
    }

    [Fact]
    public async Task Given_many_readiness_probes_Then_they_answer_from_the_last_background_check_without_calling_the_store()
    {
        _qdrant.ClearCalls();
        for (var i = 0; i < 30; i++)
        {
            using var ready = await Client.GetAsync(new Uri("/healthz/ready", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        // The background check runs every 5 s while ready: at most one of them can fall in this window.
        Assert.InRange(_qdrant.Calls.Count(c => c.Method == "Collections/CollectionExists"), 0, 1);
    }

    private async Task<HttpResponseMessage> SearchAsync(string? filter)
    {
        var name = Path.GetFileName(Paths.PhotoFiles[0]);
        using var form = new MultipartFormDataContent { { Multipart.Bytes(name, await File.ReadAllBytesAsync(Paths.PhotoFiles[0])), "file", name } };
        if (filter is not null)
        {
            form.Add(new StringContent(filter), "filter");
        }

        return await Client.PostAsync(new Uri("/api/v1/search", UriKind.Relative), form);
    }

    private static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected, string slug)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal("urn:image-retrieval:problem:" + slug, problem["type"]!.GetValue<string>());
        Assert.DoesNotContain(Secret, text, StringComparison.Ordinal);
        Assert.DoesNotContain("/var/lib", text, StringComparison.Ordinal);
        return problem;
    }
}
