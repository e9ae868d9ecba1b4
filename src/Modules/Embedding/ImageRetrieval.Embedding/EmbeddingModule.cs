using FluentValidation;
using ImageRetrieval.Embedding.EmbedImages;
using ImageRetrieval.Embedding.EmbedTexts;
using ImageRetrieval.Embedding.GetModel;
using ImageRetrieval.Embedding.Inference;
using ImageRetrieval.Embedding.Preprocessing;
using ImageRetrieval.Embedding.Text;
using ImageRetrieval.Infrastructure.Onnx;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ImageRetrieval.Embedding;

public static class EmbeddingModule
{
    public static IServiceCollection AddEmbedding(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ModelSourceOptions>().Bind(configuration.GetSection(EmbeddingOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<EmbeddingOptions>().Bind(configuration.GetSection(EmbeddingOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ImageLimitsOptions>().Bind(configuration.GetSection(ImageLimitsOptions.Section)).ValidateDataAnnotations().ValidateOnStart();

        services.AddHttpClient<HubModelDownloader>(HubModelDownloader.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, ConnectTimeout = TimeSpan.FromSeconds(15) });
        services.AddSingleton<ModelResolver>();
        services.AddSingleton<ModelState>();
        services.AddSingleton<ImageDecoder>();
        services.AddSingleton<BulkPreprocessing>();
        services.AddSingleton<EmbeddingMetrics>();
        services.AddSingleton<InferenceQueue>();
        services.AddSingleton<DecodeSlots>();
        services.AddHostedService(sp => sp.GetRequiredService<InferenceQueue>());
        services.AddSingleton<TextInferenceQueue>();
        services.AddHostedService(sp => sp.GetRequiredService<TextInferenceQueue>());
        services.AddSingleton<ModelLoader>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelLoader>());
        services.AddValidatorsFromAssemblyContaining<EmbedImagesValidator>(ServiceLifetime.Singleton, includeInternalTypes: true);
        services.AddHealthChecks().AddCheck<ModelReadinessCheck>("embedding-model", tags: [HealthTags.Ready]);
        return services;
    }

    public static IEndpointRouteBuilder MapEmbeddingApi(this IEndpointRouteBuilder api)
    {
        api.MapEmbedImages();
        api.MapGetModel();
        api.MapEmbedTexts();
        return api;
    }
}

internal sealed class ModelReadinessCheck(ModelState state) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(state.IsReady ? HealthCheckResult.Healthy(state.Current.ModelId) : HealthCheckResult.Unhealthy("model " + state.Status));
}
