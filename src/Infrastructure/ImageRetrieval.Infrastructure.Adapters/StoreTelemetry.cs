using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ImageRetrieval.Infrastructure.Adapters;

/// <summary>
/// The span and metrics of one call to a vector or blob store: <c>imageretrieval.store.call.duration</c>
/// and <c>imageretrieval.store.errors</c>, tagged by store (provider) and operation.
/// </summary>
public sealed class StoreCall : IDisposable
{
    public const string ActivitySourceName = "ImageRetrieval.Stores";
    public const string MeterName = "ImageRetrieval";
    public const string DurationInstrument = "imageretrieval.store.call.duration";
    public const string ErrorsInstrument = "imageretrieval.store.errors";

    private static readonly ActivitySource Source = new(ActivitySourceName);
    private static readonly Meter Meter = new(MeterName);

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(
        DurationInstrument, unit: "s", description: "Duration of calls to the vector and blob stores",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    private static readonly Counter<long> Errors = Meter.CreateCounter<long>(ErrorsInstrument, description: "Calls to the vector and blob stores that threw");

    private readonly TagList tags;
    private readonly long started = Stopwatch.GetTimestamp();

    /// <param name="kind">"vector" or "blob": the span is named "{kind} {operation}".</param>
    public StoreCall(string kind, string provider, string operation)
    {
        tags = new TagList { { "store", provider }, { "operation", operation } };
        Activity = Source.StartActivity(kind + " " + operation, ActivityKind.Client);
        Activity?.SetTag("store", provider);
        Activity?.SetTag("operation", operation);
    }

    public Activity? Activity { get; }

    public void Failed(Exception exception)
    {
        Errors.Add(1, tags);
        Activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
        Activity?.SetTag("error.type", exception.GetType().FullName);
    }

    public void Dispose()
    {
        Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        Activity?.Dispose();
    }

    public static async Task<T> MeasureAsync<T>(string kind, string provider, string operation, Func<Task<T>> call, string? sizeTag = null, int? size = null)
    {
        using var measured = new StoreCall(kind, provider, operation);
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
