using System.Collections.Concurrent;
using System.Globalization;

namespace ImageRetrieval.Infrastructure.Adapters;

/// <summary>
/// One writer per Local data directory. The Local vector store mirrors its file in memory, so a second
/// process writing the same file would leave the first one's mirror (and its answers) stale. The lock
/// is an exclusive open of <c>&lt;DataPath&gt;/.lock</c> (<see cref="FileShare.None"/>, which .NET takes
/// as <c>flock(LOCK_EX | LOCK_NB)</c> on Unix): the kernel drops it when the process ends, kill -9
/// included, so a crash never leaves a stale lock. Who holds it is written beside it, in
/// <c>.lock.owner</c>, because the locked file itself cannot be opened by anyone else to read.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    /// <summary>Held by the service and by every command that writes the active collection.</summary>
    public const string WriterLockName = ".lock";

    /// <summary>Held by <c>reindex</c>, which never writes the active collection and so may run beside the service.</summary>
    public const string ReindexLockName = ".reindex.lock";

    private static readonly ConcurrentDictionary<string, int> HeldInThisProcess = new(StringComparer.Ordinal);

    private readonly FileStream _stream;
    private readonly string _key;
    private int _disposed;

    private DataDirectoryLock(FileStream stream, string key, string directory)
    {
        _stream = stream;
        _key = key;
        Directory = directory;
    }

    public string Directory { get; }

    /// <summary>
    /// Takes <paramref name="lockName"/> in <paramref name="dataPath"/> at once or throws
    /// <see cref="DataDirectoryInUseException"/> naming the process that holds it; never waits.
    /// </summary>
    public static DataDirectoryLock Acquire(string dataPath, string lockName, string purpose)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataPath);
        var directory = Path.GetFullPath(dataPath);
        System.IO.Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, lockName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.None);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new DataDirectoryInUseException(directory, lockName, ReadOwner(path), ex);
        }

        try
        {
            var owner = string.Create(CultureInfo.InvariantCulture, $"pid={Environment.ProcessId} purpose={purpose} since={DateTimeOffset.UtcNow:O}\n");
            File.WriteAllText(OwnerPath(path), owner);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The lock is what counts; the owner note only makes the refusal message better.
        }

        var key = path;
        HeldInThisProcess.AddOrUpdate(key, 1, (_, count) => count + 1);
        return new DataDirectoryLock(stream, key, directory);
    }

    /// <summary>Whether this process holds the writer lock of <paramref name="dataPath"/>.</summary>
    public static bool IsHeldByThisProcess(string dataPath) =>
        HeldInThisProcess.TryGetValue(Path.Combine(Path.GetFullPath(dataPath), WriterLockName), out var count) && count > 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        HeldInThisProcess.AddOrUpdate(_key, 0, (_, count) => count - 1);
        _stream.Dispose();
    }

    private static string OwnerPath(string lockPath) => lockPath + ".owner";

    private static string? ReadOwner(string lockPath)
    {
        try
        {
            return File.ReadAllText(OwnerPath(lockPath)).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

public sealed class DataDirectoryInUseException(string directory, string lockName, string? owner, Exception inner)
    : Exception(Describe(directory, lockName, owner), inner)
{
    /// <summary>What the holder wrote about itself (<c>pid=... purpose=... since=...</c>), when readable.</summary>
    public string? Owner { get; } = owner;

    private static string Describe(string directory, string lockName, string? owner)
    {
        var who = owner is { Length: > 0 } ? $"another process ({owner})" : "another process";
        return lockName == DataDirectoryLock.ReindexLockName
            ? $"A reindex is already running on data directory {directory}: it is in use by {who}."
            : $"Data directory {directory} is in use by {who}. One process at a time owns a Local data directory: stop it first, " +
              "or send images to the running service with `ingest DIR --server URL`.";
    }
}
