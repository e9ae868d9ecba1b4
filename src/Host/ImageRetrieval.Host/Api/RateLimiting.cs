using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace ImageRetrieval.Host.Api;

/// <summary><c>ImageRetrieval:RateLimiting</c>: requests per client per minute on the API; 0 turns limiting off.</summary>
internal sealed class RateLimitingOptions
{
    public const string Section = "ImageRetrieval:RateLimiting";

    [Range(0, 1_000_000)]
    public int PermitsPerMinute { get; set; }

    public bool Enabled => PermitsPerMinute > 0;
}

/// <summary>
/// ASP.NET Core's rate limiter over the API routes (everything that takes an API key): a fixed
/// one-minute window per valid API key, else per client address (IPv6 per /64, which one host
/// usually holds whole). Probes, metrics, the docs and static pages are not API routes and are never limited.
/// </summary>
internal static class RateLimiting
{
    public static IServiceCollection AddApiRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RateLimitingOptions>().Bind(configuration.GetSection(RateLimitingOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitingOptions>, ApiKeyRing>((limiter, options, keys) =>
        {
            var permits = options.Value.PermitsPerMinute;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = WriteRejectionAsync;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                permits <= 0 || context.GetEndpoint()?.Metadata.GetMetadata<ApiKeyRequired>() is null
                    ? RateLimitPartition.GetNoLimiter("exempt")
                    : RateLimitPartition.GetFixedWindowLimiter(PartitionKey(context, keys), _ => new FixedWindowRateLimiterOptions
                    {
                        PermitLimit = permits,
                        Window = TimeSpan.FromMinutes(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    }));
        });
        return services;
    }

    public static void UseApiRateLimiting(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<RateLimitingOptions>>().Value.Enabled)
        {
            app.UseRateLimiter();
        }
    }

    /// <summary>A key that is not valid (or any key when auth is off) gets no partition of its own: guessing keys costs the guesser's address.</summary>
    private static string PartitionKey(HttpContext context, ApiKeyRing keys)
    {
        if (keys.Enabled && keys.IdentifyOrNull(context.Request.Headers[AuthOptions.HeaderName].ToString()) is { } key)
        {
            return "key:" + key;
        }

        return "ip:" + ClientNetwork(context.Connection.RemoteIpAddress);
    }

    private static string ClientNetwork(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return new IPAddress(bytes) + "/64";
        }

        return address.ToString();
    }

    private static async ValueTask WriteRejectionAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var wait = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromMinutes(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        var permits = context.RequestServices.GetRequiredService<IOptions<RateLimitingOptions>>().Value.PermitsPerMinute;
        await context.WriteProblemAsync(new Problem(ProblemTypes.RateLimited, "Too many requests", $"This client may send {permits} API requests per minute; retry after {seconds} s."));
    }
}
