using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ImageRetrieval.IntegrationTests.Host.SearchPage;

/// <summary>One Kestrel-hosted service for the page tests; small file limit so one fixture photo is refused as too large.</summary>
public sealed class PageService : IAsyncLifetime
{
    public const int MaxFileBytes = 150_000;

    public KestrelService Service { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Service = await KestrelService.StartAsync(new Dictionary<string, string?> { ["ImageRetrieval:Limits:MaxFileBytes"] = MaxFileBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    public async Task DisposeAsync() => await Service.DisposeAsync();
}

// Each test adds photos no other test in the class adds, so "stored" / "already there" do not depend on test order.
[Collection(BrowserTests.Name)]
public sealed partial class SearchPageBrowserTests(ChromiumFixture chromium, PageService pageService) : IClassFixture<PageService>
{
    private KestrelService Service => pageService.Service;

    [SkippableFact]
    public async Task Given_photos_added_on_the_page_When_one_is_the_query_Then_it_scores_1_00_its_thumbnail_loads_and_Similar_replaces_the_results()
    {
        await using var session = await OpenPageAsync();
        var page = session.Page;
        string[] names = ["opencv-apple.jpg", "opencv-orange.jpg", "opencv-baboon.jpg", "opencv-fruits.jpg"];

        // Holding each upload back a little makes the progress bar observable on a fast machine.
        await page.RouteAsync("**/api/v1/images", async route =>
        {
            await Task.Delay(250);
            await route.ContinueAsync();
        });
        await page.GetByLabel("Add images", new() { Exact = true }).SetInputFilesAsync(names.Select(Photo));
        await Expect(page.GetByRole(AriaRole.Progressbar)).ToBeVisibleAsync();
        foreach (var name in names)
        {
            await Expect(Outcome(page, name)).ToHaveTextAsync($"{name} stored");
        }

        await Expect(page.GetByRole(AriaRole.Progressbar)).ToBeHiddenAsync();
        await page.UnrouteAllAsync();

        await page.GetByLabel("Add images", new() { Exact = true }).SetInputFilesAsync(Photo(names[0]));
        await Expect(Outcome(page, names[0]).First).ToHaveTextAsync($"{names[0]} already there");

        await page.GetByLabel("Search by image").SetInputFilesAsync(Photo(names[0]));
        var results = Results(page);
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("for “opencv-apple.jpg”");
        var best = results.First;
        await Expect(best.GetByRole(AriaRole.Img)).ToHaveAttributeAsync("alt", "Stored image opencv-apple.jpg");
        await Expect(best).ToContainTextAsync("Score 1.00");
        await AssertLoadedAsync(best.GetByRole(AriaRole.Img));
        var scores = await results.Locator(".score strong").AllTextContentsAsync();
        Assert.All(scores, s => Assert.Matches(ScoreFormat(), s));
        Assert.True(scores.Count >= names.Length, string.Join(", ", scores));

        await session.ScreenshotAsync("search-page-desktop.png");

        await best.GetByRole(AriaRole.Button, new() { Name = "Similar", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("similar to “opencv-apple.jpg”");
        await Expect(results.GetByRole(AriaRole.Img, new() { Name = "Stored image opencv-apple.jpg" })).ToHaveCountAsync(0);
        Assert.True(await results.CountAsync() >= names.Length - 1);
        await AssertLoadedAsync(results.First.GetByRole(AriaRole.Img));

        Assert.Empty(session.UnexpectedErrors());
    }

    [SkippableFact]
    public async Task Given_a_phone_width_Then_the_page_fits_without_sideways_scrolling_and_search_works()
    {
        await using var session = await OpenPageAsync(PageSession.Phone, phone: true);
        var page = session.Page;
        string[] names = ["opencv-butterfly.jpg", "opencv-squirrel_cls.jpg", "matplotlib-grace_hopper.jpg"];

        await page.GetByLabel("Add images", new() { Exact = true }).SetInputFilesAsync(names.Select(Photo));
        await Expect(Outcome(page, names[^1])).ToHaveTextAsync($"{names[^1]} stored");
        await SearchByImageAndExpectItFirstAsync(page, names[0]);

        var widths = await page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, window.innerWidth]");
        var (scrollWidth, viewportWidth) = (widths[0], widths[1]);
        Assert.True(scrollWidth <= viewportWidth, $"the page is {scrollWidth}px wide in a {viewportWidth}px viewport");
        await session.ScreenshotAsync("search-page-phone.png");
        Assert.Empty(session.UnexpectedErrors());
    }

    [SkippableFact]
    public async Task Given_only_a_keyboard_Then_a_search_by_image_and_Similar_can_be_done()
    {
        await using var session = await OpenPageAsync();
        var page = session.Page;
        string[] names = ["opencv-aero1.jpg", "opencv-aero3.jpg"];
        foreach (var name in names)
        {
            using var form = Multipart.Files("files", Photo(name));
            form.Add(new StringContent("""{"album":"aero","year":2024}"""), "metadata");
            using var response = await Service.Client.PostAsync(new Uri("/api/v1/images", UriKind.Relative), form);
            response.EnsureSuccessStatusCode();
        }

        await TabToAsync(page, "#query-file");
        var chooser = await page.RunAndWaitForFileChooserAsync(() => page.Keyboard.PressAsync("Space"));
        await chooser.SetFilesAsync(Photo(names[0]));
        var best = Results(page).First;
        await Expect(best).ToContainTextAsync("Score 1.00");
        // No file name was recorded, so the image is named by its id; its metadata is listed.
        await Expect(best.GetByRole(AriaRole.Img)).ToHaveAttributeAsync("alt", ShortIdAlt());
        await Expect(best.Locator("dl")).ToHaveTextAsync("albumaeroyear2024");

        await TabToAsync(page, ".result button");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("similar to");
        await Expect(page.GetByRole(AriaRole.Status)).Not.ToContainTextAsync("Searching");
        await Expect(Results(page).First).Not.ToContainTextAsync("Score 1.00");
        Assert.Empty(session.UnexpectedErrors());
    }

    [SkippableFact]
    public async Task Given_an_image_dropped_on_the_page_Then_it_is_added_and_given_one_pasted_Then_it_is_the_query()
    {
        await using var session = await OpenPageAsync();
        var page = session.Page;
        var dropped = "opencv-left01.jpg";

        // What a drop and a paste deliver to the page: events whose DataTransfer carries the files.
        await page.EvaluateAsync(
            """
            ([name, base64]) => {
              const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
              const data = new DataTransfer();
              data.items.add(new File([bytes], name, { type: 'image/jpeg' }));
              for (const type of ['dragenter', 'dragover', 'drop']) {
                document.body.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
              }
            }
            """,
            new object[] { dropped, Convert.ToBase64String(await File.ReadAllBytesAsync(Photo(dropped))) });
        await Expect(Outcome(page, dropped)).ToHaveTextAsync($"{dropped} stored");
        Assert.False(await page.EvaluateAsync<bool>("() => document.body.classList.contains('dragging')"));

        await page.EvaluateAsync(
            """
            async (base64) => {
              const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
              const data = new DataTransfer();
              data.items.add(new File([bytes], 'image.png', { type: 'image/jpeg' }));
              document.dispatchEvent(new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: data }));
            }
            """,
            Convert.ToBase64String(await File.ReadAllBytesAsync(Photo(dropped))));
        var best = Results(page).First;
        await Expect(best).ToContainTextAsync("Score 1.00");
        await Expect(best.GetByRole(AriaRole.Img)).ToHaveAttributeAsync("alt", $"Stored image {dropped}");
        Assert.Empty(session.UnexpectedErrors());
    }

    [SkippableFact]
    public async Task Given_a_file_that_is_not_an_image_or_is_too_large_or_a_busy_service_Then_the_alert_says_so_in_plain_words()
    {
        await using var session = await OpenPageAsync();
        var page = session.Page;
        var alert = page.GetByRole(AriaRole.Alert);
        var notes = new FilePayload { Name = "notes.txt", MimeType = "text/plain", Buffer = "shopping list: apples"u8.ToArray() };

        await page.GetByLabel("Search by image").SetInputFilesAsync(notes);
        await Expect(alert).ToHaveTextAsync("“notes.txt” is not an image the service can read. Use a JPEG, PNG, WebP, GIF, TIFF or HEIF file.");

        await page.GetByLabel("Add images", new() { Exact = true }).SetInputFilesAsync(notes);
        await Expect(Outcome(page, "notes.txt")).ToHaveTextAsync("notes.txt refused: “notes.txt” is not an image the service can read. Use a JPEG, PNG, WebP, GIF, TIFF or HEIF file.");

        var large = "opencv-graf1.png";
        Assert.True(new FileInfo(Photo(large)).Length > PageService.MaxFileBytes);
        await page.GetByLabel("Search by image").SetInputFilesAsync(Photo(large));
        await Expect(alert).ToHaveTextAsync($"“{large}” is too large for this service (the limit is 146 KB). Use a smaller file.");

        await page.GetByLabel("Filter").FillAsync("album=trip");
        await page.GetByLabel("Search by image").SetInputFilesAsync(Photo("opencv-blox.jpg"));
        await Expect(alert).ToHaveTextAsync("The filter must be a JSON object, such as {\"album\": \"trip\"}.");
        await page.GetByLabel("Filter").FillAsync("");

        // The rate limiter and a model still loading are outside a test's control; the page's wording for
        // their problems is what is under test, so the service's answer is stood in for.
        await page.RouteAsync("**/api/v1/search", route => route.FulfillAsync(Problem(429, "too-many-requests", new() { ["Retry-After"] = "7" })));
        await page.GetByLabel("Search by image").SetInputFilesAsync(Photo("opencv-blox.jpg"));
        await Expect(alert).ToHaveTextAsync("The service is receiving too many requests right now. Wait 7 seconds and try again.");
        await page.UnrouteAllAsync();

        await page.RouteAsync("**/api/v1/search", route => route.FulfillAsync(Problem(503, "model-not-ready")));
        await page.GetByLabel("Search by image").SetInputFilesAsync(Photo("opencv-stuff.jpg"));
        await Expect(alert).ToHaveTextAsync("The model is still loading. Try again in a moment.");
        await page.UnrouteAllAsync();

        // A good search afterwards clears the alert.
        await page.GetByLabel("Search by image").SetInputFilesAsync(Photo("opencv-stuff.jpg"));
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("for “opencv-stuff.jpg”");
        await Expect(alert).ToBeEmptyAsync();

        Assert.Empty(session.UnexpectedErrors(413, 415, 429, 503));
    }

    [SkippableFact]
    public async Task Given_the_model_has_no_text_tower_Then_there_is_no_text_box_and_when_it_has_one_the_box_sends_the_text()
    {
        await using var session = await OpenPageAsync();
        var page = session.Page;
        var textBox = page.GetByRole(AriaRole.Searchbox, new() { Name = "Search by text" });

        // The fixture model is vision-only, and the service says so.
        var model = await Service.Client.GetFromJsonAsync<JsonObject>(new Uri("/api/v1/model", UriKind.Relative));
        Assert.False(model!["textSearch"]!.GetValue<bool>());
        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        await Expect(page.GetByLabel("Search by image")).ToBeVisibleAsync();
        await Expect(textBox).ToHaveCountAsync(0);

        // A text-capable model (the CLIP work) is stood in for: the page only has to react to what the service says.
        await page.RouteAsync("**/api/v1/model", route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 200,
            ContentType = "application/json",
            Body = """{"model":"clip-test","dimension":512,"textSearch":true}""",
        }));
        string? sent = null;
        await page.RouteAsync("**/api/v1/search", route =>
        {
            sent = route.Request.PostData;
            return route.FulfillAsync(new RouteFulfillOptions { Status = 200, ContentType = "application/json", Body = """{"model":"clip-test","results":[],"tookMs":3}""" });
        });
        await page.ReloadAsync();
        await textBox.FillAsync("a red apple");
        await textBox.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("No results for “a red apple”.");
        Assert.NotNull(sent);
        Assert.Contains("name=\"text\"", sent, StringComparison.Ordinal);
        Assert.Contains("a red apple", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("name=\"file\"", sent, StringComparison.Ordinal);
        Assert.Empty(session.UnexpectedErrors());
    }

    [SkippableFact]
    public async Task Given_api_keys_Then_the_page_asks_for_one_sends_it_with_every_call_and_keeps_it_for_the_session()
    {
        Skip.If(chromium.Browser is null, ChromiumFixture.SkipReason);
        await using var service = await KestrelService.StartAsync(new Dictionary<string, string?> { ["ImageRetrieval:Auth:ApiKeys:0"] = "page-test-key" });
        await using var session = await OpenPageAsync(service: service);
        var page = session.Page;
        var keyBox = page.GetByLabel("API key", new() { Exact = true });
        await Expect(keyBox).ToBeVisibleAsync();

        await keyBox.FillAsync("wrong-key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Use key" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("That API key was not accepted. Check it and try again.");

        await keyBox.FillAsync("page-test-key");
        await keyBox.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("API key accepted.");
        await Expect(page.GetByRole(AriaRole.Alert)).ToBeEmptyAsync();

        string[] names = ["opencv-home.jpg", "opencv-building.jpg"];
        await page.GetByLabel("Add images", new() { Exact = true }).SetInputFilesAsync(names.Select(Photo));
        await Expect(Outcome(page, names[1])).ToHaveTextAsync($"{names[1]} stored");
        await SearchByImageAndExpectItFirstAsync(page, names[0]);

        // The thumbnail could only load with the key: the content link refuses a request without one.
        var id = await page.EvaluateAsync<string>("async () => (await (await fetch('/api/v1/images?limit=1', { headers: { 'X-Api-Key': sessionStorage.getItem('image-retrieval.api-key') } })).json()).items[0].id");
        using (var anonymous = await service.Client.GetAsync(new Uri($"/api/v1/images/{id}/content", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        // Kept for the session: after a reload the key is still there and searching works without typing it again.
        await page.ReloadAsync();
        await Expect(keyBox).ToHaveValueAsync("page-test-key");
        await SearchByImageAndExpectItFirstAsync(page, names[1]);

        Assert.Empty(session.UnexpectedErrors(401));
    }

    /// <summary>A page on this class's service (or <paramref name="service"/>); skips the test where no Chromium is installed.</summary>
    private async Task<PageSession> OpenPageAsync(ViewportSize? viewport = null, bool phone = false, KestrelService? service = null)
    {
        Skip.If(chromium.Browser is null, ChromiumFixture.SkipReason);
        return await PageSession.OpenAsync(chromium, service ?? Service, viewport ?? PageSession.Desktop, phone);
    }

    /// <summary>Searches by a stored photo: it comes back first with score 1.00 and its thumbnail loads.</summary>
    private static async Task SearchByImageAndExpectItFirstAsync(IPage page, string name)
    {
        await page.GetByLabel("Search by image").SetInputFilesAsync(Photo(name));
        var best = Results(page).First;
        await Expect(best).ToContainTextAsync("Score 1.00");
        await AssertLoadedAsync(best.GetByRole(AriaRole.Img));
    }

    private static string Photo(string name) => Path.Combine(Paths.Photos, name);

    private static ILocator Results(IPage page) =>
        page.GetByRole(AriaRole.List, new() { Name = "Results", Exact = true }).GetByRole(AriaRole.Listitem);

    private static ILocator Outcome(IPage page, string fileName) =>
        page.GetByRole(AriaRole.List, new() { Name = "Added files" }).GetByRole(AriaRole.Listitem).Filter(new() { HasText = fileName });

    private static async Task AssertLoadedAsync(ILocator image)
    {
        await Expect(image).ToHaveAttributeAsync("src", BlobUrl());
        Assert.True(await image.EvaluateAsync<bool>("async img => { await img.decode(); return img.naturalWidth > 0; }"));
    }

    private static async Task TabToAsync(IPage page, string selector)
    {
        for (var presses = 0; presses < 40; presses++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await page.EvaluateAsync<bool>("s => document.activeElement === document.querySelector(s)", selector))
            {
                return;
            }
        }

        Assert.Fail($"Tab never reached {selector}");
    }

    private static RouteFulfillOptions Problem(int status, string slug, Dictionary<string, string>? headers = null) => new()
    {
        Status = status,
        ContentType = "application/problem+json",
        Headers = headers,
        Body = $$"""{"type":"urn:image-retrieval:problem:{{slug}}","title":"{{slug}}","status":{{status}}}""",
    };

    [GeneratedRegex(@"^-?\d\.\d\d$")]
    private static partial Regex ScoreFormat();

    [GeneratedRegex("^Stored image [0-9a-f]{8}$")]
    private static partial Regex ShortIdAlt();

    [GeneratedRegex("^blob:")]
    private static partial Regex BlobUrl();
}
