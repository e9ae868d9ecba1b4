using Microsoft.Playwright;

namespace ImageRetrieval.IntegrationTests.Host.SearchPage;

/// <summary>
/// Debian's Chromium driven by Playwright, launched once for every browser test. Browser downloads are
/// not possible here, so Playwright is pointed at the system binary; without it the tests skip.
/// </summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    /// <summary>Debian's Chromium unless CHROMIUM_PATH names another Chromium-based browser (GitHub's runners ship Google Chrome).</summary>
    public static string ExecutablePath { get; } = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private IPlaywright? playwright;

    public IBrowser? Browser { get; private set; }

    public static string SkipReason => $"No browser at {ExecutablePath} (apt-get install chromium, which .ci/run does, or set CHROMIUM_PATH).";

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            return;
        }

        // A slow, shared CI machine: generous waits, which cost nothing when the page is quick.
        Assertions.SetDefaultExpectTimeout(20_000);
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Timeout = 60_000,
            // Without the background-networking switches Chromium keeps dialling Google services, which
            // this network refuses; the page itself needs nothing but the service.
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        playwright?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserTests : ICollectionFixture<ChromiumFixture>
{
    public const string Name = "browser";
}

/// <summary>The real Host on Kestrel over loopback (a browser needs a real socket, which the test server lacks).</summary>
public sealed class KestrelService : IAsyncDisposable
{
    private KestrelService(ServiceFactory factory, HttpClient client)
    {
        Factory = factory;
        Client = client;
    }

    public ServiceFactory Factory { get; }

    /// <summary>A client of the same socket the browser uses.</summary>
    public HttpClient Client { get; }

    public Uri BaseAddress => Client.BaseAddress!;

    public static async Task<KestrelService> StartAsync(IDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>(overrides ?? new Dictionary<string, string?>()) { ["urls"] = "http://127.0.0.1:0" };
        var factory = new ServiceFactory(overrides: settings);
        factory.UseKestrel();
        factory.StartServer();
        return new KestrelService(factory, await factory.CreateReadyClientAsync());
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
    }
}

/// <summary>One browser context and page on the service, recording every console error and uncaught exception.</summary>
public sealed class PageSession : IAsyncDisposable
{
    private readonly IBrowserContext context;

    private PageSession(IBrowserContext context, IPage page)
    {
        this.context = context;
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                ConsoleErrors.Add($"{message.Text} ({message.Location})");
            }
        };
        page.PageError += (_, error) => ConsoleErrors.Add("uncaught: " + error);
    }

    public IPage Page { get; }

    public List<string> ConsoleErrors { get; } = [];

    public static readonly ViewportSize Desktop = new() { Width = 1280, Height = 900 };

    public static readonly ViewportSize Phone = new() { Width = 390, Height = 844 };

    public static async Task<PageSession> OpenAsync(ChromiumFixture chromium, KestrelService service, ViewportSize viewport, bool phone = false)
    {
        var context = await chromium.Browser!.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = service.BaseAddress.ToString(),
            ViewportSize = viewport,
            IsMobile = phone,
            HasTouch = phone,
            DeviceScaleFactor = phone ? 2 : 1,
        });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(20_000);
        var session = new PageSession(context, page);
        await page.GotoAsync("/");
        return session;
    }

    /// <summary>Console errors other than the browser's own note that a request answered with an error status the test provoked.</summary>
    public IEnumerable<string> UnexpectedErrors(params int[] provokedStatuses) =>
        ConsoleErrors.Where(e => !provokedStatuses.Any(s => e.StartsWith($"Failed to load resource: the server responded with a status of {s} ", StringComparison.Ordinal)));

    public async Task ScreenshotAsync(string name)
    {
        var path = Path.Combine(Paths.RepoRoot, "TestResults", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
    }

    public async ValueTask DisposeAsync() => await context.CloseAsync();
}
