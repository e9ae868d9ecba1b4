using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ImageRetrieval.IntegrationTests.Host.Observability;

/// <summary>
/// The console log format the Host binary chooses (<c>ImageRetrieval:Logging:Format</c>), read from its stdout
/// as a log collector or a person at a terminal reads it.
/// </summary>
public sealed partial class LogFormatTests
{
    [Theory]
    [InlineData("Production", null, true)]
    [InlineData("Production", "auto", true)]
    [InlineData("Development", null, false)]
    [InlineData("Production", "plain", false)]
    [InlineData("Development", "ecs", true)]
    public async Task Given_an_environment_and_a_format_When_the_service_starts_with_stdout_redirected_Then_it_logs_ecs_json_or_plain_text(
        string environment, string? format, bool expectEcs)
    {
        var line = await FirstLogLineAsync(environment, format, throughTerminal: false);

        AssertFormat(line, expectEcs);
    }

    [SkippableFact]
    public async Task Given_no_format_in_production_When_stdout_is_a_terminal_Then_the_logs_are_plain_text()
    {
        // script(1) gives the service a pseudo-terminal as stdout and copies what it writes to ours.
        Skip.IfNot(File.Exists("/usr/bin/script"), "needs util-linux script(1) to attach a terminal");

        var line = await FirstLogLineAsync("Production", null, throughTerminal: true);

        AssertFormat(AnsiEscape().Replace(line, string.Empty), expectEcs: false);
    }

    private static void AssertFormat(string line, bool expectEcs)
    {
        if (expectEcs)
        {
            using var json = JsonDocument.Parse(line);
            Assert.True(json.RootElement.TryGetProperty("@timestamp", out _), line);
            Assert.Equal("8.11.0", json.RootElement.GetProperty("ecs.version").GetString());
            Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("log.level").GetString()), line);
        }
        else
        {
            Assert.DoesNotContain("{\"@timestamp\"", line, StringComparison.Ordinal);
            Assert.Matches(PlainLine(), line);
        }
    }

    private static async Task<string> FirstLogLineAsync(string environment, string? format, bool throughTerminal)
    {
        var dataPath = Directory.CreateTempSubdirectory("ir-logs-").FullName;
        var environmentVariables = new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = environment, ["ASPNETCORE_URLS"] = "http://127.0.0.1:0" };
        var start = ServiceProcess.HostCommand(dataPath, "vit-tiny", environmentVariables);
        // Only what this case sets decides, not what the test runner inherited.
        start.Environment.Remove("DOTNET_ENVIRONMENT");
        start.Environment.Remove("ImageRetrieval__Logging__Format");
        if (format is not null)
        {
            start.Environment["ImageRetrieval__Logging__Format"] = format;
        }

        if (throughTerminal)
        {
            var command = string.Join(' ', new[] { start.FileName }.Concat(start.ArgumentList).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
            var arguments = new[] { "-qfec", command, "/dev/null" };
            start.FileName = "/usr/bin/script";
            start.ArgumentList.Clear();
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }
        }

        using var process = Process.Start(start)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (!string.IsNullOrWhiteSpace(line))
                {
                    return line.TrimEnd('\r');
                }
            }

            throw new InvalidOperationException("The service wrote no log line; stderr: " + await process.StandardError.ReadToEndAsync(timeout.Token));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            ServiceFactory.TryDelete(dataPath);
        }
    }

    /// <summary>The framework's console format: a level abbreviation, the category and the event id.</summary>
    [GeneratedRegex(@"^(trce|dbug|info|warn|fail|crit): [\w.]+\[\d+\]")]
    private static partial Regex PlainLine();

    /// <summary>What a terminal-aware writer adds: colours, and the console's keypad mode switches (ESC [?1h ESC =).</summary>
    [GeneratedRegex(@"\x1b(\[[0-9;?]*[A-Za-z]|[=>])")]
    private static partial Regex AnsiEscape();
}
