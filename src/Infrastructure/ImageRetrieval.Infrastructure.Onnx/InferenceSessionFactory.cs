using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.Infrastructure.Onnx;

public static class InferenceSessionFactory
{
    /// <summary>
    /// One session for the whole process: ONNX Runtime parallelises inside a run across
    /// <paramref name="intraOpThreads"/> cores, and concurrent runs on one session are safe.
    /// </summary>
    public static InferenceSession Create(string onnxPath, int intraOpThreads)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads > 0 ? intraOpThreads : Environment.ProcessorCount,
            InterOpNumThreads = 1,
        };
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
