using ImageRetrieval.Infrastructure.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ImageRetrieval.AdapterTests;

/// <summary>What every vector-store adapter's test host does as the Host does: settings into configuration, options bound, the adapter registered.</summary>
internal static class VectorStoreTestHost
{
    public static ServiceProvider Build(Dictionary<string, string?> settings, IDictionary<string, string?>? extra, Action<IServiceCollection, IConfiguration> register)
    {
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddOptions<VectorStoreOptions>().Bind(configuration.GetSection(VectorStoreOptions.Section));
        register(services, configuration);
        return services.BuildServiceProvider();
    }
}
