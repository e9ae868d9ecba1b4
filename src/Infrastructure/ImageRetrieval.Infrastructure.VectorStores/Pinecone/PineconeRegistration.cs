using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.Infrastructure.VectorStores.Pinecone;

public static class PineconeRegistration
{
    // Placeholder until the Pinecone adapter lands (issue 5).
    public static IServiceCollection AddPineconeVectorStore(this IServiceCollection services, IConfiguration configuration) =>
        throw new NotSupportedException("The Pinecone vector store is not implemented yet.");
}
