using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Embedding.Inference;

namespace ImageRetrieval.Embedding.DownloadModel;

/// <summary>Loads the model outside the background loader (the host need not be started) and disposes it: only the cached files are the point.</summary>
internal sealed class DownloadModelHandler(ModelLoader loader) : IRequestHandler<Contracts.DownloadModel, EmbeddingModelInfo>
{
    public async ValueTask<EmbeddingModelInfo> Handle(Contracts.DownloadModel request, CancellationToken cancellationToken)
    {
        using var model = await loader.LoadAsync(cancellationToken);
        return new EmbeddingModelInfo(model.ModelId, model.Dimension, model.Text is not null);
    }
}
