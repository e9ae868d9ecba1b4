using FluentValidation;
using ImageRetrieval.Retrieval.FindSimilar;
using ImageRetrieval.Retrieval.QueryImages;
using ImageRetrieval.Retrieval.Search;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.Retrieval;

public static class RetrievalModule
{
    public static IServiceCollection AddRetrieval(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatorsFromAssemblyContaining<SearchByImageValidator>(ServiceLifetime.Singleton, includeInternalTypes: true);
        return services;
    }

    public static IEndpointRouteBuilder MapRetrievalApi(this IEndpointRouteBuilder api)
    {
        api.MapSearch();
        api.MapFindSimilar();
        api.MapQueryImages();
        return api;
    }
}
