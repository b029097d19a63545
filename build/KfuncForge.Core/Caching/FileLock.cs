using System.Diagnostics;
using KfuncForge.Diagnostics;

namespace KfuncForge.Caching;

/// <summary>
/// An exclusive advisory lock on a file (flock through FileShare.None), so two runs never build the
/// same cache entry at once. The kernel drops it when the process dies, so a killed run leaves no stale lock.
/// </summary>
public sealed class FileLock : IDisposable
{
    private readonly FileStream _stream;

    private FileLock(FileStream stream, string path)
    {
        _stream = stream;
        Path = path;
    }

    public string Path { get; }

    /// <summary>Takes the lock immediately, or returns null when another holder has it.</summary>
    public static FileLock? TryAcquire(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            stream.SetLength(0);
            var owner = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
            stream.Write(owner);
            stream.Flush();
            return new FileLock(stream, path);
        }
        catch (IOException e) when (!CacheErrors.IsDiskFull(e))
        {
            return null;
        }
    }

    /// <summary>Waits for the lock (telling the user once what it waits for), up to timeout; then fails with a clear message.</summary>
    public static FileLock Acquire(string path, TimeSpan timeout, string what, Action<string>? onWait = null)
    {
        var watch = Stopwatch.StartNew();
        var told = false;
        while (true)
        {
            if (TryAcquire(path) is { } held) return held;
            if (!told)
            {
                onWait?.Invoke($"waiting for another kfuncforge run that is {what} (lock {path})");
                told = true;
            }
            if (watch.Elapsed > timeout)
                throw new StageException($"gave up after {timeout.TotalSeconds:0} s waiting for another run that is {what}; lock file {path}. If no other kfuncforge is running, the lock is free and this is a bug.");
            Thread.Sleep(200);
        }
    }

    public void Dispose() => _stream.Dispose();
}
