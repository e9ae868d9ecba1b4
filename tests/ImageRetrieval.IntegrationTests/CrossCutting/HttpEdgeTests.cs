using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ImageRetrieval.IntegrationTests.CrossCutting;

/// <summary>What the service shows the network: rate limits, security headers, CORS, forwarded headers, hosts, the open-API warning, upload room.</summary>
public sealed partial class HttpEdgeTests
{
    [Fact]
    public async Task Given_a_rate_limit_When_a_client_exceeds_it_Then_it_gets_a_429_problem_with_Retry_After_and_probes_stay_open()
    {
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?> { ["ImageRetrieval:RateLimiting:PermitsPerMinute"] = "3" });
        using var client = await factory.CreateReadyClientAsync();

        for (var i = 0; i < 3; i++)
        {
            using var ok = await client.GetAsync(new Uri("/api/v1/images", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var limited = await client.GetAsync(new Uri("/api/v1/images", UriKind.Relative));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.Equal("urn:image-retrieval:problem:rate-limited", (await limited.Content.ReadFromJsonAsync<JsonObject>())!["type"]!.GetValue<string>());
        var seconds = int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 1, 60);

        foreach (var open in new[] { "/healthz/live", "/healthz/ready", "/metrics", "/openapi/v1.json", "/docs/" })
        {
            using var response = await client.GetAsync(new Uri(open, UriKind.Relative));
            Assert.True(response.IsSuccessStatusCode, $"{open}: {(int)response.StatusCode}");
        }

        var document = await client.GetFromJsonAsync<JsonObject>(new Uri("/openapi/v1.json", UriKind.Relative));
        var tooMany = document!["paths"]!["/api/v1/images"]!["get"]!["responses"]!["429"]!.AsObject();
        Assert.True(tooMany["headers"]!.AsObject().ContainsKey("Retry-After"), tooMany.ToJsonString());
        Assert.True(tooMany["content"]!.AsObject().ContainsKey("application/problem+json"), tooMany.ToJsonString());
        Assert.Null(document["paths"]!["/healthz/live"]);
    }

    [Fact]
    public async Task Given_api_keys_and_a_rate_limit_Then_each_key_has_its_own_allowance()
    {
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?>
        {
            ["ImageRetrieval:RateLimiting:PermitsPerMinute"] = "2",
            ["ImageRetrieval:Auth:ApiKeys:0"] = "key-a",
            ["ImageRetrieval:Auth:ApiKeys:1"] = "key-b",
        });
        using var client = await factory.CreateReadyClientAsync();

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], await ListAsync(client, "key-a", 3));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK], await ListAsync(client, "key-b", 2));
    }

    [Fact]
    public async Task Given_no_rate_limit_Then_the_document_declares_no_429()
    {
        await using var factory = new ServiceFactory();
        using var client = await factory.CreateReadyClientAsync();
        var document = await client.GetFromJsonAsync<JsonObject>(new Uri("/openapi/v1.json", UriKind.Relative));
        Assert.Null(document!["paths"]!["/api/v1/images"]!["get"]!["responses"]!["429"]);
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], await ListAsync(client, null, 3));
    }

    [Fact]
    public async Task Given_any_answer_Then_it_carries_nosniff_and_docs_and_api_answers_carry_a_content_security_policy()
    {
        await using var factory = new ServiceFactory();
        using var client = await factory.CreateReadyClientAsync();

        foreach (var path in new[] { "/api/v1/images", "/api/v1/images/nope", "/healthz/live", "/metrics", "/no-such-page", "/docs/" })
        {
            using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        }

        using var api = await client.GetAsync(new Uri("/api/v1/images/nope", UriKind.Relative));
        Assert.Contains("default-src 'none'", api.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        // The docs page: every script and stylesheet it names is served here, and the policy allows exactly this origin.
        using var docs = await client.GetAsync(new Uri("/docs/", UriKind.Relative));
        var csp = docs.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("https:", csp, StringComparison.Ordinal);
        var html = await docs.Content.ReadAsStringAsync();
        var assets = AssetReference().Matches(html).Select(m => m.Groups["url"].Value).ToList();
        Assert.NotEmpty(assets);
        foreach (var asset in assets)
        {
            Assert.False(Uri.TryCreate(asset, UriKind.Absolute, out var absolute) && absolute.Scheme.StartsWith("http", StringComparison.Ordinal), $"{asset} is not served locally");
            using var loaded = await client.GetAsync(new Uri(new Uri(client.BaseAddress!, "/docs/"), asset));
            Assert.True(loaded.IsSuccessStatusCode, $"{asset}: {(int)loaded.StatusCode}");
        }

        Assert.DoesNotContain("fonts.scalar.com", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_no_cors_origins_Then_a_preflight_gets_no_cors_headers_and_given_one_Then_only_it_is_allowed()
    {
        await using (var off = new ServiceFactory())
        {
            using var client = off.CreateClient();
            using var preflight = await PreflightAsync(client, "https://app.example.com");
            Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
        }

        await using var on = new ServiceFactory(overrides: new Dictionary<string, string?> { ["ImageRetrieval:Cors:AllowedOrigins:0"] = "https://app.example.com" });
        using var corsClient = on.CreateClient();
        using (var allowed = await PreflightAsync(corsClient, "https://app.example.com"))
        {
            Assert.True(allowed.IsSuccessStatusCode, ((int)allowed.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal("https://app.example.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }

        using var other = await PreflightAsync(corsClient, "https://evil.example.com");
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Given_forwarded_headers_Then_they_count_only_from_a_configured_proxy()
    {
        await using (var untrusting = new ServiceFactory())
        {
            await untrusting.CreateReadyClientAsync();
            Assert.Equal("http://localhost", await ServerUrlAsync(untrusting, IPAddress.Parse("10.1.2.3")));
        }

        await using var trusting = new ServiceFactory(overrides: new Dictionary<string, string?> { ["ImageRetrieval:ForwardedHeaders:KnownNetworks:0"] = "10.0.0.0/8" });
        await trusting.CreateReadyClientAsync();
        Assert.Equal("https://images.example.com", await ServerUrlAsync(trusting, IPAddress.Parse("10.1.2.3")));
        Assert.Equal("http://localhost", await ServerUrlAsync(trusting, IPAddress.Parse("192.0.2.7")));
    }

    [Fact]
    public async Task Given_a_public_base_url_Then_the_document_and_links_use_it()
    {
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?> { ["ImageRetrieval:PublicBaseUrl"] = "https://images.example.com/base/" });
        using var client = await factory.CreateReadyClientAsync();
        var document = await client.GetFromJsonAsync<JsonObject>(new Uri("/openapi/v1.json", UriKind.Relative));
        Assert.Equal("https://images.example.com/base", document!["servers"]![0]!["url"]!.GetValue<string>());
        using var ingest = await client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), Multipart.Files("files", Paths.PhotoFiles[0]));
        var url = (await ingest.Content.ReadFromJsonAsync<JsonObject>())!["items"]![0]!["image"]!["url"]!.GetValue<string>();
        Assert.StartsWith("https://images.example.com/base/api/v1/images/", url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_allowed_hosts_Then_another_host_is_refused()
    {
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?> { ["AllowedHosts"] = "images.example.com" });
        using var client = factory.CreateClient();
        using var wrong = await client.GetAsync(new Uri("/healthz/live", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/healthz/live", UriKind.Relative)) { Headers = { Host = "images.example.com" } };
        using var right = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
    }

    [Fact]
    public async Task Given_no_api_keys_outside_development_Then_a_warning_says_the_api_is_open()
    {
        var open = new CapturingLoggerProvider();
        await using (var factory = new ServiceFactory { ConfigureServices = s => s.AddSingleton<ILoggerProvider>(open) })
        {
            factory.CreateClient().Dispose();
        }

        Assert.Contains(open.Messages, m => m.Level == LogLevel.Warning && m.Text.Contains("the API is open", StringComparison.Ordinal));

        var closed = new CapturingLoggerProvider();
        await using (var factory = new ServiceFactory(overrides: new Dictionary<string, string?> { ["ImageRetrieval:Auth:ApiKeys:0"] = "k" }) { ConfigureServices = s => s.AddSingleton<ILoggerProvider>(closed) })
        {
            factory.CreateClient().Dispose();
        }

        Assert.DoesNotContain(closed.Messages, m => m.Text.Contains("the API is open", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_a_buffer_room_smaller_than_the_largest_request_Then_the_service_refuses_to_start()
    {
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?>
        {
            ["ImageRetrieval:Limits:MaxRequestBytes"] = "2097152",
            ["ImageRetrieval:Server:MaxBufferedBodyBytes"] = "1048576",
        });
        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains("MaxBufferedBodyBytes", error.ToString(), StringComparison.Ordinal);
    }

    private static async Task<List<HttpStatusCode>> ListAsync(HttpClient client, string? key, int times)
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < times; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/images", UriKind.Relative));
            if (key is not null)
            {
                request.Headers.Add("X-Api-Key", key);
            }

            using var response = await client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    private static Task<HttpResponseMessage> PreflightAsync(HttpClient client, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, new Uri("/api/v1/images", UriKind.Relative));
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "x-api-key");
        return client.SendAsync(request);
    }

    private static async Task<string> ServerUrlAsync(ServiceFactory factory, IPAddress remote)
    {
        var context = await factory.Server.SendAsync(c =>
        {
            c.Connection.RemoteIpAddress = remote;
            c.Request.Method = "GET";
            c.Request.Path = "/openapi/v1.json";
            c.Request.Headers["X-Forwarded-Proto"] = "https";
            c.Request.Headers["X-Forwarded-Host"] = "images.example.com";
            c.Request.Headers["X-Forwarded-For"] = "203.0.113.9";
        });
        var document = await JsonNode.ParseAsync(context.Response.Body);
        return document!["servers"]![0]!["url"]!.GetValue<string>();
    }

    [GeneratedRegex("""(?:src|href)="(?<url>[^"]+)"|@import\s+["'](?<url>[^"']+)""")]
    private static partial Regex AssetReference();

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<(LogLevel Level, string Text)> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Messages.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
