using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Embedding.Inference;

namespace ImageRetrieval.Embedding.WaitForModel;

internal sealed class WaitForModelHandler(ModelState models) : IRequestHandler<Contracts.WaitForModel, EmbeddingModelInfo>
{
    public async ValueTask<EmbeddingModelInfo> Handle(Contracts.WaitForModel request, CancellationToken cancellationToken)
    {
        var model = await models.WhenLoaded.WaitAsync(cancellationToken);
        return new EmbeddingModelInfo(model.ModelId, model.Dimension, model.Text is not null);
    }
}
