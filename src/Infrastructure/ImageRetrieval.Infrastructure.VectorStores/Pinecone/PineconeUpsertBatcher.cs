using System.Text.Json;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.VectorStores.Pinecone;

/// <summary>
/// Splits an upsert into request bodies that respect both of Pinecone's limits: at most 1000 vectors
/// and at most 2 MB per request. Each vector is serialised once and its bytes measured, so the limit
/// holds exactly rather than by an estimate.
/// </summary>
internal static class PineconeUpsertBatcher
{
    public static IEnumerable<byte[]> Batches(IReadOnlyList<VectorRecord> records, string? ns, int maxVectors, int maxBytes)
    {
        var envelope = Envelope([], ns).Length;
        var batch = new List<byte[]>();
        var size = envelope;
        foreach (var record in records)
        {
            var item = JsonSerializer.SerializeToUtf8Bytes(
                new PineconeVector
                {
                    Id = record.Id,
                    Values = record.Vector.ToArray(),
                    Metadata = record.Metadata.Count == 0 ? null : new Dictionary<string, JsonElement>(record.Metadata, StringComparer.Ordinal),
                },
                PineconeJsonContext.Default.PineconeVector);
            if (envelope + item.Length > maxBytes)
            {
                throw new ArgumentException($"Record '{record.Id}' alone is {item.Length} bytes, over Pinecone's {maxBytes}-byte request limit; shrink its metadata.", nameof(records));
            }

            var separator = batch.Count == 0 ? 0 : 1;
            if (batch.Count == maxVectors || size + separator + item.Length > maxBytes)
            {
                yield return Envelope(batch, ns);
                batch.Clear();
                size = envelope;
                separator = 0;
            }

            batch.Add(item);
            size += separator + item.Length;
        }

        if (batch.Count > 0)
        {
            yield return Envelope(batch, ns);
        }
    }

    /// <summary><c>{"vectors":[...],"namespace":"ns"}</c> around already serialised vectors.</summary>
    private static byte[] Envelope(List<byte[]> items, string? ns)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("vectors");
            foreach (var item in items)
            {
                writer.WriteRawValue(item, skipInputValidation: true);
            }

            writer.WriteEndArray();
            if (ns is not null)
            {
                writer.WriteString("namespace", ns);
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
