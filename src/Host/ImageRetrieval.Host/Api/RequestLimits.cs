using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ImageRetrieval.Host.Api;

/// <summary><c>ImageRetrieval:Server</c>: the connection-level limits Kestrel enforces, and the room for buffered request bodies.</summary>
internal sealed class ServerLimitsOptions : IValidatableObject
{
    public const string Section = "ImageRetrieval:Server";

    /// <summary>Open connections at once; 0 = unlimited. Each idle one costs little, but a flood of them costs sockets and memory.</summary>
    [Range(0, 1_000_000)]
    public long MaxConcurrentConnections { get; set; } = 1000;

    /// <summary>A request body slower than this (after <see cref="MinRequestBodyGracePeriod"/>) is cut off: a slow upload holds a buffer and a slot. 0 = off.</summary>
    [Range(0, 1_000_000_000)]
    public double MinRequestBodyBytesPerSecond { get; set; } = 4096;

    public TimeSpan MinRequestBodyGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time for a client to send all request headers (slowloris).</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Idle time before a kept-alive connection is closed; keep it above the proxy's upstream idle timeout (nginx 60 s; Google's load balancer 600 s).</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Multipart file parts past <see cref="FormMemoryBufferBytes"/> are spooled to the temp directory (/tmp) while they are read. Requests whose
    /// declared bodies would together exceed this wait (then get a 503), so /tmp cannot fill. At least Limits:MaxRequestBytes.
    /// </summary>
    [Range(1, long.MaxValue)]
    public long MaxBufferedBodyBytes { get; set; } = 768L * 1024 * 1024;

    /// <summary>
    /// A file part of a multipart form up to this many bytes is read into memory, a larger one is spooled to the
    /// temp directory; <see cref="MaxBufferedBodyBytes"/> bounds the bodies being read either way.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int FormMemoryBufferBytes { get; set; } = RequestLimits.FormMemoryBufferBytes;

    /// <summary>How long a request may wait for room in <see cref="MaxBufferedBodyBytes"/> before it gets a 503.</summary>
    public TimeSpan BufferWaitTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MinRequestBodyGracePeriod <= TimeSpan.FromSeconds(1))
        {
            yield return new ValidationResult("MinRequestBodyGracePeriod must be more than 1 s (Kestrel's heartbeat).", [nameof(MinRequestBodyGracePeriod)]);
        }

        if (RequestHeadersTimeout <= TimeSpan.Zero || KeepAliveTimeout <= TimeSpan.Zero || BufferWaitTimeout < TimeSpan.Zero)
        {
            yield return new ValidationResult("RequestHeadersTimeout and KeepAliveTimeout must be positive, BufferWaitTimeout not negative.");
        }
    }
}

internal static class RequestLimits
{
    /// <summary>
    /// The default of <see cref="ServerLimitsOptions.FormMemoryBufferBytes"/>: a file part of a form up to this size is read
    /// into memory, a larger one is spooled to the temp directory. Every endpoint copies each uploaded file into memory
    /// anyway (FormFileReader), so a part kept in memory costs its bytes twice until it is read, not more; spooling it
    /// costs a temp file created, written, read back and deleted per file, which measured about 15 ms a search on a
    /// busy 2-core node (the ASP.NET default of 64 KiB spooled every photo; bench/results/profile-notes.md).
    /// </summary>
    public const int FormMemoryBufferBytes = 4 * 1024 * 1024;

