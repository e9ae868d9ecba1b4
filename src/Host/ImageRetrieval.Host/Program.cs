using ImageRetrieval.Embedding;
using ImageRetrieval.Host;
using ImageRetrieval.Host.Api;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Services.AddEmbedding(builder.Configuration);
builder.Services.AddApplicationMediator();

var app = builder.Build();

app.UseServiceDefaults();
var api = app.MapApiV1();
api.MapEmbeddingApi();

app.Run();

public partial class Program;
