using System.Numerics.Tensors;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Text;

namespace ImageRetrieval.Embedding.EmbedTexts;

internal sealed class EmbedTextsHandler(ModelState models, TextInferenceQueue queue) : IRequestHandler<Contracts.EmbedTexts, EmbedTextsResult>
{
    public async ValueTask<EmbedTextsResult> Handle(Contracts.EmbedTexts request, CancellationToken cancellationToken)
    {
        var model = models.Current;
        var text = model.Text ?? throw new TextNotSupportedException(model.ModelId);

        // Admission comes first: an overloaded service refuses before spending a cycle on tokenizing.
        using var admission = queue.Admit(request.Texts.Count);
        var vectors = await Task.WhenAll(request.Texts.Select(async t =>
        {
            var vector = await queue.EmbedAsync(text, text.Tokenizer.Encode(t), request.Priority, cancellationToken);
            var norm = TensorPrimitives.Norm(vector);
            if (norm > 0)
            {
                TensorPrimitives.Divide(vector, norm, vector);
            }

            return vector;
        }));
        return new EmbedTextsResult(model.ModelId, model.Dimension, vectors);
    }
}
