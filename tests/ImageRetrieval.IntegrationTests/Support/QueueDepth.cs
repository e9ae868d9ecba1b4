using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>
/// Reads one host's queue-depth gauge (inputs admitted and not yet embedded), so a test waits for the
/// state it needs instead of sleeping and hoping the requests got there. Only that host's instrument is
/// read: each host creates its meter from its own <see cref="IMeterFactory"/>.
/// </summary>
public sealed class QueueDepth : IDisposable
{
    public const string Images = "imageretrieval.embedding.queue_depth";
    public const string Texts = "imageretrieval.embedding.text_queue_depth";

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly MeterListener listener = new();
    private readonly string instrument;
    private int? last;

    /// <param name="factory">A started host (after <see cref="ServiceFactory.CreateReadyClientAsync"/>).</param>
    public QueueDepth(ServiceFactory factory, string instrument = Images)
    {
        this.instrument = instrument;
        var meters = factory.Services.GetRequiredService<IMeterFactory>();
        listener.InstrumentPublished = (published, l) =>
        {
            if (published.Name == instrument && ReferenceEquals(published.Meter.Scope, meters))
            {
                l.EnableMeasurementEvents(published);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, _, _) => last = value);
        listener.Start();
    }

    /// <summary>The gauge now.</summary>
    public int Read()
    {
        last = null;
        listener.RecordObservableInstruments();
        return last ?? throw new InvalidOperationException($"The host publishes no {instrument} gauge.");
    }

    /// <summary>Waits until the gauge reads <paramref name="expected"/>; fails (bounded) when it never does.</summary>
    public async Task WaitForAsync(int expected, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int now;
        while ((now = Read()) != expected)
        {
            if (clock.Elapsed > Patience)
            {
                Assert.Fail($"{instrument} stayed at {now}, never {expected} ({what}).");
            }

            await Task.Delay(10);
        }
    }

    public void Dispose() => listener.Dispose();
}
