using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.Infrastructure.BlobStores.Gcs;

public static class GcsRegistration
{
    // Placeholder until the GCS adapter lands (issue 5).
    public static IServiceCollection AddGcsBlobStore(this IServiceCollection services, IConfiguration configuration) =>
        throw new NotSupportedException("The GCS blob store is not implemented yet.");
}
