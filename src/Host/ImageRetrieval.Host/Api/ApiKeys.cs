using System.Security.Cryptography;
using System.Text;

namespace ImageRetrieval.Host.Api;

/// <summary><c>ImageRetrieval:Auth</c>: with no keys the API is anonymous; with keys every API call needs one.</summary>
internal sealed class AuthOptions
{
    public const string Section = "ImageRetrieval:Auth";
    public const string HeaderName = "X-Api-Key";

    public List<string> ApiKeys { get; set; } = [];

    public bool Enabled => ApiKeys.Any(k => !string.IsNullOrWhiteSpace(k));
}

/// <summary>Marks endpoints that need an API key when keys are configured (health, metrics and docs never do).</summary>
internal sealed class ApiKeyRequired
{
    public static readonly ApiKeyRequired Instance = new();
}

/// <summary>The configured keys, hashed once; shared by the key check and the rate limiter's partitioning.</summary>
internal sealed class ApiKeyRing(IOptions<AuthOptions> options)
{
    private readonly List<byte[]> _keys = options.Value.ApiKeys.Where(k => !string.IsNullOrWhiteSpace(k)).Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k))).ToList();

    public bool Enabled => _keys.Count > 0;

    /// <summary>A stable, non-secret name for a valid presented key (a hash prefix), or null when it is not one of ours.</summary>
    public string? IdentifyOrNull(string presented)
    {
        if (presented.Length == 0 || _keys.Count == 0)
        {
            return null;
        }

        // Hashing both sides gives equal-length inputs, so the comparison time says nothing about the key.
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var valid = false;
        foreach (var key in _keys)
        {
            valid |= CryptographicOperations.FixedTimeEquals(hash, key);
        }

        return valid ? Convert.ToHexStringLower(hash.AsSpan(0, 8)) : null;
    }
}

internal static partial class ApiKeys
{
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(ApiKeyRequired.Instance);

    public static IServiceCollection AddApiKeys(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.Section));
        services.AddSingleton<ApiKeyRing>();
        return services;
    }

    /// <summary>Runs after routing, before the endpoint binds its body, so an unauthenticated upload is refused unread.</summary>
    public static void UseApiKeys(this WebApplication app)
    {
        var keys = app.Services.GetRequiredService<ApiKeyRing>();
        if (!keys.Enabled)
        {
            if (!app.Environment.IsDevelopment())
            {
                LogApiOpen(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ApiKeys).FullName!));
            }

            return;
        }

        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<ApiKeyRequired>() is null || keys.IdentifyOrNull(context.Request.Headers[AuthOptions.HeaderName].ToString()) is not null)
            {
                await next(context);
                return;
            }

            context.Response.Headers.WWWAuthenticate = $"ApiKey header=\"{AuthOptions.HeaderName}\"";
            await context.WriteProblemAsync(new Problem(ProblemTypes.Unauthorized, "API key required", $"Send a valid key in the {AuthOptions.HeaderName} header."));
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No API keys are configured (ImageRetrieval:Auth:ApiKeys): the API is open to anyone who can reach it")]
    private static partial void LogApiOpen(ILogger logger);
}
