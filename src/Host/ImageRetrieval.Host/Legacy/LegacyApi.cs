using ImageRetrieval.Host.Api;

namespace ImageRetrieval.Host.Legacy;

/// <summary>
/// The routes of the old embedding, ingesting and retriever FastAPI services, so their clients keep
/// working. Each one sends the same mediator request as its <c>/api/v1</c> successor; only the
/// shapes differ (raw vector, URL list, top 5, FastAPI's error bodies).
/// </summary>
internal static partial class LegacyApi
{
    public const string Tag = "legacy";

    /// <summary>Maps the routes when <c>ImageRetrieval:LegacyApi:Enabled</c> is true; otherwise they do not exist.</summary>
    public static WebApplication MapLegacyApi(this WebApplication app)
    {
        var options = app.Configuration.GetSection(LegacyApiOptions.Section).Get<LegacyApiOptions>() ?? new LegacyApiOptions();
        if (!options.Enabled)
        {
            return app;
        }

        var legacy = app.MapGroup(string.Empty)
            .WithTags(Tag)
            .DisableAntiforgery()
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.Deprecated = true;
                return Task.CompletedTask;
            });

        legacy.MapPost("/embed", LegacyEmbedEndpoint.HandleAsync)
            .RequireApiKey()
            .Documented("LegacyEmbed", "Embed an image (old embedding service)", problems: [413, 503])
            .WithDescription("Deprecated: use `POST /api/v1/embeddings`. Answers the CLS vector of the uploaded `file` as the model produced it, not L2-normalised, as a bare array.")
            .AddOpenApiOperationTransformer(LegacyUploadSchema.DescribeFileUpload);

        legacy.MapPost("/push_image", LegacyPushImageEndpoint.HandleAsync)
            .RequireApiKey()
            .Documented("LegacyPushImage", "Store an image (old ingesting service)", problems: [409, 413, 503])
            .WithDescription("Deprecated: use `POST /api/v1/images`. Stores and indexes the uploaded `file`; `file_id` is the image id, `gcs_path` where the blob store keeps it, `signed_url` the same link as the v1 `url`.")
            .AddOpenApiOperationTransformer(LegacyUploadSchema.DescribeFileUpload);

        legacy.MapPost("/search_image", LegacySearchImageEndpoint.HandleAsync)
            .RequireApiKey()
            .Documented("LegacySearchImage", "Search by image (old retriever service)", problems: [409, 413, 503])
            .WithDescription("Deprecated: use `POST /api/v1/search`. Answers the links of the five stored images most similar to the uploaded `file`, best first (`[]` when none).")
            .AddOpenApiOperationTransformer(LegacyUploadSchema.DescribeFileUpload);

        legacy.MapGet("/healthz", () => TypedResults.Ok(LegacyHealthResponse.Healthy))
            .WithName("LegacyHealth")
            .WithSummary("Health (old services)")
            .WithDescription("Deprecated: use `GET /healthz/live` and `GET /healthz/ready`. Answers while the process runs, like the old services did.");

        LogMapped(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LegacyApi).FullName!));
        return app;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Legacy API enabled: POST /embed, POST /push_image, POST /search_image, GET /healthz (deprecated; use /api/v1)")]
    private static partial void LogMapped(ILogger logger);
}
