using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ImageRetrieval.Bench;

/// <summary>
/// Collects one bench's rows, prints them as a table, appends one JSON line per row to
/// <c>latest.jsonl</c> and a Markdown section (machine, load, command, table, notes) to <c>latest.md</c>.
/// </summary>
internal sealed class Report(string bench, string command, string resultsDirectory)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };
    private readonly List<(string Column, string Format)> columns = [];
    private readonly List<Dictionary<string, object>> rows = [];
    private readonly List<string> notes = [];
    private readonly DateTimeOffset started = DateTimeOffset.UtcNow;
    private readonly string loadBefore = Machine.LoadAverage();

    public string Command => command;

    /// <summary>Declares a column of the printed table; <paramref name="format"/> is a .NET numeric format.</summary>
    public Report Column(string name, string format = "")
    {
        columns.Add((name, format));
        return this;
    }

    public void Row(Dictionary<string, object> row)
    {
        rows.Add(row);
        Console.WriteLine("  " + string.Join("  ", columns.Select(c => $"{c.Column}={Format(row.GetValueOrDefault(c.Column), c.Format)}")));
    }

    public void Note(string note)
    {
        notes.Add(note);
        Console.WriteLine("  note: " + note);
    }

    public void Flush()
    {
        var table = Table();
        Console.WriteLine();
        Console.WriteLine(table);
        Directory.CreateDirectory(resultsDirectory);

        var jsonl = new StringBuilder();
        foreach (var row in rows)
        {
            var line = new JsonObject
            {
                ["ts"] = started.ToString("O", CultureInfo.InvariantCulture),
                ["bench"] = bench,
                ["command"] = command,
                ["cpu"] = Machine.CpuModel,
                ["cores"] = Environment.ProcessorCount,
                ["load_before"] = loadBefore,
            };
            foreach (var (key, value) in row)
            {
                line[key] = JsonSerializer.SerializeToNode(value, value.GetType(), JsonOptions);
            }

            jsonl.AppendLine(line.ToJsonString(JsonOptions));
        }

        File.AppendAllText(Path.Combine(resultsDirectory, "latest.jsonl"), jsonl.ToString());

        var markdown = Path.Combine(resultsDirectory, "latest.md");
        var md = new StringBuilder();
        if (!File.Exists(markdown))
        {
            md.AppendLine("# Benchmark results").AppendLine();
        }

        md.AppendLine(CultureInfo.InvariantCulture, $"## {bench}").AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"- command: `{command}`")
            .AppendLine(CultureInfo.InvariantCulture, $"- date: {started:yyyy-MM-dd HH:mm:ss} UTC")
            .AppendLine(CultureInfo.InvariantCulture, $"- CPU: {Machine.CpuModel}, {Environment.ProcessorCount} logical cores")
            .AppendLine(CultureInfo.InvariantCulture, $"- load average before / after: {loadBefore} / {Machine.LoadAverage()}")
            .AppendLine()
            .AppendLine(table);
        foreach (var note in notes)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
        }

        md.AppendLine();
        File.AppendAllText(markdown, md.ToString());
    }

    private string Table()
    {
        var sb = new StringBuilder();
        sb.Append("| ").AppendJoin(" | ", columns.Select(c => c.Column)).AppendLine(" |");
        sb.Append('|').AppendJoin('|', columns.Select(_ => " --- ")).AppendLine("|");
        foreach (var row in rows)
        {
            sb.Append("| ").AppendJoin(" | ", columns.Select(c => Format(row.GetValueOrDefault(c.Column), c.Format))).AppendLine(" |");
        }

        return sb.ToString().TrimEnd();
    }

    private static string Format(object? value, string format) => value switch
    {
        null => "",
        double d => d.ToString(string.IsNullOrEmpty(format) ? "0.##" : format, CultureInfo.InvariantCulture),
        float f => f.ToString(string.IsNullOrEmpty(format) ? "0.##" : format, CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(format, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

internal static class Machine
{
    public static string CpuModel { get; } = ReadCpuModel();

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    private static string ReadCpuModel()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/cpuinfo");
            string Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l[name.Length..].TrimStart().StartsWith(':'))
                ?.Split(':', 2)[1].Trim() ?? "?";
            var flags = Field("flags").Split(' ');
            var isa = new[] { "avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile" }.Where(flags.Contains);
            return $"{Field("model name")} (family {Field("cpu family")}, model {Field("model")}; {string.Join(' ', isa)})";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
