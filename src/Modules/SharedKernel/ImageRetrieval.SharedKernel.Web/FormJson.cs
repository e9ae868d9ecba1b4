using System.Text.Json;

namespace ImageRetrieval.SharedKernel.Web;

public static class FormJson
{
    /// <summary>Parses a multipart or query field that carries a JSON object; anything else is a 400 naming the field.</summary>
    public static JsonElement? ParseObject(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(value);
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? document.RootElement.Clone()
                : throw Invalid(field, $"{field} must be a JSON object.");
        }
        catch (JsonException ex)
        {
            throw Invalid(field, $"{field} is not valid JSON: {ex.Message}");
        }
    }

    private static ServiceProblemException Invalid(string field, string message) =>
        new(400, ProblemTypes.Validation, "The request is invalid", message)
        {
            Extensions = new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { [field] = [message] } },
        };
}
