using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Retrieval.Filters;

/// <summary>
/// Parses the API's filter object, a subset of Pinecone's filter language that Qdrant also expresses:
/// <c>{"field": value}</c> or <c>{"field": {"$eq": value}}</c> for equality, <c>{"field": {"$in": [values]}}</c>
/// for membership; several fields must all match. Values are strings, numbers or booleans.
/// </summary>
internal static class FilterParser
{
    public const int MaxConditions = 16;

    /// <summary>A FluentValidation custom rule: the filter must parse.</summary>
    public static void Validate<T>(JsonElement? filter, FluentValidation.ValidationContext<T> context)
    {
        Parse(filter, out var error);
        if (error is not null)
        {
            context.AddFailure("filter", error);
        }
    }

    public static MetadataFilter? Parse(JsonElement? filter, out string? error)
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
        foreach (var property in root.EnumerateObject())
        {
            var values = ParseCondition(property.Name, property.Value, out error);
            if (values is null)
            {
                return null;
            }

            conditions.Add(new FieldCondition(property.Name, values));
        }

        if (conditions.Count > MaxConditions)
        {
            error = $"filter may have at most {MaxConditions} fields.";
            return null;
        }

        return conditions.Count == 0 ? null : new MetadataFilter(conditions);
    }

    private static List<JsonElement>? ParseCondition(string field, JsonElement value, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(field) || field.StartsWith('$'))
        {
            error = $"filter field '{field}' is not a metadata field name (operators go inside a field: {{\"field\": {{\"$in\": [...]}}}}).";
            return null;
        }

        if (IsScalar(value))
        {
            return [value.Clone()];
        }

        if (value.ValueKind == JsonValueKind.Object && value.EnumerateObject().Count() == 1)
        {
            var op = value.EnumerateObject().Single();
            if (op.Name == "$eq" && IsScalar(op.Value))
            {
                return [op.Value.Clone()];
            }

            if (op.Name == "$in" && op.Value.ValueKind == JsonValueKind.Array && op.Value.GetArrayLength() is > 0 and <= 100
                && op.Value.EnumerateArray().All(IsScalar))
            {
                return op.Value.EnumerateArray().Select(v => v.Clone()).ToList();
            }
        }

        error = $"filter on '{field}' must be a string, number or boolean, {{\"$eq\": value}} or {{\"$in\": [1-100 values]}}.";
        return null;
    }

    private static bool IsScalar(JsonElement value) =>
        value.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False;
}
