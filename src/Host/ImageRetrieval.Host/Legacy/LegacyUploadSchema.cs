using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ImageRetrieval.Host.Legacy;

/// <summary>The hand-written OpenAPI request body of the legacy upload routes.</summary>
internal static class LegacyUploadSchema
{
    /// <summary>The handlers read the form themselves (to answer FastAPI's 422 rather than a 415), so the body is described here: one required binary part `file`.</summary>
    public static Task DescribeFileUpload(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
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
}
