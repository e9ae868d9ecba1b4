using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;
using ImageRetrieval.SharedKernel;
using ImageRetrieval.SharedKernel.Web;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.IngestImages;

/// <summary>One file of an ingest: the stored image (and whether this request created it) or why it was refused.</summary>
internal sealed record IngestItemResponse(string FileName, bool Created, ImageResponse? Image, FileError? Error);

internal sealed record FileError(string Type, int Status, string Detail);

internal sealed record IngestResponse(IReadOnlyList<IngestItemResponse> Items);

internal static class IngestImagesEndpoint
{
    public static void MapIngestImages(this RouteGroupBuilder images) =>
        images.MapPost("/", IngestAsync)
            .WithName("IngestImages")
            .WithSummary("Ingest images")
            .WithDescription("Stores each file in `files` and indexes its embedding. `metadata` (a JSON object of strings, numbers, booleans or string arrays) is attached to every file. Bytes already stored return the existing image with `created: false`. A bad file is reported in its item without failing the others; only when every file fails is the answer a problem.")
            .Accepts<IFormFileCollection>("multipart/form-data")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static async Task<Results<Ok<IngestResponse>, ProblemHttpResult>> IngestAsync(
        IFormFileCollection files,
        [FromForm] string? metadata,
        HttpContext context,
        IMediator mediator,
        IOptions<ImageLimitsOptions> limits,
        IOptions<ServiceOptions> service,
        CancellationToken cancellationToken)
    {
        var parsed = FormJson.ParseObject(metadata, "metadata", limits.Value)?.EnumerateObject().ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
        var uploads = new List<ImageUpload>();
        var tooLarge = new Dictionary<int, FileError>();
        var fileList = files.GetFiles("files");
        for (var i = 0; i < fileList.Count; i++)
        {
            try
            {
                uploads.Add(await FormFileReader.ReadAsync(fileList[i], limits.Value, cancellationToken));
            }
            catch (ServiceProblemException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                tooLarge[i] = new FileError(ProblemTypes.Uri(ex.Slug), ex.StatusCode, ex.Message);
            }
        }

        var items = new List<IngestItemResponse>();
        IReadOnlyList<IngestedImage> ingested = uploads.Count > 0 || tooLarge.Count == 0
            ? (await mediator.Send(new Contracts.IngestImages(uploads, parsed), cancellationToken)).Items
            : [];
        var next = 0;
        for (var i = 0; i < fileList.Count; i++)
        {
            if (tooLarge.TryGetValue(i, out var error))
            {
                items.Add(new IngestItemResponse(Path.GetFileName(fileList[i].FileName), false, null, error));
                continue;
            }

            var item = ingested[next++];
            items.Add(new IngestItemResponse(item.FileName, item.Created,
                item.Image is null ? null : ImageResponse.From(item.Image, context, service.Value.PublicBaseUrl),
                item.Error is null ? null : new FileError(item.Error.Type, item.Error.StatusCode, item.Error.Detail)));
        }

        if (items.Count > 0 && items.All(i => i.Error is not null))
        {
            var first = items[0].Error!;
            return TypedResults.Problem(
                title: "No file could be ingested", detail: $"'{items[0].FileName}': {first.Detail}", statusCode: first.Status, type: first.Type,
                extensions: [new("items", items)]);
        }

        return TypedResults.Ok(new IngestResponse(items));
    }
}
