namespace ImageRetrieval.Host.Cli;

/// <summary>What storing one file came to.</summary>
internal sealed record IngestOutcome(bool IsNew, string? Error)
{
    public static readonly IngestOutcome Created = new(true, null);
    public static readonly IngestOutcome Existing = new(false, null);

    public static IngestOutcome Failed(string error) => new(false, error);
}
