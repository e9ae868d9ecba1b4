using FluentValidation;
using ImageRetrieval.Ingesting.Catalog;
using ImageRetrieval.Ingesting.DeleteImage;
using ImageRetrieval.Ingesting.GetImage;
using ImageRetrieval.Ingesting.GetImageContent;
using ImageRetrieval.Ingesting.IngestImages;
using ImageRetrieval.Ingesting.ListImages;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ImageRetrieval.Ingesting;

public static class IngestingModule
{
    public static IServiceCollection AddIngesting(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<IngestingMetrics>();
        services.AddSingleton<CollectionGuard>();
        services.AddSingleton<CommitLocks>();
        services.AddSingleton<ImageCatalog>();
        services.AddValidatorsFromAssemblyContaining<IngestImagesValidator>(ServiceLifetime.Singleton, includeInternalTypes: true);
        return services;
    }

    public static IEndpointRouteBuilder MapIngestingApi(this IEndpointRouteBuilder api)
    {
        var images = api.MapGroup("/images").WithTags("images");
        images.MapIngestImages();
        images.MapListImages();
        images.MapGetImage();
        images.MapGetImageContent();
        images.MapDeleteImage();
        return api;
    }
}
