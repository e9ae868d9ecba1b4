namespace ImageRetrieval.Host.Cli;

/// <summary>The verbs' usage text and the one way they read an option (<c>--name value</c>).</summary>
internal static class CommandLineArguments
{
    public const string Usage = """
        usage: ImageRetrieval.Host [command]
          (no command)            run the web service
          ingest DIR [--concurrency N] [--metadata JSON] [--server URL [--api-key KEY]]
                                  ingest every image under DIR (recursive); safe to re-run: stored images are skipped.
                                  With --server, send them to a running service over HTTP instead of opening the stores
                                  (the key may also come from IMAGE_RETRIEVAL_API_KEY)
          reindex                 build the configured model's collection beside the active one, then switch to it;
                                  the service keeps serving the old one meanwhile; re-run to resume after a stop
          reconcile               delete stored blobs that have no vector (refused while a reindex is unfinished)
          compact                 reclaim the vector slots of overwritten and deleted images in the Local store
                                  (the service does so itself once half its slots are dead; refused while it runs)
          download-model          fetch and verify the configured model into the cache, then exit
          search "TEXT" [--top N] [--filter JSON]
          search --image FILE [--top N] [--filter JSON]
                                  print the stored images closest to a sentence (needs a model with a text tower) or to an image
        """;

    /// <summary>The value after <paramref name="name"/>, or null when the option is absent or last.</summary>
    public static string? OptionValue(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
