using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ImageRetrieval.Infrastructure.Adapters;

/// <summary>
/// The store instruments, <c>imageretrieval.store.call.duration</c> and <c>imageretrieval.store.errors</c>
/// tagged by store (provider) and operation, on the service's one meter from the host's
/// <see cref="IMeterFactory"/> (so each host has its own, disposed with it), and the span of each call.
/// </summary>
public sealed class StoreTelemetry
{
    public const string ActivitySourceName = "ImageRetrieval.Stores";
    public const string MeterName = "ImageRetrieval";
    public const string DurationInstrument = "imageretrieval.store.call.duration";
    public const string ErrorsInstrument = "imageretrieval.store.errors";

    // Spans are not per host: an ActivitySource has no factory, and listeners pick sources by name.
    private static readonly ActivitySource Source = new(ActivitySourceName);

    public StoreTelemetry(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        Duration = meter.CreateHistogram<double>(
            DurationInstrument, unit: "s", description: "Duration of calls to the vector and blob stores",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        Errors = meter.CreateCounter<long>(ErrorsInstrument, description: "Calls to the vector and blob stores that threw");
    }

    internal Histogram<double> Duration { get; }

    internal Counter<long> Errors { get; }

    /// <param name="kind">"vector" or "blob": the span is named "{kind} {operation}".</param>
    public StoreCall Start(string kind, string provider, string operation) => new(this, Source, kind, provider, operation);

    public async Task<T> MeasureAsync<T>(string kind, string provider, string operation, Func<Task<T>> call, string? sizeTag = null, int? size = null)
    {
        ArgumentNullException.ThrowIfNull(call);
        using var measured = Start(kind, provider, operation);
        if (sizeTag is not null && size is { } value)
        {
            measured.Activity?.SetTag(sizeTag, value);
        }

        try
        {
            return await call();
        }
        catch (Exception ex)
        {
            measured.Failed(ex);
            throw;
        }
    }
}

/// <summary>The span and metrics of one call to a vector or blob store; dispose it when the call ends.</summary>
public sealed class StoreCall : IDisposable
{
    private readonly StoreTelemetry telemetry;
    private readonly TagList tags;
    private readonly long started = Stopwatch.GetTimestamp();

    internal StoreCall(StoreTelemetry telemetry, ActivitySource source, string kind, string provider, string operation)
    {
        this.telemetry = telemetry;
        tags = new TagList { { "store", provider }, { "operation", operation } };
        Activity = source.StartActivity(kind + " " + operation, ActivityKind.Client);
        Activity?.SetTag("store", provider);
        Activity?.SetTag("operation", operation);
    }

    public Activity? Activity { get; }

    public void Failed(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        telemetry.Errors.Add(1, tags);
        Activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
        Activity?.SetTag("error.type", exception.GetType().FullName);
    }

    public void Dispose()
    {
        telemetry.Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        Activity?.Dispose();
    }
}
