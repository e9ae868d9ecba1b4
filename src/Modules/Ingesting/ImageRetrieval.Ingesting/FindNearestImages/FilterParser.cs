using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Ingesting.FindNearestImages;

/// <summary>
/// Parses the API's filter object, a subset of Pinecone's filter language that Qdrant also expresses:
/// <c>{"field": value}</c> or <c>{"field": {"$eq": value}}</c> for equality, <c>{"field": {"$in": [values]}}</c>
/// for membership; several fields must all match. Values are strings, numbers or booleans.
/// </summary>
internal static class FilterParser
{
    public const int MaxConditions = 16;

    /// <summary>A FluentValidation custom rule: the filter must parse.</summary>
    public static void Validate<T>(JsonElement? filter, FluentValidation.ValidationContext<T> context, ImageLimitsOptions limits)
    {
        Parse(filter, limits, out var error);
        if (error is not null)
        {
            context.AddFailure("filter", error);
        }
    }

    public static MetadataFilter? Parse(JsonElement? filter, ImageLimitsOptions limits, out string? error)
    {
        error = null;
        if (filter is not { } root || root.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return null;
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            error = "filter must be a JSON object of field conditions.";
            return null;
        }

        var conditions = new List<FieldCondition>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                error = $"filter has the field '{property.Name}' more than once.";
                return null;
            }

            if (seen.Count > MaxConditions)
            {
                error = $"filter may have at most {MaxConditions} fields.";
                return null;
            }

            var values = ParseCondition(property.Name, property.Value, limits, out error);
            if (values is null)
            {
                return null;
            }

            conditions.Add(new FieldCondition(property.Name, values));
        }

        return conditions.Count == 0 ? null : new MetadataFilter(conditions);
    }

    private static List<JsonElement>? ParseCondition(string field, JsonElement value, ImageLimitsOptions limits, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(field) || field.StartsWith('$'))
        {
            error = $"filter field '{field}' is not a metadata field name (operators go inside a field: {{\"field\": {{\"$in\": [...]}}}}).";
            return null;
        }

        if (field.Length > limits.MaxMetadataStringLength)
        {
            error = $"filter has a field name longer than {limits.MaxMetadataStringLength} characters.";
            return null;
        }

        if (IsScalar(value, limits))
        {
            return [value.Clone()];
        }

        if (value.ValueKind == JsonValueKind.Object && value.EnumerateObject().Count() == 1)
        {
            var op = value.EnumerateObject().Single();
            if (op.Name == "$eq" && IsScalar(op.Value, limits))
            {
                return [op.Value.Clone()];
            }

            if (op.Name == "$in" && op.Value.ValueKind == JsonValueKind.Array && op.Value.GetArrayLength() > 0 && op.Value.GetArrayLength() <= limits.MaxMetadataArrayLength
                && op.Value.EnumerateArray().All(v => IsScalar(v, limits)))
            {
                return op.Value.EnumerateArray().Select(v => v.Clone()).ToList();
            }
        }

        error = $"filter on '{field}' must be a string (at most {limits.MaxMetadataStringLength} characters), finite number or boolean, {{\"$eq\": value}} or {{\"$in\": [1-{limits.MaxMetadataArrayLength} values]}}.";
        return null;
    }

    private static bool IsScalar(JsonElement value, ImageLimitsOptions limits) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!.Length <= limits.MaxMetadataStringLength,
        JsonValueKind.Number => value.TryGetDouble(out var number) && double.IsFinite(number),
        JsonValueKind.True or JsonValueKind.False => true,
        _ => false,
    };
}
