using ImageRetrieval.SharedKernel;
using Microsoft.AspNetCore.Http.Features;

namespace ImageRetrieval.Host.Api;

internal static class RequestLimits
{
    /// <summary>Kestrel and the form reader refuse bodies larger than ImageRetrieval:Limits:MaxRequestBytes (a 413 problem).</summary>
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
}
