using ImageRetrieval.SharedKernel;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Host.Api;

internal static class RequestLimits
{
    /// <summary>Kestrel and the form reader refuse bodies larger than ImageRetrieval:Limits:MaxRequestBytes.</summary>
    public static WebApplicationBuilder ConfigureRequestLimits(this WebApplicationBuilder builder)
    {
        var limits = builder.Configuration.GetSection(ImageLimitsOptions.Section).Get<ImageLimitsOptions>() ?? new ImageLimitsOptions();
        var maxBody = limits.MaxRequestBytes;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = maxBody);
        builder.Services.Configure<FormOptions>(form =>
        {
            form.MultipartBodyLengthLimit = maxBody;
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
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context,
                    ProblemDetails =
                    {
                        Status = StatusCodes.Status413PayloadTooLarge,
                        Type = ProblemTypes.Uri("request-too-large"),
                        Title = "Request too large",
                        Detail = $"The request has {length} bytes; the limit is {maxBody} (ImageRetrieval:Limits:MaxRequestBytes).",
                    },
                });
                return;
            }

            await next(context);
        });
    }
}
