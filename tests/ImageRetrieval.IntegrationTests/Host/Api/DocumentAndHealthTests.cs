namespace ImageRetrieval.IntegrationTests.Host.Api;

public sealed class DocumentAndHealthTests(ServiceWithSmallLimits service) : IClassFixture<ServiceWithSmallLimits>
{
    [Fact]
    public async Task Given_the_openapi_document_Then_every_operation_is_named_summarised_secured_and_declares_its_problems()
    {
        var text = await service.Client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        var document = JsonNode.Parse(text)!.AsObject();
        Assert.False(document["servers"]![0]!["url"]!.GetValue<string>().EndsWith('/'));

        // CI lints this exact document and generates a client from it (.ci/run sets OPENAPI_OUT).
        if (Environment.GetEnvironmentVariable("OPENAPI_OUT") is { Length: > 0 } output)
        {
            await File.WriteAllTextAsync(output, text);
        }
        var operations = document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(o => (Path: p.Key, Method: o.Key, Op: o.Value!.AsObject()))).ToList();
        Assert.Contains(operations, o => o.Path == "/api/v1/images" && o.Method == "post");
        Assert.Contains(operations, o => o.Path == "/api/v1/search" && o.Method == "post");
        Assert.Contains(operations, o => o.Path == "/api/v1/images/{id}/similar" && o.Method == "get");
        Assert.All(operations, o =>
        {
            Assert.False(string.IsNullOrEmpty(o.Op["operationId"]?.GetValue<string>()), o.Path);
            Assert.False(string.IsNullOrEmpty(o.Op["summary"]?.GetValue<string>()), o.Path);
            Assert.NotNull(o.Op["security"]);
        });
        Assert.All(operations.Where(o => o.Path.StartsWith("/api/v1", StringComparison.Ordinal)), o =>
            Assert.Contains(o.Op["responses"]!.AsObject(), r => r.Key.StartsWith('4') && r.Value!["content"]!["application/problem+json"] is not null));

        // Any operation that reads a body answers 415 to a media type or charset it cannot read.
        Assert.All(operations.Where(o => o.Path.StartsWith("/api/v1", StringComparison.Ordinal) && o.Op["requestBody"] is not null), o =>
            Assert.True(o.Op["responses"]!.AsObject().ContainsKey("415"), $"{o.Method} {o.Path} does not declare 415"));
    }

    [Theory]
    [InlineData("/api/v1/images", "files", "metadata")]
    [InlineData("/api/v1/search", "file", "filter")]
    [InlineData("/api/v1/search", "text", "topK")]
    public async Task Given_a_multipart_operation_Then_its_body_is_one_flat_object_schema(string path, string fileField, string jsonField)
    {
        var document = await service.Client.GetFromJsonAsync<JsonObject>(new Uri("/openapi/v1.json", UriKind.Relative));
        var schema = document!["paths"]![path]!["post"]!["requestBody"]!["content"]!["multipart/form-data"]!["schema"]!.AsObject();
        Assert.False(schema.ContainsKey("allOf"));
        Assert.Equal("object", schema["type"]!.GetValue<string>());
        Assert.True(schema["properties"]!.AsObject().ContainsKey(fileField));
        Assert.True(schema["properties"]!.AsObject().ContainsKey(jsonField));
    }

    [Fact]
    public async Task Given_a_running_service_Then_docs_liveness_readiness_and_metrics_answer()
    {
        Assert.Equal(HttpStatusCode.OK, (await service.Client.GetAsync(new Uri("/healthz/live", UriKind.Relative))).StatusCode);
        var ready = await service.Client.GetFromJsonAsync<JsonObject>(new Uri("/healthz/ready", UriKind.Relative));
        Assert.Equal("Healthy", ready!["status"]!.GetValue<string>());
        Assert.True(ready["checks"]!.AsObject().ContainsKey("embedding-model"));
        using var docs = await service.Client.GetAsync(new Uri("/docs", UriKind.Relative));
        Assert.True(docs.IsSuccessStatusCode || docs.StatusCode == HttpStatusCode.Redirect, docs.StatusCode.ToString());

        using var form = Multipart.Files("files", Path.Combine(Paths.Photos, "hard", "grayscale.jpg"));
        (await service.Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form)).EnsureSuccessStatusCode();
        var metrics = await service.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("http_server_request_duration_seconds_bucket", metrics, StringComparison.Ordinal);
        Assert.Contains("imageretrieval_images_ingested_total", metrics, StringComparison.Ordinal);
        Assert.Contains("imageretrieval_embedding_batch_size_bucket", metrics, StringComparison.Ordinal);
        Assert.Contains("imageretrieval_inference_duration_seconds_bucket", metrics, StringComparison.Ordinal);
        Assert.Contains("imageretrieval_store_call_duration_seconds_bucket", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_model_that_cannot_load_Then_live_is_ok_ready_is_503_and_requests_get_503_problems()
    {
        await using var broken = new ServiceFactory(model: "/nonexistent/model-dir");
        var client = broken.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/healthz/live", UriKind.Relative))).StatusCode);
        await Task.Delay(200);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync(new Uri("/healthz/ready", UriKind.Relative))).StatusCode);
        using var form = Multipart.Files("files", Path.Combine(Paths.Photos, "hard", "grayscale.jpg"));
        using var response = await client.PostAsync(new Uri("/api/v1/embeddings", UriKind.Relative), form);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("urn:image-retrieval:problem:model-not-ready", (await response.Content.ReadFromJsonAsync<JsonObject>())!["type"]!.GetValue<string>());
    }
}
