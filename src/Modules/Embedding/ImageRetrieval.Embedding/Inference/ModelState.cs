using ImageRetrieval.Embedding.Contracts;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>
/// The model as the rest of the module sees it: loading, loaded, or failed with a reason.
/// The Host starts before the model is ready (a download can take minutes), and readiness says which.
/// </summary>
internal sealed class ModelState
{
    private readonly TaskCompletionSource<LoadedModel> loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Status { get; private set; } = "loading";

    public bool IsReady => loaded.Task.IsCompletedSuccessfully;

    public LoadedModel Current => loaded.Task.IsCompletedSuccessfully
        ? loaded.Task.Result
        : throw new ModelNotReadyException($"The embedding model is not ready: {Status}.");

    public Task<LoadedModel> WhenLoaded => loaded.Task;

    public void SetLoaded(LoadedModel model)
    {
        Status = "ready";
        loaded.TrySetResult(model);
    }

    public void SetFailed(Exception error)
    {
        Status = "failed: " + error.Message;
        loaded.TrySetException(error);
    }
}
