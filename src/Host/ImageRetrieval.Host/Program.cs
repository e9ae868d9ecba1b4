using ImageRetrieval.Embedding;
using ImageRetrieval.Host;
using ImageRetrieval.Host.Api;
using ImageRetrieval.Host.Cli;
using ImageRetrieval.Host.Legacy;
using ImageRetrieval.Ingesting;
using ImageRetrieval.Retrieval;

if (CommandLine.IsCommand(args))
{
    return await CommandLine.RunAsync(args);
}

// appsettings.json sits beside the binary; relative data paths still resolve against the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.Services.AddImageRetrieval(builder.Configuration);
builder.Services.AddDataDirectoryLock(builder.Configuration, "service", ImageRetrieval.Infrastructure.Adapters.DataDirectoryLock.WriterLockName);

var app = builder.Build();
if (!DataDirectoryOwnership.TryTake(app.Services))
{
    return DataDirectoryOwnership.InUseExitCode;
}

app.UseServiceDefaults();
app.MapApiV1()
    .MapEmbeddingApi()
    .MapIngestingApi()
    .MapRetrievalApi();
app.MapLegacyApi();
app.MapSearchPage();

await app.RunAsync();
return 0;

public partial class Program;
