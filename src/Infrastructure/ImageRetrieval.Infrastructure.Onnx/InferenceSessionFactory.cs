using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.Infrastructure.Onnx;

public static class InferenceSessionFactory
{
    /// <summary>ONNX Runtime's own default: idle intra-op threads spin for a fixed number of iterations, also between runs.</summary>
    public const int UnboundedSpin = -1;

    /// <summary>
    /// One session for the whole process: ONNX Runtime parallelises inside a run across
    /// <paramref name="intraOpThreads"/> cores, and concurrent runs on one session are safe.
    /// </summary>
    /// <param name="spinMicroseconds">
    /// How long an idle intra-op thread busy-waits for the next parallel section before it sleeps:
    /// 0 sleeps at once, <see cref="UnboundedSpin"/> is ONNX Runtime's default. Sleeping at once costs
    /// a wake-up (a futex and, on a VM, a halted vCPU to resume) at every parallel section a worker
    /// missed, several hundred per ViT run; spinning without bound takes the cores that decoding needs
    /// between runs and during a run's serial parts. A bound of about a millisecond covers the
    /// gaps between sections and lets the threads sleep between runs (spinning also stops when a run
    /// returns).
    /// </param>
    /// <param name="configure">Changes to these options before the session is built (the benches' A/B variants, profiling).</param>
    public static InferenceSession Create(string onnxPath, int intraOpThreads, int spinMicroseconds = 0, Action<SessionOptions>? configure = null)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads > 0 ? intraOpThreads : Environment.ProcessorCount,
            InterOpNumThreads = 1,
        };
        var spinning = spinMicroseconds != 0;
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", spinning ? "1" : "0");
        options.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
        if (spinMicroseconds > 0)
        {
            options.AddSessionConfigEntry("session.intra_op.spin_duration_us", spinMicroseconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            options.AddSessionConfigEntry("session.force_spinning_stop", "1");
        }

        configure?.Invoke(options);
        try
        {
            return new InferenceSession(onnxPath, options);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelLoadException($"ONNX Runtime could not load '{onnxPath}': {ex.Message}", ex);
        }
    }
}
