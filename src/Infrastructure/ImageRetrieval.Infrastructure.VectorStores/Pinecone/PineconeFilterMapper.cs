using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Pinecone;

/// <summary>
/// Our conjunction of field conditions in Pinecone's metadata filter language: equality is
/// <c>{"f": {"$eq": v}}</c>, a set of strings or of numbers <c>{"f": {"$in": [...]}}</c> (Pinecone's
/// <c>$in</c> takes only those), any other set an <c>$or</c> of equalities; several conditions are
/// joined with <c>$and</c>. A list-of-strings field matches when any element does, as in Pinecone.
/// </summary>
internal static class PineconeFilterMapper
{
    public static JsonElement? ToFilter(MetadataFilter? filter)
    {
        if (filter is not { Conditions.Count: > 0 })
        {
            return null;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (filter.Conditions.Count == 1)
            {
                WriteCondition(writer, filter.Conditions[0]);
            }
            else
            {
                writer.WriteStartObject();
                writer.WriteStartArray("$and");
                foreach (var condition in filter.Conditions)
                {
                    WriteCondition(writer, condition);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }
        }

        return JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();
    }

    private static void WriteCondition(Utf8JsonWriter writer, FieldCondition condition)
    {
        foreach (var value in condition.Values)
        {
            if (value.ValueKind is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
            {
                throw new ArgumentException($"Filter on '{condition.Field}': only strings, numbers and booleans can be matched, not {value.ValueKind}.", nameof(condition));
            }
        }

        var sameKindSet = condition.Values.All(v => v.ValueKind == JsonValueKind.String) || condition.Values.All(v => v.ValueKind == JsonValueKind.Number);
        if (condition.IsEquality || !sameKindSet)
        {
            if (condition.IsEquality)
            {
                WriteEquality(writer, condition.Field, condition.Values[0]);
                return;
            }

            writer.WriteStartObject();
            writer.WriteStartArray("$or");
            foreach (var value in condition.Values)
            {
                WriteEquality(writer, condition.Field, value);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            return;
        }

        writer.WriteStartObject();
        writer.WriteStartObject(condition.Field);
        writer.WriteStartArray("$in");
        foreach (var value in condition.Values)
        {
            value.WriteTo(writer);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteEquality(Utf8JsonWriter writer, string field, JsonElement value)
    {
        writer.WriteStartObject();
        writer.WriteStartObject(field);
        writer.WritePropertyName("$eq");
        value.WriteTo(writer);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
