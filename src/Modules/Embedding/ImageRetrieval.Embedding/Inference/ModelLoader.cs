using System.Diagnostics;
using System.Security.Cryptography;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Embedding.Text;
using ImageRetrieval.Infrastructure.Onnx;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Hosting;
using Microsoft.ML.OnnxRuntime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Embedding.Inference;

/// <summary>Resolves (and if needed downloads) the configured model in the background at start-up.</summary>
internal sealed partial class ModelLoader(
    ModelResolver resolver,
    ModelState state,
    IOptions<ModelSourceOptions> source,
    IOptions<EmbeddingOptions> embedding,
    IOptions<ServiceOptions> service,
    ILogger<ModelLoader> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var model = await LoadAsync(stoppingToken);
            state.SetLoaded(model);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            state.SetFailed(new OperationCanceledException("shutting down"));
        }
        catch (Exception ex) when (ex is ModelLoadException or IOException or InvalidDataException or HttpRequestException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            LogLoadFailed(logger, source.Value.Model, ex.Message);
            state.SetFailed(ex);
        }
    }

    public async Task<LoadedModel> LoadAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var options = source.Value;
        var files = await resolver.ResolveAsync(options, Path.Combine(service.Value.FullDataPath, "models"), cancellationToken);
        var preprocessor = files.Layout == ModelLayout.Immich
            ? OpenClipPreprocessConfig.Load(files.PreprocessorConfigPath)
            : PreprocessorConfig.Load(files.PreprocessorConfigPath);
        var fingerprint = await FingerprintAsync(files.OnnxPath, cancellationToken);
        var text = files.TextOnnxPath is null ? null : await TextModelLoader.LoadAsync(files, options.IntraOpThreads, cancellationToken);
        InferenceSession? session = null;
        LoadedModel model;
        try
        {
            session = InferenceSessionFactory.Create(files.OnnxPath, options.IntraOpThreads, options.IntraOpSpinMicroseconds);
            model = new LoadedModel(session, new PixelTensorWriter(preprocessor), embedding.Value.Pooling, files.Name, fingerprint, text);
        }
        catch
        {
            session?.Dispose();
            text?.Dispose();
            throw;
        }

        LogLoaded(logger, model.ModelId, model.Dimension, files.OnnxPath, model.InputDescription, clock.ElapsedMilliseconds);
        return model;
    }

    /// <summary>The weights' hash is part of the model id, so a changed export is never mistaken for the indexed one.</summary>
    private static async Task<string> FingerprintAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        var hash = await SHA256.HashDataAsync(stream, cancellationToken);
        return Convert.ToHexStringLower(hash)[..12];
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded embedding model {ModelId} ({Dimension}-d) from {Path}, {Io}, in {ElapsedMs} ms")]
    private static partial void LogLoaded(ILogger logger, string modelId, int dimension, string path, string io, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not load embedding model {Model}: {Reason}")]
    private static partial void LogLoadFailed(ILogger logger, string model, string reason);
}
