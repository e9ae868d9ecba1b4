using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ImageRetrieval.Tests;

/// <summary>
/// A Kestrel server on 127.0.0.1 with a random port, for what a test fakes outside the process (a
/// provider's API, the model hub, an OTLP collector): the tests prefer a local server that answers like
/// the real one over a mock.
/// </summary>
internal static class LoopbackServer
{
    /// <summary>Starts a server with the routes <paramref name="map"/> adds; it listens on plain http and on whatever <paramref name="kestrel"/> adds.</summary>
    public static async Task<WebApplication> StartAsync(Action<WebApplication> map, Action<KestrelServerOptions>? kestrel = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.Listen(IPAddress.Loopback, 0);
            kestrel?.Invoke(options);
        });
        builder.Logging.ClearProviders();
        var app = builder.Build();
        try
        {
            map(app);
            await app.StartAsync();
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    /// <summary>The addresses a started server listens on (<c>http://127.0.0.1:port</c>, one per listener).</summary>
    public static ICollection<string> Addresses(this WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;

}
