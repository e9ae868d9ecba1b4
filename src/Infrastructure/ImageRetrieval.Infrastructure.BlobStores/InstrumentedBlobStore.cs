using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Infrastructure.BlobStores;

/// <summary>
/// Wraps whichever blob store the configuration chose with a span per call and the store metrics.
/// It does not dispose the inner store: the container owns (and disposes) the provider's keyed singleton.
/// </summary>
internal sealed class InstrumentedBlobStore(IBlobStore inner) : IBlobStore
{
    public const string ActivitySourceName = "ImageRetrieval.Stores";
    public const string MeterName = "ImageRetrieval";
    public const string DurationInstrument = "imageretrieval.store.call.duration";
    public const string ErrorsInstrument = "imageretrieval.store.errors";

    private static readonly ActivitySource Source = new(ActivitySourceName);
    private static readonly Meter Meter = new(MeterName);

    // Name, unit and description match the vector store's instruments exactly, so the two meters of the
    // same name are exported as one metric stream split by the "store" tag.
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(
        DurationInstrument, unit: "s", description: "Duration of calls to the vector and blob stores",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    private static readonly Counter<long> Errors = Meter.CreateCounter<long>(
        ErrorsInstrument, description: "Calls to the vector and blob stores that threw");

    public IBlobStore Inner => inner;

    public string ProviderName => inner.ProviderName;

    public Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken) =>
        Measure("put", async () =>
        {
            await inner.PutAsync(key, content, contentType, cancellationToken);
            return true;
        }, content.Length);

    /// <summary>Measures opening the stream (time to first byte), not the caller's read of it.</summary>
    public Task<BlobContent?> OpenReadAsync(string key, CancellationToken cancellationToken) =>
        Measure("get", () => inner.OpenReadAsync(key, cancellationToken));

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken) =>
        Measure("exists", () => inner.ExistsAsync(key, cancellationToken));

    public Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        Measure("delete", async () =>
        {
            await inner.DeleteAsync(key, cancellationToken);
            return true;
        });

    /// <summary>One measurement for the whole enumeration, from the first request to the last key.</summary>
    public async IAsyncEnumerable<string> ListKeysAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var tags = Tags("list");
        using var activity = Start("list");
        var started = Stopwatch.GetTimestamp();
        var count = 0;
        var enumerator = inner.ListKeysAsync(prefix, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                string key;
                try
                {
                    if (!await enumerator.MoveNextAsync())
                    {
                        break;
                    }

                    key = enumerator.Current;
                }
                catch (Exception ex)
                {
                    Failed(activity, tags, ex);
                    throw;
                }

                count++;
                yield return key;
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
            activity?.SetTag("keys.count", count);
            Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    public Task<Uri?> TryGetSignedUrlAsync(string key, CancellationToken cancellationToken) =>
        Measure("sign", () => inner.TryGetSignedUrlAsync(key, cancellationToken));

    public string DescribeLocation(string key) => inner.DescribeLocation(key);

    public Task CheckReachableAsync(CancellationToken cancellationToken) =>
        Measure("check", async () =>
        {
            await inner.CheckReachableAsync(cancellationToken);
            return true;
        });

    private async Task<T> Measure<T>(string operation, Func<Task<T>> call, int? bytes = null)
    {
        var tags = Tags(operation);
        using var activity = Start(operation);
        if (bytes is { } size)
        {
            activity?.SetTag("blob.size", size);
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            return await call();
        }
        catch (Exception ex)
        {
            Failed(activity, tags, ex);
            throw;
        }
        finally
        {
            Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    private TagList Tags(string operation) => new() { { "store", inner.ProviderName }, { "operation", operation } };

    private Activity? Start(string operation)
    {
        var activity = Source.StartActivity("blob " + operation, ActivityKind.Client);
        activity?.SetTag("store", inner.ProviderName);
        activity?.SetTag("operation", operation);
        return activity;
    }

    private static void Failed(Activity? activity, TagList tags, Exception ex)
    {
        Errors.Add(1, tags);
        activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
        activity?.SetTag("error.type", ex.GetType().FullName);
    }
}
