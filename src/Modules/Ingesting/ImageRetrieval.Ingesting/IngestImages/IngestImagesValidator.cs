using System.Text.Json;
using FluentValidation;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Ingesting.IngestImages;

internal sealed class IngestImagesValidator : AbstractValidator<Contracts.IngestImages>
{
    public const int MaxMetadataKeys = 64;
    public const int MaxMetadataValueLength = 1024;

    public IngestImagesValidator(IOptions<ImageLimitsOptions> limits)
    {
        RuleFor(r => r.Images).NotEmpty().OverridePropertyName("files").WithMessage("Send at least one image in the 'files' field.");
        RuleFor(r => r.Images.Count).LessThanOrEqualTo(limits.Value.MaxFilesPerRequest).OverridePropertyName("files")
            .WithMessage($"At most {limits.Value.MaxFilesPerRequest} files per request.");
        RuleFor(r => r.Metadata).Custom((metadata, context) =>
        {
            foreach (var problem in MetadataProblems(metadata))
            {
                context.AddFailure("metadata", problem);
            }
        });
    }

    /// <summary>Metadata is flat (what Pinecone metadata and Qdrant payload filters both support) and may not use the reserved '_' prefix.</summary>
    public static IEnumerable<string> MetadataProblems(IReadOnlyDictionary<string, JsonElement>? metadata)
    {
        if (metadata is null)
        {
            yield break;
        }

        if (metadata.Count > MaxMetadataKeys)
        {
            yield return $"At most {MaxMetadataKeys} metadata keys.";
        }

        foreach (var (key, value) in metadata)
        {
            if (string.IsNullOrWhiteSpace(key) || key.Length > 64 || key.StartsWith(StoredImage.ReservedPrefix, StringComparison.Ordinal) || key.StartsWith('$'))
            {
                yield return $"Metadata key '{key}' must be 1-64 characters and not start with '_' or '$'.";
            }

            var valid = value.ValueKind switch
            {
                JsonValueKind.String => value.GetString()!.Length <= MaxMetadataValueLength,
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => true,
                JsonValueKind.Array => value.GetArrayLength() <= 100 && value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String),
                _ => false,
            };
            if (!valid)
            {
                yield return $"Metadata '{key}' must be a string (at most {MaxMetadataValueLength} characters), a number, a boolean or an array of strings.";
            }
        }
    }
}
