using System.Globalization;
using ImageRetrieval.Infrastructure.VectorStores;

namespace ImageRetrieval.Host.Cli;

/// <summary><c>compact</c>: copy the Local store's live vectors into a new segment file and switch to it.</summary>
internal static class CompactCommand
{
    public static async Task<int> RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var result = await VectorStoreMaintenance.CompactAsync(services, cancellationToken);
        if (result is null)
        {
            Console.WriteLine("nothing to compact: the vector store is not Local or its collection does not exist yet");
            return 0;
        }

        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"compacted {result.Collection}: {result.Rows} rows, {result.SlotsBefore} -> {result.SlotsAfter} slots, {result.BytesBefore >> 20} -> {result.BytesAfter >> 20} MiB of vectors in {result.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }
}
