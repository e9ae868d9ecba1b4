using FluentValidation;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Retrieval.Query;
using ImageRetrieval.Retrieval.Search;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ImageRetrieval.Retrieval;

public static class RetrievalModule
{
    public static IServiceCollection AddRetrieval(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<CollectionGuard>();
        services.AddSingleton<NearestImages>();
        services.AddValidatorsFromAssemblyContaining<SearchByImageValidator>(ServiceLifetime.Singleton, includeInternalTypes: true);
        return services;
    }

    public static IEndpointRouteBuilder MapRetrievalApi(this IEndpointRouteBuilder api)
    {
        api.MapSearch();
        api.MapQuery();
        return api;
    }
}
