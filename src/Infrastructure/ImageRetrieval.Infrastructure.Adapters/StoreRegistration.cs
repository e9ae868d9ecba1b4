using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.Adapters;

public static class StoreRegistration
{
    /// <summary>Binds <typeparamref name="TOptions"/> to <paramref name="section"/>, validated by its data annotations when the host starts.</summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IServiceCollection services, IConfiguration configuration, string section)
        where TOptions : class =>
        services.AddOptions<TOptions>().Bind(configuration.GetSection(section)).ValidateDataAnnotations().ValidateOnStart();

    /// <summary>
    /// Binds <see cref="ServiceOptions"/> once however many parts of the service ask for it: binding twice
    /// would only repeat the values, but a second data-annotations validator would report every error twice.
    /// </summary>
    public static IServiceCollection AddServiceOptions(this IServiceCollection services, IConfiguration configuration)
    {
        if (!services.Any(d => d.ServiceType == typeof(IValidateOptions<ServiceOptions>)))
        {
            services.AddValidatedOptions<ServiceOptions>(configuration, ServiceOptions.Section);
        }

        return services;
    }

    /// <summary>The store instruments, once, whichever store registration asks first (with the metrics services they need).</summary>
    public static IServiceCollection AddStoreTelemetry(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<StoreTelemetry>();
        return services;
    }

    /// <summary>A readiness check that the store answers a cheap call within a few seconds.</summary>
    public static IServiceCollection AddStoreReadinessCheck<TStore>(this IServiceCollection services, string name, string kind, Func<TStore, string> providerName, Func<TStore, CancellationToken, Task> checkReachable)
        where TStore : notnull
    {
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            name,
            sp =>
            {
                var store = sp.GetRequiredService<TStore>();
                return new StoreReadinessCheck($"{providerName(store)} {kind}", token => checkReachable(store, token));
            },
            failureStatus: null,
            tags: [HealthTags.Ready]));
        return services;
    }

    private sealed class StoreReadinessCheck(string store, Func<CancellationToken, Task> checkReachable) : IHealthCheck
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            try
            {
                await checkReachable(timeout.Token);
                return HealthCheckResult.Healthy($"{store} is reachable");
            }
            catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return HealthCheckResult.Unhealthy($"{store} did not answer within {Timeout.TotalSeconds:0} s", ex);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The message (a path, the provider's words) goes to the log with the exception, not into the probe's answer.
                return HealthCheckResult.Unhealthy($"{store} is unreachable", ex);
            }
        }
    }
}
