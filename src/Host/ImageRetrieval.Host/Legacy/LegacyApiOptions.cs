namespace ImageRetrieval.Host.Legacy;

/// <summary><c>ImageRetrieval:LegacyApi</c>: the drop-in routes for clients of the old Python services.</summary>
internal sealed class LegacyApiOptions
{
    public const string Section = "ImageRetrieval:LegacyApi";

    /// <summary>Off by default: the routes are then not mapped at all (404) and absent from the OpenAPI document.</summary>
    public bool Enabled { get; set; }
}
