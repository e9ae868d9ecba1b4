using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.Infrastructure.Onnx;

public static class InferenceSessionFactory
{
    /// <summary>
    /// One session for the whole process: ONNX Runtime parallelises inside a run across
    /// <paramref name="intraOpThreads"/> cores, and concurrent runs on one session are safe.
    /// </summary>
    /// <param name="spinning">
    /// Whether ONNX Runtime's worker threads busy-wait for the next parallel section instead of
    /// sleeping. Its default (on) suits a process that does nothing else; in the service the spinning
    /// threads take the cores that decoding needs (profiled: a tenth of the process's CPU time sat in
    /// the spin loop's <c>pause</c> while ingesting), so the service turns it off.
    /// </param>
    public static InferenceSession Create(string onnxPath, int intraOpThreads, bool spinning = false)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads > 0 ? intraOpThreads : Environment.ProcessorCount,
            InterOpNumThreads = 1,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", spinning ? "1" : "0");
        options.AddSessionConfigEntry("session.inter_op.allow_spinning", spinning ? "1" : "0");
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
