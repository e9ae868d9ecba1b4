using System.Text.Json;

namespace ImageRetrieval.Infrastructure.Abstractions;

/// <summary>
/// A conjunction of field conditions: equality on a string, number or bool, or membership in a set
/// of them. Both Pinecone (<c>$eq</c>, <c>$in</c>) and Qdrant (<c>match.value</c>, <c>match.any</c>) express it natively.
/// </summary>
public sealed record MetadataFilter(IReadOnlyList<FieldCondition> Conditions)
{
    public bool Matches(IReadOnlyDictionary<string, JsonElement> metadata)
    {
        foreach (var condition in Conditions)
        {
            if (!metadata.TryGetValue(condition.Field, out var value) || !condition.Matches(value))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>One field must equal one of <see cref="Values"/> (a single value means equality).</summary>
public sealed record FieldCondition(string Field, IReadOnlyList<JsonElement> Values)
{
    public bool IsEquality => Values.Count == 1;

    public bool Matches(JsonElement stored)
    {
        if (stored.ValueKind == JsonValueKind.Array)
        {
            // Like Pinecone and Qdrant: a list field matches when any element matches.
            foreach (var element in stored.EnumerateArray())
            {
                if (Matches(element))
                {
                    return true;
                }
            }

            return false;
        }

        foreach (var wanted in Values)
        {
            if (ScalarEquals(stored, wanted))
            {
                return true;
            }
        }

        return false;
    }

    private static bool ScalarEquals(JsonElement a, JsonElement b) => (a.ValueKind, b.ValueKind) switch
    {
        (JsonValueKind.String, JsonValueKind.String) => a.GetString() == b.GetString(),
        (JsonValueKind.Number, JsonValueKind.Number) => a.GetDouble().Equals(b.GetDouble()),
        (JsonValueKind.True, JsonValueKind.True) or (JsonValueKind.False, JsonValueKind.False) => true,
        _ => false,
    };
}
