namespace ImageRetrieval.Host.Observability;

/// <summary>How the service writes its console logs.</summary>
internal enum LogFormat
{
    /// <summary>The framework's console format, for a person at a terminal.</summary>
    Plain,

    /// <summary>One ECS JSON object a line, for a log collector (containers).</summary>
    Ecs,
}

/// <summary>
/// <c>ImageRetrieval:Logging:Format</c>: <c>auto</c> (the default), <c>plain</c> or <c>ecs</c>. Auto writes plain
/// logs when a person is likely to read them (stdout is a terminal, or the environment is Development) and
/// ECS JSON otherwise, which is what a container's redirected stdout gets; the image sets <c>ecs</c> anyway,
/// so <c>docker run -it</c> logs the same as the cluster does.
/// </summary>
internal static class LogFormatSelection
{
    public const string Key = "ImageRetrieval:Logging:Format";

    public static LogFormat Choose(string? configured, bool isDevelopment, bool isOutputRedirected) =>
        configured?.Trim().ToUpperInvariant() switch
        {
            null or "" or "AUTO" => isDevelopment || !isOutputRedirected ? LogFormat.Plain : LogFormat.Ecs,
            // "text" was this setting's only value before auto existed; configurations that set it keep working.
            "PLAIN" or "TEXT" => LogFormat.Plain,
            "ECS" or "JSON" => LogFormat.Ecs,
            _ => throw new InvalidOperationException($"{Key} is '{configured}'; use auto, plain or ecs."),
        };
}
