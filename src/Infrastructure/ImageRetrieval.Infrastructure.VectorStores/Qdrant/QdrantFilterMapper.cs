using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>
/// Our conjunction of field conditions as a Qdrant filter: each condition is one <c>must</c> entry.
/// Equality on a string, integer or bool is <c>match.value</c>; a set of strings or integers is
/// <c>match.any</c>. Qdrant's match has no float or mixed-type form, so a fractional number becomes a
/// point <c>range</c> and a mixed set a nested <c>should</c> of single conditions.
/// </summary>
internal static class QdrantFilterMapper
{
    public static QdrantFilter? ToFilter(MetadataFilter? filter, IReadOnlyList<string>? excludedPointIds)
    {
        var must = filter?.Conditions.Select(ToCondition).ToList();
        var mustNot = excludedPointIds is { Count: > 0 } ? new List<QdrantCondition> { new() { HasId = [.. excludedPointIds] } } : null;
        if (must is not { Count: > 0 } && mustNot is null)
        {
            return null;
        }

        return new QdrantFilter { Must = must is { Count: > 0 } ? must : null, MustNot = mustNot };
    }

    private static QdrantCondition ToCondition(FieldCondition condition)
    {
        if (condition.IsEquality)
        {
            return Single(condition.Field, condition.Values[0]);
        }

        var allStrings = condition.Values.All(v => v.ValueKind == JsonValueKind.String);
        var allIntegers = condition.Values.All(v => v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out _));
        if (allStrings || allIntegers)
        {
            return new QdrantCondition { Key = condition.Field, Match = new QdrantMatch { Any = [.. condition.Values] } };
        }

        return new QdrantCondition { Should = condition.Values.Select(v => Single(condition.Field, v)).ToList() };
    }

    private static QdrantCondition Single(string field, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String or JsonValueKind.True or JsonValueKind.False =>
            new QdrantCondition { Key = field, Match = new QdrantMatch { Value = value } },
        JsonValueKind.Number when value.TryGetInt64(out _) =>
            new QdrantCondition { Key = field, Match = new QdrantMatch { Value = value } },
        JsonValueKind.Number =>
            new QdrantCondition { Key = field, Range = new QdrantRange { Gte = value.GetDouble(), Lte = value.GetDouble() } },
        _ => throw new ArgumentException($"Filter on '{field}': only strings, numbers and booleans can be matched, not {value.ValueKind}.", nameof(value)),
    };
}
