namespace ImageRetrieval.UnitTests;

internal static class TestPaths
{
    public static string RepoRoot { get; } = Find();

    public static string Fixtures => Path.Combine(RepoRoot, "tests", "fixtures");

    public static string Model(string name) => Path.Combine(Fixtures, "models", name);

    public static string SharedPhotos => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data", "photos"));

    private static string Find()
    {
        var built = typeof(TestPaths).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
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

        throw new InvalidOperationException("ImageRetrieval.sln not found");
    }
}
