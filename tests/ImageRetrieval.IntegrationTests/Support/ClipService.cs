namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>The random-weight CLIP fixture (both towers) behind the real Host.</summary>
public sealed class ClipService : IAsyncLifetime
{
    public ServiceFactory Factory { get; } = new(model: "clip-tiny");

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync() => Client = await Factory.CreateReadyClientAsync();

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}
