using ImageRetrieval.Embedding;
using ImageRetrieval.Infrastructure.BlobStores;
using ImageRetrieval.Infrastructure.VectorStores;
using ImageRetrieval.Ingesting;
using ImageRetrieval.Retrieval;

namespace ImageRetrieval.Host;

internal static class Composition
{
    /// <summary>Modules, stores and the mediator: shared by the web service and the command-line verbs.</summary>
    public static IServiceCollection AddImageRetrieval(this IServiceCollection services, IConfiguration configuration) =>
        services
            .AddVectorStore(configuration)
            .AddBlobStore(configuration)
            .AddEmbedding(configuration)
            .AddIngesting(configuration)
            .AddRetrieval(configuration)
            .AddApplicationMediator();
}
