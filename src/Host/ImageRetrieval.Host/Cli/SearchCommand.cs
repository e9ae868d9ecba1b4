using System.Globalization;

namespace ImageRetrieval.Host.Cli;

/// <summary><c>search "TEXT"</c> or <c>search --image FILE</c>: print the closest stored images.</summary>
internal static class SearchCommand
{
    public static async Task<int> RunAsync(IMediator mediator, string[] args, CancellationToken cancellationToken)
    {
        var image = CommandLineArguments.OptionValue(args, "--image");
        var top = CommandLineArguments.OptionValue(args, "--top") is { } t ? int.Parse(t, CultureInfo.InvariantCulture) : 10;
        var filter = SharedKernel.Web.FormJson.ParseObject(CommandLineArguments.OptionValue(args, "--filter"), "filter", new ImageLimitsOptions());
        var options = new HashSet<string>(["--image", "--top", "--filter"], StringComparer.Ordinal);
        var positional = args.Where((a, i) => !options.Contains(a) && (i == 0 || !options.Contains(args[i - 1]))).ToList();
        if ((image is null) == (positional.Count == 0) || positional.Count > 1)
        {
            Console.Error.WriteLine(CommandLineArguments.Usage);
            return 2;
        }

        var result = image is not null
            ? await mediator.Send(new Retrieval.Contracts.SearchByImage(new ImageUpload(Path.GetFileName(image), await File.ReadAllBytesAsync(image, cancellationToken)), top, null, filter), cancellationToken)
            : await mediator.Send(new Retrieval.Contracts.SearchByText(positional[0], top, null, filter), cancellationToken);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.Results.Count} results in {result.TookMs:F1} ms"));
        var rank = 0;
        foreach (var hit in result.Results)
        {
            var metadata = hit.Image.Metadata.Count == 0 ? "" : " " + System.Text.Json.JsonSerializer.Serialize(hit.Image.Metadata);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{++rank,3}. {hit.Score:F4}  {hit.Image.Id}  {hit.Image.Width}x{hit.Image.Height}{metadata}"));
        }

        return 0;
    }
}
