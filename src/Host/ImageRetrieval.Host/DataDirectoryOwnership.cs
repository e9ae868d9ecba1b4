using ImageRetrieval.Infrastructure.Abstractions;

namespace ImageRetrieval.Host;

/// <summary>
/// Which processes must own the data directory: any that uses a Local store (the vector store's
/// in-memory mirror allows one writer; the blob files travel with it on one volume). Remote stores
/// keep nothing here but the model cache, whose downloads are atomic, so replicas share nothing.
/// </summary>
internal static class DataDirectoryOwnership
{
    /// <summary>Exit code of a process refused because another one holds the directory (EX_TEMPFAIL: try again later).</summary>
    public const int InUseExitCode = 75;

    /// <summary>
    /// Registers the lock as a singleton (the container releases it when the host is disposed); it is
    /// taken when first resolved, which <see cref="TryTake"/> does right after the host is built.
    /// </summary>
    public static IServiceCollection AddDataDirectoryLock(this IServiceCollection services, IConfiguration configuration, string lockName, string purpose)
    {
        if (UsesLocalStore(configuration))
        {
            services.AddSingleton(sp => DataDirectoryLock.Acquire(
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ServiceOptions>>().Value.FullDataPath, lockName, purpose));
        }

        return services;
    }

    /// <summary>Takes the registered lock now; on refusal writes why to stderr and returns false.</summary>
    public static bool TryTake(IServiceProvider services)
    {
        try
        {
            services.GetService<DataDirectoryLock>();
            return true;
        }
        catch (DataDirectoryInUseException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return false;
        }
    }

    private static bool UsesLocalStore(IConfiguration configuration) =>
        (configuration.GetSection(VectorStoreOptions.Section).Get<VectorStoreOptions>()?.Provider ?? VectorStoreProvider.Local) == VectorStoreProvider.Local
        || (configuration.GetSection(BlobStoreOptions.Section).Get<BlobStoreOptions>()?.Provider ?? BlobStoreProvider.Local) == BlobStoreProvider.Local;
}
