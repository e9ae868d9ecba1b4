using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Ingesting.Contracts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.IngestImages;

/// <summary>One file of an ingest: the stored image (and whether this request created it) or why it was refused.</summary>
internal sealed record IngestItemResponse(string FileName, bool Created, ImageResponse? Image, FileError? Error);

/// <summary>A refused file's problem as its item states it (type, status, detail).</summary>
internal sealed record FileError(string Type, int Status, string Detail)
{
    public static FileError From(Problem problem) => new(problem.Type, problem.Status, problem.Detail);
}

internal sealed record IngestResponse(IReadOnlyList<IngestItemResponse> Items);

internal static class IngestImagesEndpoint
{
    public static void MapIngestImages(this RouteGroupBuilder images) =>
        images.MapPost("/", IngestAsync)
            .Documented("IngestImages", "Ingest images", problems: [400, 409, 413, 415, 422, 503])
            .WithDescription("Stores each file in `files` and indexes its embedding. `metadata` (a JSON object of strings, numbers, booleans or string arrays) is attached to every file. Bytes already stored return the existing image with `created: false`. A bad file is reported in its item without failing the others; only when every file fails is the answer a problem.")
            .Accepts<IFormFileCollection>("multipart/form-data");

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
        var reads = await FormFileReader.ReadEachAsync(files.GetFiles("files"), limits.Value, cancellationToken);
        var uploads = reads.Where(r => r.Upload is not null).Select(r => r.Upload!).ToList();

        // Files refused while reading (too large) keep their place among the others' outcomes.
        IReadOnlyList<IngestedImage> ingested = uploads.Count > 0 || uploads.Count == reads.Count
            ? (await mediator.Send(new Contracts.IngestImages(uploads, parsed), cancellationToken)).Items
            : [];
        var next = 0;
        var outcomes = reads.Select(read => read.Refusal is { } refused ? new IngestedImage(read.FileName, null, false, refused) : ingested[next++]).ToList();
        var items = outcomes.Select(item => new IngestItemResponse(item.FileName, item.Created,
            item.Image is null ? null : ImageResponse.From(item.Image, context, service.Value.PublicBaseUrl),
            item.Error is null ? null : FileError.From(item.Error))).ToList();

        if (outcomes.Count > 0 && outcomes.All(i => i.Error is not null))
        {
            var first = outcomes[0];
            return new Problem(first.Error!.Slug, "No file could be ingested", $"'{first.FileName}': {first.Error.Detail}")
            {
                Extensions = new Dictionary<string, object?> { ["items"] = items },
            }.ToResult();
        }

        return TypedResults.Ok(new IngestResponse(items));
    }
}
