namespace ImageRetrieval.Tests;

/// <summary>Fixtures in the source tree, found the same way whether tests run from bin/ or an artifacts path.</summary>
internal static class RepositoryPaths
{
    public static string RepoRoot { get; } = Find();

    public static string Fixtures => Path.Combine(RepoRoot, "tests", "fixtures");

    public static string Model(string name) => Path.Combine(Fixtures, "models", name);

    public static string Photos => Path.Combine(Fixtures, "photos");

    /// <summary>The full-size photos the parity references were computed on, committed unchanged.</summary>
    public static string OriginalPhotos => Path.Combine(Photos, "originals");

    private static string Find()
    {
        // Stamped at build time by tests/Directory.Build.props.
        var built = typeof(RepositoryPaths).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "RepoRoot")?.Value;
        if (built is not null && File.Exists(Path.Combine(built, "ImageRetrieval.sln")))
        {
            return built;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ImageRetrieval.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ImageRetrieval.sln not found above " + AppContext.BaseDirectory);
    }
}
