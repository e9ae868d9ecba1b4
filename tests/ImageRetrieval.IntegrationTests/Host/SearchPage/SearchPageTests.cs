using System.Text.RegularExpressions;

namespace ImageRetrieval.IntegrationTests.Host.SearchPage;

/// <summary>What the page is as HTTP: self-contained, locked down by its CSP, and not part of the API document.</summary>
public sealed partial class SearchPageTests(ServiceWithSmallLimits service) : IClassFixture<ServiceWithSmallLimits>
{
    [Fact]
    public async Task Given_the_root_Then_the_page_and_every_asset_it_names_come_from_the_service_under_a_self_only_policy()
    {
        using var response = await service.Client.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var policy = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Equal(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
            policy);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("content=\"none\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<style", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" style=", html, StringComparison.OrdinalIgnoreCase);
        Assert.Matches(ExternalScript(), html);

        var assets = AssetReference().Matches(html).Select(m => m.Groups["url"].Value).ToList();
        Assert.Equal(["/search-page/icon.svg", "/search-page/search.css", "/search-page/search.js"], assets.Order(StringComparer.Ordinal));
        foreach (var asset in assets)
        {
            using var answer = await service.Client.GetAsync(new Uri(asset, UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal(policy, Assert.Single(answer.Headers.GetValues("Content-Security-Policy")));
            Assert.True(answer.Content.Headers.ContentLength > 100, asset);
        }

        // Nothing from another host: every URL the page's code or style names is relative to the service.
        foreach (var asset in assets.Where(a => !a.EndsWith(".svg", StringComparison.Ordinal)))
        {
            var text = await service.Client.GetStringAsync(new Uri(asset, UriKind.Relative));
            Assert.DoesNotMatch(OtherHost(), text);
        }
    }

    [Fact]
    public async Task Given_a_cached_copy_When_revalidated_Then_the_service_answers_304()
    {
        using var first = await service.Client.GetAsync(new Uri("/search-page/search.js", UriKind.Relative));
        var etag = first.Headers.ETag;
        Assert.NotNull(etag);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/search-page/search.js", UriKind.Relative));
        request.Headers.IfNoneMatch.Add(etag);
        using var again = await service.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
    }

    [Fact]
    public async Task Given_the_api_document_Then_the_page_is_not_in_it()
    {
        var document = await service.Client.GetFromJsonAsync<JsonObject>(new Uri("/openapi/v1.json", UriKind.Relative));
        var paths = document!["paths"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Contains("/api/v1/search", paths);
        Assert.DoesNotContain(paths, p => p == "/" || p.StartsWith("/search-page", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_api_keys_Then_the_page_itself_is_open_and_tells_the_script_a_key_is_needed()
    {
        await using var factory = new ServiceFactory(overrides: new Dictionary<string, string?> { ["ImageRetrieval:Auth:ApiKeys:0"] = "k" });
        var client = factory.CreateClient();
        var html = await client.GetStringAsync(new Uri("/", UriKind.Relative));
        Assert.Contains("<meta name=\"image-retrieval-api-key\" content=\"required\">", html, StringComparison.Ordinal);
        using var script = await client.GetAsync(new Uri("/search-page/search.js", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }

    [GeneratedRegex("<script src=\"[^\"]+\"[^>]*></script>")]
    private static partial Regex ExternalScript();

    [GeneratedRegex(@"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", RegexOptions.IgnoreCase)]
    private static partial Regex OtherHost();

    [GeneratedRegex("(?:src|href)=\"(?<url>/search-page/[^\"]+)\"")]
    private static partial Regex AssetReference();
}
