using System.Collections.Concurrent;
using ImageRetrieval.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.IntegrationTests.Host.Observability;

public sealed class ObservabilityTests
{
    [Fact]
    public async Task Given_an_otlp_endpoint_When_requests_are_served_Then_traces_are_exported_to_it()
    {
        var received = new ConcurrentQueue<(string Path, string? ContentType, long Length)>();
        // OTLP/HTTP: the exporter POSTs protobuf ExportTraceServiceRequest bodies to {endpoint}/v1/traces.
        await using var collector = await LoopbackServer.StartAsync(app => app.MapPost("/v1/traces", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((context.Request.Path, context.Request.ContentType, body.Length));
            return Results.Ok();
        }));
        var endpoint = collector.Addresses().First();

        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        });
        var client = await factory.CreateReadyClientAsync();
        using var form = Multipart.Files("files", Path.Combine(Paths.Photos, "hard", "grayscale.jpg"));
        (await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form)).EnsureSuccessStatusCode();

        for (var i = 0; i < 100 && received.IsEmpty; i++)
        {
            await Task.Delay(100);
        }

        Assert.Contains(received, r => r.Path == "/v1/traces" && r.ContentType == "application/x-protobuf" && r.Length > 0);
    }

    [Fact]
    public async Task Given_a_running_service_Then_metrics_include_queue_depth_readiness_store_errors_and_the_runtime()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.CreateReadyClientAsync();
        using var form = Multipart.Files("files", Path.Combine(Paths.Photos, "hard", "grayscale.jpg"));
        (await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form)).EnsureSuccessStatusCode();
        string metrics = "";
        for (var i = 0; i < 60 && !metrics.Contains("imageretrieval_ready 1", StringComparison.Ordinal); i++)
        {
            await Task.Delay(250);
            metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        }

        Assert.Contains("imageretrieval_embedding_queue_depth", metrics, StringComparison.Ordinal);
        Assert.Contains("imageretrieval_ready 1", metrics, StringComparison.Ordinal);
        Assert.Contains("store=\"Local\"", metrics, StringComparison.Ordinal);
        Assert.Contains("operation=\"upsert\"", metrics, StringComparison.Ordinal);
        Assert.Contains("dotnet_jit_compiled_methods_total", metrics, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_collections_total", metrics, StringComparison.Ordinal);
    }
}