    /// <summary>Kestrel's limits and the form reader's refuse bodies larger than ImageRetrieval:Limits:MaxRequestBytes.</summary>
    public static WebApplicationBuilder ConfigureRequestLimits(this WebApplicationBuilder builder)
    {
        var limits = builder.Configuration.GetSection(ImageLimitsOptions.Section).Get<ImageLimitsOptions>() ?? new ImageLimitsOptions();
        var server = builder.Configuration.GetSection(ServerLimitsOptions.Section).Get<ServerLimitsOptions>() ?? new ServerLimitsOptions();
        var maxBody = limits.MaxRequestBytes;
        builder.Services.AddOptions<ServerLimitsOptions>().Bind(builder.Configuration.GetSection(ServerLimitsOptions.Section))
            .ValidateDataAnnotations()
            .Validate(s => s.MaxBufferedBodyBytes >= maxBody,
                $"{ServerLimitsOptions.Section}:MaxBufferedBodyBytes must be at least {ImageLimitsOptions.Section}:MaxRequestBytes ({maxBody}), or a largest request could never be read.")
            .ValidateOnStart();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var k = kestrel.Limits;
            k.MaxRequestBodySize = maxBody;
            k.MaxConcurrentConnections = server.MaxConcurrentConnections > 0 ? server.MaxConcurrentConnections : null;
            k.MinRequestBodyDataRate = server.MinRequestBodyBytesPerSecond > 0 && server.MinRequestBodyGracePeriod > TimeSpan.FromSeconds(1)
                ? new MinDataRate(server.MinRequestBodyBytesPerSecond, server.MinRequestBodyGracePeriod)
                : null;
            if (server.RequestHeadersTimeout > TimeSpan.Zero)
            {
                k.RequestHeadersTimeout = server.RequestHeadersTimeout;
            }

            if (server.KeepAliveTimeout > TimeSpan.Zero)
            {
                k.KeepAliveTimeout = server.KeepAliveTimeout;
            }
        });
        builder.Services.Configure<FormOptions>(form =>
        {
            form.MultipartBodyLengthLimit = maxBody;
            form.BufferBodyLengthLimit = maxBody;
            form.MemoryBufferThreshold = server.FormMemoryBufferBytes;
            form.ValueCountLimit = limits.MaxFilesPerRequest + 16;
        });
        return builder;
    }

    /// <summary>
    /// A declared Content-Length over the limit gets a 413 problem before a byte is read, whatever the
    /// server (Kestrel enforces the limit itself only while reading, and test servers not at all).
    /// </summary>
    public static void UseRequestLimits(this WebApplication app)
    {
        var maxBody = app.Services.GetRequiredService<IOptions<ImageLimitsOptions>>().Value.MaxRequestBytes;
        app.Use(async (context, next) =>
        {
            if (context.Request.ContentLength is { } length && length > maxBody)
            {
                await context.WriteProblemAsync(new Problem(ProblemTypes.RequestTooLarge, "Request too large",
                    $"The request has {length} bytes; the limit is {maxBody} (ImageRetrieval:Limits:MaxRequestBytes)."));
                return;
            }

            await next(context);
        });
    }

    /// <summary>
    /// Admits a form body only when the bodies being buffered leave room for it (its declared length,
    /// or the largest allowed when it declares none), so the temp directory is sized by configuration,
    /// not by how many clients upload at once. Runs after the key check: strangers never hold room.
    /// </summary>
    public static void UseBufferedBodyBudget(this WebApplication app)
    {
        var server = app.Services.GetRequiredService<IOptions<ServerLimitsOptions>>().Value;
        var maxBody = app.Services.GetRequiredService<IOptions<ImageLimitsOptions>>().Value.MaxRequestBytes;
        // Permits are KiB so that budgets of many GiB fit an int.
        var budgetKiB = (int)Math.Min(int.MaxValue, server.MaxBufferedBodyBytes / 1024);
        var budget = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = budgetKiB,
            QueueLimit = budgetKiB,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        app.Lifetime.ApplicationStopped.Register(budget.Dispose);
        app.Use(async (context, next) =>
        {
            if (!context.Request.HasFormContentType || context.Request.ContentLength is 0 || HttpMethods.IsGet(context.Request.Method))
            {
                await next(context);
                return;
            }

            var bytes = context.Request.ContentLength ?? maxBody;
            var cost = (int)Math.Clamp((bytes + 1023) / 1024, 1, budgetKiB);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            wait.CancelAfter(server.BufferWaitTimeout);
            RateLimitLease lease;
            try
            {
                lease = await budget.AcquireAsync(cost, wait.Token);
            }
            catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
            {
                lease = budget.AttemptAcquire(cost);
            }

            using (lease)
            {
                if (lease.IsAcquired)
                {
                    await next(context);
                    return;
                }
            }

            context.Response.Headers.RetryAfter = "5";
            await context.WriteProblemAsync(new Problem(ProblemTypes.UploadsBusy, "Too many uploads in progress",
                "The uploads being received fill the room for buffered bodies (ImageRetrieval:Server:MaxBufferedBodyBytes); retry after 5 s."));
        });
    }
}
