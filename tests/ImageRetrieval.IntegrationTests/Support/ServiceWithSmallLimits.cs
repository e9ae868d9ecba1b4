namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>The default fixture model behind limits small enough to reach with fixture files (3 files, 100 kB, 200 kpx).</summary>
public sealed class ServiceWithSmallLimits : IAsyncLifetime
{
    public ServiceFactory Factory { get; } = new(overrides: new Dictionary<string, string?>
    {
        ["ImageRetrieval:Limits:MaxFileBytes"] = "100000",
        ["ImageRetrieval:Limits:MaxPixels"] = "200000",
        ["ImageRetrieval:Limits:MaxFilesPerRequest"] = "3",
        ["ImageRetrieval:Limits:MaxRequestBytes"] = "1000000",
    });

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync() => Client = await Factory.CreateReadyClientAsync();

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}
