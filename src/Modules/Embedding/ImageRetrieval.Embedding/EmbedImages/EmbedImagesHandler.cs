using System.Buffers;
using System.Diagnostics;
using System.Numerics.Tensors;
using ImageRetrieval.Embedding.Contracts;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.EmbedImages;

internal sealed class EmbedImagesHandler(
    ModelState models, ImageDecoder decoder, InferenceQueue queue, DecodeSlots decodeSlots, BulkPreprocessing bulk, EmbeddingMetrics metrics, IOptions<EmbeddingOptions> options)
    : IRequestHandler<Contracts.EmbedImages, EmbedImagesResult>
{
    public async ValueTask<EmbedImagesResult> Handle(Contracts.EmbedImages request, CancellationToken cancellationToken)
    {
        var model = models.Current;

        // Admission comes first: an overloaded service refuses before spending a cycle on decoding.
        using var admission = queue.Admit(request.Images.Count);
        var items = await Task.WhenAll(request.Images.Select(image => EmbedOneAsync(model, image, request.Normalize, request.Priority, cancellationToken)));
        return new EmbedImagesResult(model.ModelId, model.Dimension, items);
    }

    private async Task<ImageEmbedding> EmbedOneAsync(LoadedModel model, ImageUpload image, bool normalize, EmbeddingPriority priority, CancellationToken cancellationToken)
    {
        var pixels = ArrayPool<float>.Shared.Rent(model.Writer.Length);
        try
        {
            // Decoding and resizing are CPU work: in parallel across requests and files, up to
            // DecodeParallelism per lane, so a query never queues behind an ingest backlog's decoding.
            var info = priority == EmbeddingPriority.Bulk
                ? await bulk.RunAsync(() => Preprocess(model, image, pixels, priority), cancellationToken)
                : await PreprocessInteractiveAsync(model, image, pixels, cancellationToken);
            var vector = await queue.EmbedAsync(model, pixels, priority, cancellationToken);
            if (normalize)
            {
                Normalize(vector);
            }

            return new ImageEmbedding(image.FileName, vector, info, null);
        }
        catch (ImageRejectedException ex)
        {
            return new ImageEmbedding(image.FileName, null, null, ex.Rejection);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pixels);
        }
    }

    private async Task<DecodedImageInfo> PreprocessInteractiveAsync(LoadedModel model, ImageUpload image, float[] pixels, CancellationToken cancellationToken)
    {
        using (await decodeSlots.WaitAsync(cancellationToken))
        {
            return await Task.Run(() => Preprocess(model, image, pixels, EmbeddingPriority.Interactive), cancellationToken);
        }
    }

    private DecodedImageInfo Preprocess(LoadedModel model, ImageUpload image, float[] pixels, EmbeddingPriority priority)
    {
        var started = Stopwatch.GetTimestamp();
        using var activity = EmbeddingMetrics.ActivitySource.StartActivity("decode and preprocess");
        using var rgb = decoder.Decode(image.Content, model.Writer, options.Value.ShrinkOnLoad);
        activity?.SetTag("image.width", rgb.SourceWidth);
        activity?.SetTag("image.height", rgb.SourceHeight);
        activity?.SetTag("image.decoded_width", rgb.Width);
        // A query's resize may use every core; bulk images stay on their own niced thread.
        model.Writer.Write(rgb, pixels, priority == EmbeddingPriority.Bulk ? 1 : Environment.ProcessorCount);
        metrics.PreprocessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds,
            new KeyValuePair<string, object?>("priority", priority == EmbeddingPriority.Bulk ? "bulk" : "interactive"));
        return new DecodedImageInfo(rgb.ContentType, rgb.SourceWidth, rgb.SourceHeight);
    }

    private static void Normalize(float[] vector)
    {
        var norm = TensorPrimitives.Norm(vector);
        if (norm > 0)
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }
    }
}

internal sealed class GetEmbeddingModelHandler(ModelState models) : IRequestHandler<GetEmbeddingModel, EmbeddingModelInfo>
{
    public ValueTask<EmbeddingModelInfo> Handle(GetEmbeddingModel request, CancellationToken cancellationToken)
    {
        var model = models.Current;
        return ValueTask.FromResult(new EmbeddingModelInfo(model.ModelId, model.Dimension, model.Text is not null));
    }
}
