using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using ImageRetrieval.Infrastructure.Abstractions;
using ImageRetrieval.SharedKernel;
using Microsoft.Extensions.Options;

namespace ImageRetrieval.Infrastructure.BlobStores.Local;

/// <summary>
/// Blobs as files under <c>&lt;DataPath&gt;/blobs/&lt;key&gt;</c>. A put writes a hidden temp file in
/// the target's directory, fsyncs it, renames it into place and fsyncs the directory, so a reader never
/// sees a half-written image, an acknowledged blob survives power loss, and a crash leaves at worst a
/// temp file that listing ignores.
/// </summary>
internal sealed partial class LocalBlobStore : IBlobStore
{
    public const string Name = "Local";

    private const string DirectoryName = "blobs";
    private const string TempSuffix = ".tmp";
    private const int MaxKeyLength = 512;

    private readonly string _root;

    public LocalBlobStore(IOptions<ServiceOptions> options)
    {
        _root = Path.Combine(options.Value.FullDataPath, DirectoryName);
    }

    public string ProviderName => Name;

    /// <summary>The directory that holds every blob.</summary>
    public string RootPath => _root;

    public async Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken)
    {
        var target = PathOf(key);
        if (File.Exists(target))
        {
            // Content-addressed: the same key always holds the same bytes.
            return;
        }

        var directory = Path.GetDirectoryName(target)!;
        var temp = Path.Combine(directory, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            Directory.CreateDirectory(directory);
            var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
            await using (stream)
            {
                await stream.WriteAsync(content, cancellationToken);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, target, overwrite: false);

            // The rename is durable only once the directory entry is: without this a power cut can lose
            // a blob whose vector (the commit point, fsynced by SQLite) survives.
            DurableFiles.FlushDirectory(directory);
        }
        catch (IOException) when (File.Exists(target))
        {
            // Another writer put the same key first; its bytes are ours.
            TryDelete(temp);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new StoreUnavailableException(Name, $"cannot write {DescribeLocation(key)}: {ex.Message}", ex);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public Task<BlobContent?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            // FileShare.Delete: a concurrent delete must not fail because a download is streaming.
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 64 * 1024,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
            return Task.FromResult<BlobContent?>(new BlobContent(stream, ImageFileTypes.ContentTypeOf(key), stream.Length));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<BlobContent?>(null);
        }
    }

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(File.Exists(path));
    }

    /// <summary>A stat per key in this process: no round trip to save, so no concurrency to add.</summary>
    public Task<IReadOnlySet<string>> FindMissingAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var missing = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!File.Exists(PathOf(key)))
            {
                missing.Add(key);
            }
        }

        return Task.FromResult<IReadOnlySet<string>>(missing);
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
            // Missing is fine.
        }

        return Task.CompletedTask;
    }

    /// <summary>Keys starting with <paramref name="prefix"/>, in no particular order; temp files are skipped.</summary>
    public async IAsyncEnumerable<string> ListKeysAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length > 0 && !PrefixPattern().IsMatch(prefix))
        {
            throw new ArgumentException($"'{prefix}' is not a valid key prefix: use lowercase letters, digits and '/._-', without '..'.", nameof(prefix));
        }

        // Walk only the deepest directory the prefix names; the rest of the prefix filters file names.
        var slash = prefix.LastIndexOf('/');
        var start = slash < 0 ? _root : Path.Combine(_root, prefix[..slash]);
        if (!Directory.Exists(start))
        {
            yield break;
        }

        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.None };
        foreach (var file in Directory.EnumerateFiles(start, "*", options))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (key.StartsWith(prefix, StringComparison.Ordinal) && KeyPattern().IsMatch(key))
            {
                yield return key;
            }
        }

        await Task.CompletedTask;
    }

    /// <summary>Files cannot be signed; the API streams them through its own content endpoint instead.</summary>
    public Task<Uri?> TryGetSignedUrlAsync(string key, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        return Task.FromResult<Uri?>(null);
    }

    public string DescribeLocation(string key)
    {
        ValidateKey(key);
        return DirectoryName + "/" + key;
    }

    /// <summary>Creates the directory if needed and proves it is writable with a probe file.</summary>
    public async Task CheckReachableAsync(CancellationToken cancellationToken)
    {
        var probe = Path.Combine(_root, $".probe.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            Directory.CreateDirectory(_root);
            await File.WriteAllBytesAsync(probe, [1], cancellationToken);
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(probe);
            throw new StoreUnavailableException(Name, $"{_root} is not writable: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Keys are relative paths of lowercase segments; no segment may start with '.', which rules out
    /// '.', '..' and hidden names (temp files are hidden, so they can never collide with a key).
    /// </summary>
    internal static void ValidateKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length is 0 or > MaxKeyLength || !KeyPattern().IsMatch(key))
        {
            throw new ArgumentException(
                $"'{key}' is not a valid blob key: use relative paths of lowercase letters, digits and '._-' segments separated by '/', no segment starting with '.', at most {MaxKeyLength} characters.",
                nameof(key));
        }
    }

    private string PathOf(string key)
    {
        ValidateKey(key);
        var path = Path.GetFullPath(Path.Combine(_root, key));

        // Belt and braces: the pattern already forbids anything that could leave the root.
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{key}' resolves outside the blob directory.", nameof(key));
        }

        return path;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A leftover temp file is hidden from listing; nothing else to do.
        }
    }

    [GeneratedRegex("^[a-z0-9_-][a-z0-9._-]*(/[a-z0-9_-][a-z0-9._-]*)*\\z", RegexOptions.CultureInvariant)]
    private static partial Regex KeyPattern();

    [GeneratedRegex("^([a-z0-9_-][a-z0-9._-]*/)*([a-z0-9_-][a-z0-9._-]*)?\\z", RegexOptions.CultureInvariant)]
    private static partial Regex PrefixPattern();
}
