using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;
using Qdrant.Client.Grpc;
using static Qdrant.Client.Grpc.Conditions;
using FieldCondition = ImageRetrieval.Infrastructure.Abstractions.FieldCondition;
using Range = Qdrant.Client.Grpc.Range;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>
/// Our conjunction of field conditions as a Qdrant filter: each condition is one <c>must</c> entry.
/// Equality on a string is <c>match.keyword</c>, on an integer <c>match.integer</c>, on a bool
/// <c>match.boolean</c>; a set of strings or integers is <c>match.keywords</c> / <c>match.integers</c>.
/// Qdrant's match has no float or mixed-type form, so a fractional number becomes a point <c>range</c>
/// and a mixed set a nested <c>should</c> of single conditions.
/// </summary>
internal static class QdrantFilterMapper
{
    public static Filter? ToFilter(MetadataFilter? filter, IReadOnlyList<PointId>? excludedPointIds)
    {
        var result = new Filter();
        foreach (var condition in filter?.Conditions ?? [])
        {
            result.Must.Add(ToCondition(condition));
        }

        if (excludedPointIds is { Count: > 0 })
        {
            result.MustNot.Add(new Condition { HasId = new HasIdCondition { HasId = { excludedPointIds } } });
        }

        return result.Must.Count == 0 && result.MustNot.Count == 0 ? null : result;
    }

    private static Condition ToCondition(FieldCondition condition)
    {
        if (condition.IsEquality)
        {
            return Single(condition.Field, condition.Values[0]);
        }

        if (condition.Values.All(v => v.ValueKind == JsonValueKind.String))
        {
            return Match(condition.Field, condition.Values.Select(v => v.GetString()!).ToList());
        }

        if (condition.Values.All(v => v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out _)))
        {
            return Match(condition.Field, condition.Values.Select(v => v.GetInt64()).ToList());
        }

        var should = new Filter();
        foreach (var value in condition.Values)
        {
            should.Should.Add(Single(condition.Field, value));
        }

        return new Condition { Filter = should };
    }

    private static Condition Single(string field, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => MatchKeyword(field, value.GetString()!),
        JsonValueKind.True => Match(field, true),
        JsonValueKind.False => Match(field, false),
        JsonValueKind.Number when value.TryGetInt64(out var integer) => Match(field, integer),
        JsonValueKind.Number => Range(field, new Range { Gte = value.GetDouble(), Lte = value.GetDouble() }),
        _ => throw new ArgumentException($"Filter on '{field}': only strings, numbers and booleans can be matched, not {value.ValueKind}.", nameof(value)),
    };
}
