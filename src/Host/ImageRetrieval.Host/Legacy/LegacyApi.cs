using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Host.Api;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.Retrieval.Contracts;
using ImageRetrieval.SharedKernel;
using ImageRetrieval.SharedKernel.Web;
using Mediator;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace ImageRetrieval.Host.Legacy;

/// <summary>
/// The routes of the old embedding, ingesting and retriever FastAPI services, so their clients keep
/// working. Each one sends the same mediator request as its <c>/api/v1</c> successor; only the
/// shapes differ (raw vector, URL list, top 5, FastAPI's error bodies).
/// </summary>
internal static partial class LegacyApi
{
    public const string Tag = "legacy";

    /// <summary>The old retriever always answered its best five.</summary>
    public const int SearchTopK = 5;

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

        legacy.MapPost("/embed", EmbedAsync)
            .RequireApiKey()
            .WithName("LegacyEmbed")
            .WithSummary("Embed an image (old embedding service)")
            .WithDescription("Deprecated: use `POST /api/v1/embeddings`. Answers the CLS vector of the uploaded `file` as the model produced it, not L2-normalised, as a bare array.")
            .AddOpenApiOperationTransformer(DescribeFileUpload)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        legacy.MapPost("/push_image", PushImageAsync)
            .RequireApiKey()
            .WithName("LegacyPushImage")
            .WithSummary("Store an image (old ingesting service)")
            .WithDescription("Deprecated: use `POST /api/v1/images`. Stores and indexes the uploaded `file`; `file_id` is the image id, `gcs_path` where the blob store keeps it, `signed_url` the same link as the v1 `url`.")
            .AddOpenApiOperationTransformer(DescribeFileUpload)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        legacy.MapPost("/search_image", SearchImageAsync)
            .RequireApiKey()
            .WithName("LegacySearchImage")
            .WithSummary("Search by image (old retriever service)")
            .WithDescription("Deprecated: use `POST /api/v1/search`. Answers the links of the five stored images most similar to the uploaded `file`, best first (`[]` when none).")
            .AddOpenApiOperationTransformer(DescribeFileUpload)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        legacy.MapGet("/healthz", () => TypedResults.Ok(LegacyHealthResponse.Healthy))
            .WithName("LegacyHealth")
            .WithSummary("Health (old services)")
            .WithDescription("Deprecated: use `GET /healthz/live` and `GET /healthz/ready`. Answers while the process runs, like the old services did.");

        LogMapped(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LegacyApi).FullName!));
        return app;
    }

    private static async Task<Results<Ok<float[]>, BadRequest<LegacyHttpError>, UnprocessableEntity<LegacyHttpValidationError>>> EmbedAsync(
        HttpRequest request, IMediator mediator, IOptions<ImageLimitsOptions> limits, CancellationToken cancellationToken)
    {
        var upload = await LegacyUpload.ReadAsync(request, limits.Value, cancellationToken);
        if (upload.Missing is { } missing)
        {
            return TypedResults.UnprocessableEntity(missing);
        }

        if (upload.Invalid is { } invalid)
        {
            return TypedResults.BadRequest(invalid);
        }

        // Normalize: false is the pooled vector as the model produced it, which is what the old /embed answered.
        var embedded = (await mediator.Send(new EmbedImages([upload.Image!], Normalize: false), cancellationToken)).Items[0];
        if (embedded.Rejection is { } rejection)
        {
            return LegacyUpload.IsImageRejection(rejection.Slug)
                ? TypedResults.BadRequest(new LegacyHttpError(rejection.Detail))
                : throw new ServiceProblemException(rejection.StatusCode, rejection.Slug, "Image rejected", rejection.Detail);
        }

        return TypedResults.Ok(embedded.Vector!);
    }

    private static async Task<Results<Ok<LegacyPushImageResponse>, BadRequest<LegacyHttpError>, UnprocessableEntity<LegacyHttpValidationError>>> PushImageAsync(
        HttpContext context, IMediator mediator, IOptions<ImageLimitsOptions> limits, IOptions<ServiceOptions> service, CancellationToken cancellationToken)
    {
        var upload = await LegacyUpload.ReadAsync(context.Request, limits.Value, cancellationToken);
        if (upload.Missing is { } missing)
        {
            return TypedResults.UnprocessableEntity(missing);
        }

        if (upload.Invalid is { } invalid)
        {
            return TypedResults.BadRequest(invalid);
        }

        var item = (await mediator.Send(new IngestImages([upload.Image!]), cancellationToken)).Items[0];
        if (item.Error is { } error)
        {
            return LegacyUpload.IsImageRejection(error.Type)
                ? TypedResults.BadRequest(new LegacyHttpError(error.Detail))
                : throw new ServiceProblemException(error.StatusCode, error.Type.Replace(ProblemTypes.Prefix, string.Empty, StringComparison.Ordinal), "Image not stored", error.Detail);
        }

        var image = item.Image!;
        return TypedResults.Ok(new LegacyPushImageResponse(
            LegacyPushImageResponse.Success, image.Id, image.BlobLocation, ImageLinks.For(context, image.Id, image.SignedUrl, service.Value.PublicBaseUrl)));
    }

    private static async Task<Results<Ok<IReadOnlyList<string>>, BadRequest<LegacyHttpError>, UnprocessableEntity<LegacyHttpValidationError>>> SearchImageAsync(
        HttpContext context, IMediator mediator, IOptions<ImageLimitsOptions> limits, IOptions<ServiceOptions> service, CancellationToken cancellationToken)
    {
        var upload = await LegacyUpload.ReadAsync(context.Request, limits.Value, cancellationToken);
        if (upload.Missing is { } missing)
        {
            return TypedResults.UnprocessableEntity(missing);
        }

        if (upload.Invalid is { } invalid)
        {
            return TypedResults.BadRequest(invalid);
        }

        Retrieval.Contracts.SearchResult result;
        try
        {
            result = await mediator.Send(new SearchByImage(upload.Image!, SearchTopK), cancellationToken);
        }
        catch (ServiceProblemException ex) when (LegacyUpload.IsImageRejection(ex.Slug))
        {
            return TypedResults.BadRequest(new LegacyHttpError(ex.Message));
        }

        IReadOnlyList<string> urls = result.Results
            .Select(hit => ImageLinks.For(context, hit.Image.Id, hit.Image.SignedUrl, service.Value.PublicBaseUrl))
            .ToList();
        return TypedResults.Ok(urls);
    }

    /// <summary>The handlers read the form themselves (to answer FastAPI's 422 rather than a 415), so the body is described here: one required binary part `file`.</summary>
    private static Task DescribeFileUpload(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["multipart/form-data"] = new()
                {
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Properties = new Dictionary<string, IOpenApiSchema>
                        {
                            [LegacyUpload.FileField] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary", Description = "The image (JPEG, PNG, WebP, GIF, TIFF or HEIF)." },
                        },
                        Required = new HashSet<string> { LegacyUpload.FileField },
                    },
                },
            },
        };
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Legacy API enabled: POST /embed, POST /push_image, POST /search_image, GET /healthz (deprecated; use /api/v1)")]
    private static partial void LogMapped(ILogger logger);
}
