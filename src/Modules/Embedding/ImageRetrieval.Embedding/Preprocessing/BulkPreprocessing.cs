using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using ImageRetrieval.Embedding.Inference;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.Preprocessing;

/// <summary>
/// Decoding and resizing of bulk images (ingest, reindex) on <see cref="EmbeddingOptions.DecodeParallelism"/>
/// threads of their own that run at a lower OS priority (<see cref="EmbeddingOptions.BulkDecodeNiceness"/>).
/// ONNX Runtime's intra-op threads use every core; when bulk decoding shares the cores on equal terms
/// it preempts them in the middle of a parallel section, and every thread of the run then waits for
/// the preempted one. At a lower priority bulk decoding takes the cycles inference leaves (its serial
/// parts, the gaps between batches) and yields to inference and to interactive decoding otherwise;
/// when inference runs out of ready images it idles and decoding gets the cores, so the two settle
/// on whatever keeps both busy. Interactive decoding stays on the thread pool at normal priority.
/// A thread inherits the nice value of the thread that creates it, so nothing a niced thread does may
/// create a thread that others then share: the decoding itself runs on the niced thread (not on
/// libvips' worker pool, see <see cref="CallerThreadPixels"/>), and results are handed to callers by
/// a normal-priority thread, because completing a task queues its continuation to the .NET thread
/// pool, which may start a new pool worker on the queueing thread.
/// </summary>
internal sealed partial class BulkPreprocessing : IDisposable
{
    private readonly BlockingCollection<WorkItem> work = [];
    private readonly BlockingCollection<Action> completions = [];
    private readonly int niceness;

    public BulkPreprocessing(IOptions<EmbeddingOptions> options)
    {
        niceness = options.Value.BulkDecodeNiceness;
        for (var i = 0; i < options.Value.DecodeParallelism; i++)
        {
            new Thread(Work) { IsBackground = true, Name = "bulk decode" }.Start();
        }

        new Thread(Complete) { IsBackground = true, Name = "bulk decoded" }.Start();
    }

    /// <summary>Runs <paramref name="action"/> on a bulk thread; work whose caller has gone by then is never started.</summary>
    public Task<T> RunAsync<T>(Func<T> action, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var item = new WorkItem<T>(action, cancellationToken);
        work.Add(item, cancellationToken);
        return item.Task;
    }

    public void Dispose()
    {
        work.CompleteAdding();
        completions.CompleteAdding();
    }

    private void Work()
    {
        LowerPriority(niceness);
        foreach (var item in work.GetConsumingEnumerable())
        {
            if (item.Execute() is { } complete && !completions.TryAdd(complete))
            {
                // Shutting down: no normal-priority thread is left to hand the result over.
                complete();
            }
        }
    }

    private void Complete()
    {
        foreach (var complete in completions.GetConsumingEnumerable())
        {
            complete();
        }
    }

    /// <summary>
    /// Linux nice values are per thread (setpriority with a thread id); an unprivileged process may
    /// lower a thread's priority but not raise it back, which is why these threads are dedicated and
    /// never pool threads. The value is relative to the thread that started the service, so a service
    /// started niced keeps its bulk work below its own interactive work. Elsewhere, or if refused,
    /// the threads simply run at normal priority.
    /// </summary>
    private static void LowerPriority(int niceness)
    {
        if (niceness <= 0 || !OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            var thread = GetThreadId();
            var current = GetPriority(PriorityProcess, thread);
            _ = SetPriority(PriorityProcess, thread, Math.Clamp(current + niceness, -20, 19));
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // No glibc (e.g. musl without gettid): normal priority is still correct, only less polite.
        }
    }

    private const int PriorityProcess = 0;

    [LibraryImport("libc", EntryPoint = "setpriority")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "getpriority")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int GetPriority(int which, int who);

    [LibraryImport("libc", EntryPoint = "gettid")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int GetThreadId();

    private abstract class WorkItem
    {
        /// <summary>Runs the work; returns what completes the caller's task, or null if the caller has gone.</summary>
        public abstract Action? Execute();
    }

    /// <summary>
    /// Cancelling a waiting item completes its task at once (the caller gives its place back and may
    /// reuse its buffers) and the item is skipped; once a worker has started it, it runs to the end.
    /// </summary>
    private sealed class WorkItem<T> : WorkItem
    {
        private const int Waiting = 0;
        private const int Running = 1;
        private const int Abandoned = 2;
        private readonly Func<T> action;
        private readonly TaskCompletionSource<T> result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenRegistration registration;
        private int state;

        public WorkItem(Func<T> action, CancellationToken cancellationToken)
        {
            this.action = action;
            registration = cancellationToken.Register(() =>
            {
                if (Interlocked.CompareExchange(ref state, Abandoned, Waiting) == Waiting)
                {
                    result.TrySetCanceled(cancellationToken);
                }
            });
        }

        public Task<T> Task => result.Task;

        public override Action? Execute()
        {
            registration.Dispose();
            if (Interlocked.CompareExchange(ref state, Running, Waiting) != Waiting)
            {
                return null;
            }

            try
            {
                var value = action();
                return () => result.TrySetResult(value);
            }
#pragma warning disable CA1031 // The failure belongs to the caller awaiting this item, not to the worker thread.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                return () => result.TrySetException(ex);
            }
        }
    }
}
