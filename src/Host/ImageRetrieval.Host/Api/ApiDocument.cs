using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace ImageRetrieval.Host.Api;

/// <summary>
/// The OpenAPI document clients are generated from, so it has to describe every body and answer:
/// flat multipart schemas, one server URL, and a security requirement on every operation.
/// </summary>
internal static class ApiDocument
{
    public const string DocumentName = "v1";
    public const string ApiKeyScheme = "ApiKey";

    public static IServiceCollection AddApiDocument(this IServiceCollection services) =>
        services.AddOpenApi(DocumentName, options =>
        {
            options.AddDocumentTransformer<DocumentInfoTransformer>();
            options.AddOperationTransformer(MultipartSchemaFlattener.TransformAsync);
            options.AddOperationTransformer((operation, context, _) =>
            {
                // Every operation states its security: the API key where one is required and configured,
                // otherwise an empty requirement, which says "anonymous" explicitly.
                var auth = context.ApplicationServices.GetRequiredService<IOptions<AuthOptions>>().Value;
                var needsKey = auth.Enabled && context.Description.ActionDescriptor.EndpointMetadata.OfType<ApiKeyRequired>().Any();
                operation.Security = needsKey
                    ? [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, context.Document)] = [] }]
                    : [new OpenApiSecurityRequirement()];
                return Task.CompletedTask;
            });
            options.AddOperationTransformer(RateLimitResponse.TransformAsync);
        });

    public static void MapApiDocument(this WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json");
        // Everything the page needs comes from this origin (see Exposure.DocsContentSecurityPolicy):
        // no CDN fonts, no telemetry, no hosted agent or MCP, no request proxy.
        app.MapScalarApiReference("/docs", options => options
            .WithTitle("Image Retrieval API")
            .WithOpenApiRoutePattern("/openapi/{documentName}.json")
            .DisableDefaultFonts()
            .DisableTelemetry()
            .DisableAgent()
            .DisableMcp());
    }

    private sealed class DocumentInfoTransformer(IHttpContextAccessor accessor, IOptions<ServiceOptions> service, IOptions<AuthOptions> auth) : IOpenApiDocumentTransformer
    {
        public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
        {
            document.Info = new OpenApiInfo
            {
                Title = "Image Retrieval API",
                Version = "1.0.0",
                Description = "Reverse image search: ingest images, then search with an image to find the most similar stored ones. Errors are RFC 9457 problem documents with a stable `type`.",
                License = new OpenApiLicense { Name = "MIT", Identifier = "MIT" },
            };
            var descriptions = new Dictionary<string, string>
            {
                ["embeddings"] = "Vectors for images, from the configured vision model.",
                ["images"] = "Ingest, list, read and delete stored images.",
                ["search"] = "Find the stored images most similar to a query image.",
                ["legacy"] = "Drop-in routes of the old Python services; deprecated, off unless ImageRetrieval:LegacyApi:Enabled.",
            };
            foreach (var tag in document.Tags ?? new HashSet<OpenApiTag>())
            {
                if (tag.Name is { } name && descriptions.TryGetValue(name, out var description))
                {
                    tag.Description = description;
                }
            }

            if (auth.Value.Enabled)
            {
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[ApiKeyScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = AuthOptions.HeaderName,
                    Description = "One of the keys in ImageRetrieval:Auth:ApiKeys.",
                };
            }

            var request = accessor.HttpContext?.Request;
            var origin = service.Value.PublicBaseUrl ?? (request is null ? "http://localhost:8080" : $"{request.Scheme}://{request.Host}{request.PathBase}");
            document.Servers = [new OpenApiServer { Url = origin.TrimEnd('/'), Description = "This service" }];
            return Task.CompletedTask;
        }
    }
}

/// <summary>
/// With rate limiting on, every operation it applies to (those behind the API key check) declares the
/// 429 problem and its Retry-After header, borrowing the problem schema its other error answers use.
/// </summary>
internal static class RateLimitResponse
{
    public static Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var limiting = context.ApplicationServices.GetRequiredService<IOptions<RateLimitingOptions>>().Value;
        if (!limiting.Enabled || !context.Description.ActionDescriptor.EndpointMetadata.OfType<ApiKeyRequired>().Any() || operation.Responses is null)
        {
            return Task.CompletedTask;
        }

        var problem = operation.Responses.Values
            .Select(r => r.Content is { } c && c.TryGetValue("application/problem+json", out var media) ? media : null)
            .FirstOrDefault(m => m?.Schema is not null);
        var response = new OpenApiResponse
        {
            Description = "Too Many Requests: this client's requests per minute (ImageRetrieval:RateLimiting:PermitsPerMinute) are used up.",
            Headers = new Dictionary<string, IOpenApiHeader>
            {
                ["Retry-After"] = new OpenApiHeader
                {
                    Description = "Seconds until the client may send again.",
                    Required = true,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" },
                },
            },
        };
        if (problem is not null)
        {
            response.Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new OpenApiMediaType { Schema = problem.Schema } };
        }

        operation.Responses["429"] = response;
        return Task.CompletedTask;
    }
}

/// <summary>
/// With several form parameters ASP.NET Core describes a multipart body as an <c>allOf</c> of
/// one-property objects, which client generators cannot send; merge them into one object schema.
/// </summary>
internal static class MultipartSchemaFlattener
{
    public static Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (operation.RequestBody?.Content is not { } content || !content.TryGetValue("multipart/form-data", out var media) || media.Schema is not { } schema)
        {
            return Task.CompletedTask;
        }

        var flat = new OpenApiSchema { Type = JsonSchemaType.Object, Properties = new Dictionary<string, IOpenApiSchema>(), Required = new HashSet<string>() };
        Merge(schema, flat);
        media.Schema = flat;
        if (operation.RequestBody is OpenApiRequestBody body)
        {
            body.Required = true;
        }
        return Task.CompletedTask;
    }

    private static void Merge(IOpenApiSchema schema, OpenApiSchema into)
    {
        foreach (var part in schema.AllOf ?? [])
        {
            Merge(part, into);
        }

        foreach (var (name, property) in schema.Properties ?? new Dictionary<string, IOpenApiSchema>())
        {
            into.Properties![name] = property;
        }

        foreach (var name in schema.Required ?? new HashSet<string>())
        {
            into.Required!.Add(name);
        }
    }
}
