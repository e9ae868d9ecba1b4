namespace ImageRetrieval.Infrastructure.Onnx;

/// <summary>Turns the configured model source into files on disk, downloading from the hub when it is a repo id.</summary>
public sealed class ModelResolver(HubModelDownloader downloader)
{
    public async Task<ModelFiles> ResolveAsync(ModelSourceOptions options, string defaultCacheRoot, CancellationToken cancellationToken)
    {
        if (Directory.Exists(options.Model))
        {
            var full = Path.GetFullPath(options.Model);
            return ModelFiles.FromDirectory(full, Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar)), options.Quantized);
        }

        var cacheRoot = options.CacheDirectory is { Length: > 0 } configured ? Path.GetFullPath(configured) : defaultCacheRoot;
        return await downloader.DownloadAsync(options, cacheRoot, cancellationToken);
    }
}
