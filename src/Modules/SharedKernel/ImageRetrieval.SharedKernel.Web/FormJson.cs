using System.Text;
using System.Text.Json;

namespace ImageRetrieval.SharedKernel.Web;

public static class FormJson
{
    /// <summary>
    /// Parses a multipart or query field that carries a JSON object within
    /// <see cref="ImageLimitsOptions"/>' bounds (size, nesting, string length), refusing what a
    /// lenient parser would quietly accept: duplicate keys (which one wins differs between stores)
    /// and numbers that overflow to infinity such as <c>1e400</c>. Anything else is a 400 naming the field.
    /// </summary>
    public static JsonElement? ParseObject(string? value, string field, ImageLimitsOptions limits)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var utf8 = Encoding.UTF8.GetBytes(value);
        if (utf8.Length > limits.MaxMetadataBytes)
        {
            throw Invalid(field, $"{field} has {utf8.Length} bytes; the limit is {limits.MaxMetadataBytes} (ImageRetrieval:Limits:MaxMetadataBytes).");
        }

        try
        {
            if (FirstProblem(utf8, field, limits) is { } problem)
            {
                throw Invalid(field, problem);
            }

            using var document = JsonDocument.Parse(utf8);
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? document.RootElement.Clone()
                : throw Invalid(field, $"{field} must be a JSON object.");
        }
        catch (JsonException ex)
        {
            throw Invalid(field, $"{field} is not valid JSON: {ex.Message}");
        }
    }

    /// <summary>One forward pass over the tokens, so a hostile document costs no more than its (bounded) length.</summary>
    private static string? FirstProblem(ReadOnlySpan<byte> utf8, string field, ImageLimitsOptions limits)
    {
        // The reader's own depth limit sits one above ours, so our message (naming the limit) wins.
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = limits.MaxJsonDepth + 1 });
        var keys = new Stack<HashSet<string>?>();
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    if (reader.CurrentDepth + 1 > limits.MaxJsonDepth)
                    {
                        return $"{field} is nested deeper than {limits.MaxJsonDepth} levels (ImageRetrieval:Limits:MaxJsonDepth).";
                    }

                    keys.Push(reader.TokenType == JsonTokenType.StartObject ? new HashSet<string>(StringComparer.Ordinal) : null);
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    keys.Pop();
                    break;
                case JsonTokenType.PropertyName:
                    var name = reader.GetString()!;
                    if (name.Length > limits.MaxMetadataStringLength)
                    {
                        return $"{field} has a key longer than {limits.MaxMetadataStringLength} characters.";
                    }

                    if (keys.Peek() is { } seen && !seen.Add(name))
                    {
                        return $"{field} has the key '{Shorten(name)}' more than once.";
                    }

                    break;
                case JsonTokenType.Number:
                    if (!reader.TryGetDouble(out var number) || !double.IsFinite(number))
                    {
                        return $"{field} has a number that is not a finite double: {Shorten(Encoding.UTF8.GetString(reader.ValueSpan))}.";
                    }

                    break;
            }
        }

        return null;
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "...";

    private static ServiceProblemException Invalid(string field, string message) => new(Problem.InvalidField(field, message));
}
