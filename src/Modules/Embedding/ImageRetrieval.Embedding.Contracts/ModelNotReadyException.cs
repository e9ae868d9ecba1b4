using ImageRetrieval.SharedKernel;

namespace ImageRetrieval.Embedding.Contracts;

public sealed class ModelNotReadyException(string detail)
    : ServiceProblemException(ProblemTypes.ModelNotReady, "Model not ready", detail);
