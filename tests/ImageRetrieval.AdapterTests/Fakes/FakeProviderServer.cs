using System.Collections.Concurrent;
using System.Text;
using ImageRetrieval.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ImageRetrieval.AdapterTests.Fakes;

/// <summary>One request as the fake provider saw it.</summary>
public sealed record RecordedRequest(string Method, string Path, QueryString Query, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public string? QueryValue(string name) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(Query.Value).TryGetValue(name, out var v) ? v.ToString() : null;
}

/// <summary>A canned answer the fake gives instead of its normal one (to script 429/5xx/4xx paths).</summary>
public sealed record ScriptedAnswer(int Status, string Body = "", string ContentType = "application/json", IReadOnlyDictionary<string, string>? Headers = null)
{
    /// <summary>When set, only requests whose path contains this text consume the answer.</summary>
    public string? PathContains { get; init; }
}

/// <summary>
/// A Kestrel server on 127.0.0.1 with a random port that records every request and can be told to
/// answer the next matching requests with scripted statuses before its normal, stateful behaviour.
/// Subclasses map the provider's documented endpoints.
/// </summary>
public abstract class FakeProviderServer : IAsyncDisposable
{
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly List<ScriptedAnswer> _script = [];
    private WebApplication? _app;

    public Uri BaseUri { get; private set; } = new("http://127.0.0.1/");

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public void ClearRequests() => _requests.Clear();

    /// <summary>The next request(s) matching get these answers, in order.</summary>
    public void Script(params ScriptedAnswer[] answers)
    {
        lock (_script)
        {
            _script.AddRange(answers);
        }
    }

    public async Task StartAsync()
    {
        _app = await LoopbackServer.StartAsync(MapRecorded, kestrel => kestrel.Limits.MaxRequestBodySize = 64 * 1024 * 1024);
        BaseUri = new Uri(_app.Addresses().First().TrimEnd('/') + "/");
    }

    private void MapRecorded(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            context.Request.EnableBuffering();
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            context.Request.Body.Position = 0;
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            _requests.Enqueue(new RecordedRequest(context.Request.Method, context.Request.Path.Value ?? "", context.Request.QueryString, headers, buffer.ToArray()));

            ScriptedAnswer? scripted = null;
            lock (_script)
            {
                var index = _script.FindIndex(a => a.PathContains is null || (context.Request.Path.Value ?? "").Contains(a.PathContains, StringComparison.Ordinal));
                if (index >= 0)
                {
                    scripted = _script[index];
                    _script.RemoveAt(index);
                }
            }

            if (scripted is not null)
            {
                context.Response.StatusCode = scripted.Status;
                foreach (var (name, value) in scripted.Headers ?? new Dictionary<string, string>())
                {
                    context.Response.Headers[name] = value;
                }

                context.Response.ContentType = scripted.ContentType;
                await context.Response.WriteAsync(scripted.Body);
                return;
            }

            await next(context);
        });
        Map(app);
    }

    protected abstract void Map(WebApplication app);

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}
