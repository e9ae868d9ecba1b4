using System.Buffers;
using System.Text.Json;
using Google.Protobuf.Collections;
using Qdrant.Client.Grpc;

namespace ImageRetrieval.Infrastructure.VectorStores.Qdrant;

/// <summary>
/// Our JSON metadata as Qdrant payload values and back. An integral JSON number is an
/// <c>integer_value</c> (so <c>match.integer</c> filters find it), any other number a
/// <c>double_value</c>; arrays and objects nest as list and struct values.
/// </summary>
internal static class QdrantPayload
{
    public static Value ToValue(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => new Value { StringValue = element.GetString() },
        JsonValueKind.Number when element.TryGetInt64(out var integer) => new Value { IntegerValue = integer },
        JsonValueKind.Number => new Value { DoubleValue = element.GetDouble() },
        JsonValueKind.True => new Value { BoolValue = true },
        JsonValueKind.False => new Value { BoolValue = false },
        JsonValueKind.Array => List(element),
        JsonValueKind.Object => Struct(element),
        _ => new Value { NullValue = NullValue.NullValue },
    };

    public static JsonElement ToJson(Value value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, value);
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    public static Dictionary<string, JsonElement> ToMetadata(MapField<string, Value> payload, string skipKey)
    {
        var metadata = new Dictionary<string, JsonElement>(payload.Count, StringComparer.Ordinal);
        foreach (var (key, value) in payload)
        {
            if (key != skipKey)
            {
                metadata[key] = ToJson(value);
            }
        }

        return metadata;
    }

    private static Value List(JsonElement array)
    {
        var list = new ListValue();
        foreach (var item in array.EnumerateArray())
        {
            list.Values.Add(ToValue(item));
        }

        return new Value { ListValue = list };
    }

    private static Value Struct(JsonElement obj)
    {
        var fields = new Struct();
        foreach (var property in obj.EnumerateObject())
        {
            fields.Fields[property.Name] = ToValue(property.Value);
        }

        return new Value { StructValue = fields };
    }

    private static void Write(Utf8JsonWriter writer, Value value)
    {
        switch (value.KindCase)
        {
            case Value.KindOneofCase.StringValue:
                writer.WriteStringValue(value.StringValue);
                break;
            case Value.KindOneofCase.IntegerValue:
                writer.WriteNumberValue(value.IntegerValue);
                break;
            case Value.KindOneofCase.DoubleValue:
                writer.WriteNumberValue(value.DoubleValue);
                break;
            case Value.KindOneofCase.BoolValue:
                writer.WriteBooleanValue(value.BoolValue);
                break;
            case Value.KindOneofCase.ListValue:
                writer.WriteStartArray();
                foreach (var item in value.ListValue.Values)
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            case Value.KindOneofCase.StructValue:
                writer.WriteStartObject();
                foreach (var (key, field) in value.StructValue.Fields)
                {
                    writer.WritePropertyName(key);
                    Write(writer, field);
                }

                writer.WriteEndObject();
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }
}
