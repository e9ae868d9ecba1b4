using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.Infrastructure.Adapters;

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
    /// Registers the locks as a singleton (the container releases them when the host is disposed); they
    /// are taken when first resolved, which <see cref="TryTake"/> does right after the host is built.
    /// </summary>
    public static IServiceCollection AddDataDirectoryLock(this IServiceCollection services, IConfiguration configuration, string purpose, params string[] lockNames)
    {
        if (UsesLocalStore(configuration))
        {
            services.AddSingleton(sp => new DataDirectoryClaim(
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ServiceOptions>>().Value.FullDataPath, purpose, lockNames));
        }

        return services;
    }

    /// <summary>Takes the registered locks now; on refusal writes why to stderr and returns false.</summary>
    public static bool TryTake(IServiceProvider services)
    {
        try
        {
            services.GetService<DataDirectoryClaim>();
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

/// <summary>The data-directory locks one process holds, all or none.</summary>
internal sealed class DataDirectoryClaim : IDisposable
{
    private readonly List<DataDirectoryLock> _held = [];

    public DataDirectoryClaim(string dataPath, string purpose, IReadOnlyList<string> lockNames)
    {
        try
        {
            foreach (var name in lockNames)
            {
                _held.Add(DataDirectoryLock.Acquire(dataPath, name, purpose));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var held in _held)
        {
            held.Dispose();
        }

        _held.Clear();
    }
}
