using ImageRetrieval.Embedding;
using ImageRetrieval.Host;
using ImageRetrieval.Host.Api;

// appsettings.json sits beside the binary; relative data paths still resolve against the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddServiceDefaults();
builder.Services.AddEmbedding(builder.Configuration);
builder.Services.AddApplicationMediator();

var app = builder.Build();

app.UseServiceDefaults();
var api = app.MapApiV1();
api.MapEmbeddingApi();

app.Run();

public partial class Program;
