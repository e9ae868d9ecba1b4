using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using IPNetwork = System.Net.IPNetwork;

namespace ImageRetrieval.Host.Api;

/// <summary><c>ImageRetrieval:ForwardedHeaders</c>: the proxies whose X-Forwarded-For/Proto/Host are believed; none by default.</summary>
internal sealed class ForwardedHeadersSettings
{
    public const string Section = "ImageRetrieval:ForwardedHeaders";

    /// <summary>Addresses of proxies in front of the service, e.g. 10.0.0.5.</summary>
    public List<string> KnownProxies { get; set; } = [];

    /// <summary>Networks the proxies live in, in CIDR form, e.g. 10.0.0.0/8 (a cluster's pod range).</summary>
    public List<string> KnownNetworks { get; set; } = [];

    public bool Enabled => KnownProxies.Count > 0 || KnownNetworks.Count > 0;
}

/// <summary><c>ImageRetrieval:Cors</c>: browser origins allowed to call the API; none (CORS off) by default.</summary>
internal sealed class CorsSettings
{
    public const string Section = "ImageRetrieval:Cors";

    public List<string> AllowedOrigins { get; set; } = [];
}

/// <summary>
/// What the service shows the network: forwarded headers only from configured proxies, CORS only for
/// configured origins, and headers that keep browsers from sniffing or framing what it serves.
/// </summary>
internal static class Exposure
{
    /// <summary>
    /// Scalar's page is served from this process: its script and styles come from <c>/docs/</c>, its
    /// configuration is one inline script, and it fetches the document from this origin. Fonts from
    /// Scalar's CDN, telemetry and its AI agent are switched off (<see cref="ApiDocument"/>), so nothing leaves the origin.
    /// </summary>
    public const string DocsContentSecurityPolicy =
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
        "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>API answers are data, never documents: nothing in them may run or be framed.</summary>
    public const string ApiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; sandbox";

    public static IServiceCollection AddExposure(this IServiceCollection services, IConfiguration configuration)
    {
        var forwarded = configuration.GetSection(ForwardedHeadersSettings.Section).Get<ForwardedHeadersSettings>() ?? new ForwardedHeadersSettings();
        services.AddOptions<ForwardedHeadersSettings>().Bind(configuration.GetSection(ForwardedHeadersSettings.Section))
            .Validate(s => s.KnownProxies.All(p => IPAddress.TryParse(p, out _)), $"{ForwardedHeadersSettings.Section}:KnownProxies must be IP addresses.")
            .Validate(s => s.KnownNetworks.All(n => IPNetwork.TryParse(n, out _)), $"{ForwardedHeadersSettings.Section}:KnownNetworks must be CIDR networks such as 10.0.0.0/8.")
            .ValidateOnStart();
        services.Configure<ForwardedHeadersOptions>(options =>
        {
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            // Only the configured proxies: the framework's default trusts loopback, which a sidecar or port-forward could abuse.
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            foreach (var proxy in forwarded.KnownProxies)
            {
                if (IPAddress.TryParse(proxy, out var address))
                {
                    options.KnownProxies.Add(address);
                }
            }

            foreach (var network in forwarded.KnownNetworks)
            {
                if (IPNetwork.TryParse(network, out var parsed))
                {
                    options.KnownIPNetworks.Add(parsed);
                }
            }

            // Every hop is checked against the lists, so a chain of known proxies may be walked in full.
            options.ForwardLimit = null;
        });

        var cors = configuration.GetSection(CorsSettings.Section).Get<CorsSettings>() ?? new CorsSettings();
        services.AddOptions<CorsSettings>().Bind(configuration.GetSection(CorsSettings.Section))
            .Validate(s => s.AllowedOrigins.All(o => o == "*" || Uri.TryCreate(o, UriKind.Absolute, out var uri) && uri.AbsolutePath == "/"),
                $"{CorsSettings.Section}:AllowedOrigins must be origins such as https://app.example.com (or *).")
            .ValidateOnStart();
        if (cors.AllowedOrigins.Count > 0)
        {
            services.AddCors(options => options.AddDefaultPolicy(policy =>
            {
                var origins = cors.AllowedOrigins.Select(o => o.TrimEnd('/')).ToArray();
                (origins.Contains("*") ? policy.AllowAnyOrigin() : policy.WithOrigins(origins))
                    .WithMethods("GET", "POST", "DELETE")
                    .WithHeaders(AuthOptions.HeaderName, "Content-Type")
                    .WithExposedHeaders("Retry-After", "Content-Length")
                    .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
            }));
        }

        return services;
    }

    /// <summary>First in the pipeline: addresses and schemes are right for everything after, and every answer (errors included) gets the headers.</summary>
    public static void UseExposure(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            var response = context.Response;
            response.OnStarting(() =>
            {
                var headers = response.Headers;
                headers.XContentTypeOptions = "nosniff";
                if (!headers.ContainsKey("Content-Security-Policy"))
                {
                    var path = context.Request.Path;
                    if (path.StartsWithSegments("/docs"))
                    {
                        headers.ContentSecurityPolicy = DocsContentSecurityPolicy;
                    }
                    else if (path.StartsWithSegments("/api") || path.StartsWithSegments("/openapi"))
                    {
                        headers.ContentSecurityPolicy = ApiContentSecurityPolicy;
                    }
                }

                return Task.CompletedTask;
            });
            return next(context);
        });

        if (app.Services.GetRequiredService<IOptions<ForwardedHeadersSettings>>().Value.Enabled)
        {
            app.UseForwardedHeaders();
        }
    }

    /// <summary>After the forwarded headers, before rate limiting and keys: a preflight is answered here and never costs a permit.</summary>
    public static void UseCorsWhenConfigured(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<CorsSettings>>().Value.AllowedOrigins.Count > 0)
        {
            app.UseCors();
        }
    }
}
