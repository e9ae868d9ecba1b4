using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace ImageRetrieval.Host.Observability;

internal sealed class EcsFormatterOptions
{
    public string ServiceName { get; set; } = "image-retrieval";
}

/// <summary>
/// One JSON object per line in the Elastic Common Schema, so Filebeat -> Logstash -> Elasticsearch
/// ingests them without a parsing pipeline; trace and span ids tie a log line to its trace.
/// </summary>
internal sealed class EcsConsoleFormatter(IOptions<EcsFormatterOptions> options) : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "ecs";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("@timestamp", DateTimeOffset.UtcNow);
            json.WriteString("log.level", LevelName(logEntry.LogLevel));
            json.WriteString("message", message);
            json.WriteString("ecs.version", "8.11.0");
            json.WriteString("log.logger", logEntry.Category);
            json.WriteString("service.name", options.Value.ServiceName);
            if (logEntry.EventId.Id != 0)
            {
                json.WriteNumber("event.code", logEntry.EventId.Id);
            }

            if (Activity.Current is { } activity)
            {
                json.WriteString("trace.id", activity.TraceId.ToHexString());
                json.WriteString("span.id", activity.SpanId.ToHexString());
            }

            if (logEntry.Exception is { } exception)
            {
                json.WriteString("error.type", exception.GetType().FullName);
                json.WriteString("error.message", exception.Message);
                json.WriteString("error.stack_trace", exception.ToString());
            }

            if (logEntry.State is IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                json.WriteStartObject("labels");
                foreach (var (key, value) in fields)
                {
                    if (key != "{OriginalFormat}")
                    {
                        json.WriteString(key, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                    }
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        textWriter.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        LogLevel.Critical => "critical",
        _ => "none",
    };
}
