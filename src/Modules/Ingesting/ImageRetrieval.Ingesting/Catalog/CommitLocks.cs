namespace ImageRetrieval.Ingesting.Catalog;

/// <summary>
/// Striped locks by image id, taken in stripe order so two requests never wait on each other in a cycle.
/// Ingest holds them around its last check and the vector upsert, delete around removing the vector and
/// the blob, so the two never interleave on one image (in this process).
/// </summary>
internal static class CommitLocks
{
    private static readonly SemaphoreSlim[] Stripes = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public static async Task<IDisposable> AcquireAsync(IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var held = new Held();
        var stripes = ids.Select(id => (int)((uint)StringComparer.Ordinal.GetHashCode(id) % (uint)Stripes.Length)).Distinct().Order();
        foreach (var stripe in stripes)
        {
            try
            {
                await Stripes[stripe].WaitAsync(cancellationToken);
            }
            catch
            {
                held.Dispose();
                throw;
            }

            held.Taken.Add(Stripes[stripe]);
        }

        return held;
    }

    private sealed class Held : IDisposable
    {
        public List<SemaphoreSlim> Taken { get; } = [];

        public void Dispose()
        {
            foreach (var stripe in Taken)
            {
                stripe.Release();
            }

            Taken.Clear();
        }
    }
}
