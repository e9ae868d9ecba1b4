namespace ImageRetrieval.IntegrationTests.Support;

/// <summary>A data directory of the test's own, removed (as far as the OS lets) when the test ends.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix) => Path = Directory.CreateTempSubdirectory(prefix).FullName;

    public string Path { get; }

    /// <summary>A folder in this directory with copies of the first <paramref name="count"/> fixture photos; returns its path.</summary>
    public string AddPhotos(string folder, int count)
    {
        var target = System.IO.Path.Combine(Path, folder);
        Directory.CreateDirectory(target);
        foreach (var photo in Paths.PhotoFiles.Take(count))
        {
            File.Copy(photo, System.IO.Path.Combine(target, System.IO.Path.GetFileName(photo)));
        }

        return target;
    }

    public void Dispose() => ServiceFactory.TryDelete(Path);
}
