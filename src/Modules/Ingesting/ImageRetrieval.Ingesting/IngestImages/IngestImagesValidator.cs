using System.Text.Json;
using FluentValidation;
using ImageRetrieval.Ingesting.Catalog;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.IngestImages;

internal sealed class IngestImagesValidator : AbstractValidator<Contracts.IngestImages>
{
    public const int MaxMetadataKeyLength = 64;

    public IngestImagesValidator(IOptions<ImageLimitsOptions> limits)
    {
        RuleFor(r => r.Images).NotEmpty().OverridePropertyName("files").WithMessage("Send at least one image in the 'files' field.");
        RuleFor(r => r.Images.Count).LessThanOrEqualTo(limits.Value.MaxFilesPerRequest).OverridePropertyName("files")
            .WithMessage($"At most {limits.Value.MaxFilesPerRequest} files per request.");
        RuleFor(r => r.Metadata).Custom((metadata, context) =>
        {
            foreach (var problem in MetadataProblems(metadata, limits.Value))
            {
                context.AddFailure("metadata", problem);
            }
        });
    }

    /// <summary>
    /// Metadata is flat (what Pinecone metadata and Qdrant payload filters both support), may not use
    /// the reserved '_' prefix, and is bounded by <c>ImageRetrieval:Limits</c> whichever way it arrived.
    /// </summary>
    public static IEnumerable<string> MetadataProblems(IReadOnlyDictionary<string, JsonElement>? metadata, ImageLimitsOptions limits)
    {
        if (metadata is null)
        {
            yield break;
        }

        if (metadata.Count > limits.MaxMetadataKeys)
        {
            yield return $"At most {limits.MaxMetadataKeys} metadata keys (ImageRetrieval:Limits:MaxMetadataKeys).";
            yield break;
        }

        var size = JsonSerializer.SerializeToUtf8Bytes(metadata).Length;
        if (size > limits.MaxMetadataBytes)
        {
            yield return $"Metadata is {size} bytes serialised; the limit is {limits.MaxMetadataBytes} (ImageRetrieval:Limits:MaxMetadataBytes).";
        }

        foreach (var (key, value) in metadata)
        {
            var shown = key.Length <= MaxMetadataKeyLength ? key : key[..MaxMetadataKeyLength] + "...";
            if (string.IsNullOrWhiteSpace(key) || key.Length > MaxMetadataKeyLength || key.StartsWith(StoredImage.ReservedPrefix, StringComparison.Ordinal) || key.StartsWith('$'))
            {
                yield return $"Metadata key '{shown}' must be 1-{MaxMetadataKeyLength} characters and not start with '_' or '$'.";
            }

            var valid = value.ValueKind switch
            {
                JsonValueKind.String => value.GetString()!.Length <= limits.MaxMetadataStringLength,
                JsonValueKind.Number => value.TryGetDouble(out var number) && double.IsFinite(number),
                JsonValueKind.True or JsonValueKind.False => true,
                JsonValueKind.Array => value.GetArrayLength() <= limits.MaxMetadataArrayLength
                    && value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String && e.GetString()!.Length <= limits.MaxMetadataStringLength),
                _ => false,
            };
            if (!valid)
            {
                yield return $"Metadata '{shown}' must be a string (at most {limits.MaxMetadataStringLength} characters), a finite number, a boolean or an array of at most {limits.MaxMetadataArrayLength} such strings.";
            }
        }
    }
}
