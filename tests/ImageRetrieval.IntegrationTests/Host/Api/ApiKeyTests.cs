namespace ImageRetrieval.IntegrationTests.Host.Api;

public sealed class ApiKeyTests
{
    private static readonly Uri Images = new("/api/v1/images", UriKind.Relative);

    [Fact]
    public async Task Given_api_keys_are_configured_Then_api_calls_need_one_and_probes_docs_and_metrics_do_not()
    {
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?>
        {
            ["ImageRetrieval:Auth:ApiKeys:0"] = "first-key",
            ["ImageRetrieval:Auth:ApiKeys:1"] = "second-key",
        });
        var client = await factory.CreateReadyClientAsync();

        using var anonymous = await client.GetAsync(Images);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("urn:image-retrieval:problem:unauthorized", (await anonymous.Content.ReadFromJsonAsync<JsonObject>())!["type"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(client, "wrong-key")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(client, "second-key")).StatusCode);

        // A browser asks for HTML: the refusal is still the problem (it was a 500 when no writer took text/html).
        using var fromBrowser = new HttpRequestMessage(HttpMethod.Get, Images) { Headers = { Accept = { new("text/html") } } };
        using var refused = await client.SendAsync(fromBrowser);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal("urn:image-retrieval:problem:unauthorized", (await refused.Content.ReadFromJsonAsync<JsonObject>())!["type"]!.GetValue<string>());

        using var upload = Multipart.Files("files", Paths.PhotoFiles[0]);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync(Images, upload)).StatusCode);

        foreach (var open in new[] { "/healthz/live", "/healthz/ready", "/openapi/v1.json", "/metrics" })
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri(open, UriKind.Relative))).StatusCode);
        }

        var document = await client.GetFromJsonAsync<JsonObject>(new Uri("/openapi/v1.json", UriKind.Relative));
        Assert.Equal("X-Api-Key", document!["components"]!["securitySchemes"]!["ApiKey"]!["name"]!.GetValue<string>());
        var security = document["paths"]!["/api/v1/search"]!["post"]!["security"]!.AsArray();
        Assert.True(security[0]!.AsObject().ContainsKey("ApiKey"), security.ToJsonString());
    }

    private static async Task<HttpResponseMessage> Send(HttpClient client, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Images);
        request.Headers.Add("X-Api-Key", key);
        return await client.SendAsync(request);
    }
}
