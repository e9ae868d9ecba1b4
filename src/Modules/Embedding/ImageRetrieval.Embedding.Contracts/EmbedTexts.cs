using ImageRetrieval.SharedKernel;
using Mediator;

namespace ImageRetrieval.Embedding.Contracts;

/// <summary>
/// Embeds each text with the model's text tower into the space its images are embedded in, L2-normalised.
/// Texts longer than the model's context are truncated by its tokenizer. Throws
/// <see cref="TextNotSupportedException"/> when the model has no text tower, and a 503 <c>overloaded</c>
/// problem when more than <c>Embedding:MaxQueueLength</c> texts would be waiting.
/// </summary>
/// <param name="Priority">Whether someone is waiting on this answer (a text search) or it is bulk work (many texts at once).</param>
public sealed record EmbedTexts(IReadOnlyList<string> Texts, EmbeddingPriority Priority = EmbeddingPriority.Interactive) : IRequest<EmbedTextsResult>
{
    /// <summary>Most texts one request may embed.</summary>
    public const int MaxTexts = 64;

    /// <summary>Most characters one text may have; the tokenizer truncates far sooner, this bounds the work.</summary>
    public const int MaxTextLength = 2000;
}

public sealed record EmbedTextsResult(string Model, int Dimension, IReadOnlyList<float[]> Vectors);

public sealed class TextNotSupportedException(string modelId)
    : ServiceProblemException(ProblemTypes.TextNotSupported, "Text search not supported",
        $"The model '{modelId}' embeds images only. Text queries need a CLIP-style model with a text tower: a transformers.js "
        + "export with onnx/text_model.onnx and tokenizer.json (such as Xenova/clip-vit-base-patch32), or an Immich model "
        + "directory with textual/model.onnx; set ImageRetrieval:Embedding:Model to one and re-index.");
