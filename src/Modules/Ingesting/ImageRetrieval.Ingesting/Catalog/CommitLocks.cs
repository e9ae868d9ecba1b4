namespace ImageRetrieval.Ingesting.Catalog;

/// <summary>
/// Striped locks by image id, taken in stripe order so two requests never wait on each other in a cycle.
/// Ingest holds them around its last check and the vector upsert, delete around removing the vector and
/// the blob, so the two never interleave on one image (in this process). One instance per container
/// (a singleton): two hosts in one process, as tests run them, do not share locks.
/// </summary>
internal sealed class CommitLocks : IDisposable
{
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public void Dispose()
    {
        foreach (var stripe in _stripes)
        {
            stripe.Dispose();
        }
    }

    public async Task<IDisposable> AcquireAsync(IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var held = new Held();
        var stripes = ids.Select(id => (int)((uint)StringComparer.Ordinal.GetHashCode(id) % (uint)_stripes.Length)).Distinct().Order();
        foreach (var stripe in stripes)
        {
            try
            {
                await _stripes[stripe].WaitAsync(cancellationToken);
            }
            catch
            {
                held.Dispose();
                throw;
            }

            held.Taken.Add(_stripes[stripe]);
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
