using System.Security.Cryptography;
using System.Text;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

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

internal static class ApiKeys
{
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(ApiKeyRequired.Instance);

    public static IServiceCollection AddApiKeys(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.Section));
        return services;
    }

    /// <summary>Runs after routing, before the endpoint binds its body, so an unauthenticated upload is refused unread.</summary>
    public static void UseApiKeys(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<AuthOptions>>().Value;
        if (!options.Enabled)
        {
            return;
        }

        var keys = options.ApiKeys.Where(k => !string.IsNullOrWhiteSpace(k)).Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k))).ToList();
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<ApiKeyRequired>() is null || IsValid(context.Request.Headers[AuthOptions.HeaderName].ToString(), keys))
            {
                await next(context);
                return;
            }

            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = $"ApiKey header=\"{AuthOptions.HeaderName}\"";
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status401Unauthorized,
                    Type = ProblemTypes.Uri("unauthorized"),
                    Title = "API key required",
                    Detail = $"Send a valid key in the {AuthOptions.HeaderName} header.",
                },
            });
        });
    }

    // Hashing both sides gives equal-length inputs, so the comparison time says nothing about the key.
    private static bool IsValid(string presented, List<byte[]> keys)
    {
        if (presented.Length == 0)
        {
            return false;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var valid = false;
        foreach (var key in keys)
        {
            valid |= CryptographicOperations.FixedTimeEquals(hash, key);
        }

        return valid;
    }
}
