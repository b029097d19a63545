using System.Runtime.InteropServices;
using KfuncForge.Diagnostics;

namespace KfuncForge.Packaging;

/// <summary>
/// Publishes a folder atomically: <c>&lt;target&gt;</c> is a symbolic link to a generation folder
/// <c>.&lt;name&gt;.gen-&lt;id&gt;</c> beside it. A new generation is built completely, then the link is
/// replaced with one rename(2); a run that fails or is interrupted before that leaves the link, and
/// so the previous repository, untouched. The previous generation is kept until the next run (clients
/// mid-download keep reading it); older ones are removed.
/// Runs publishing to the same target take turns (an advisory lock, <c>.&lt;name&gt;.lock</c> beside it, held
/// from the first file of the new generation to the clean-up): otherwise one run's clean-up would delete the
/// generation another run is still building, and the link could end up pointing at nothing.
/// </summary>
public static partial class AtomicPublisher
{
    [DllImport("libc", EntryPoint = "rename", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false)]
    private static extern int Rename(string oldPath, string newPath);

    /// <summary>How long a run waits for another run publishing to the same place.</summary>
    public static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(30);

    public static string LockFile(string target)
    {
        var full = Path.GetFullPath(target).TrimEnd('/');
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.lock");
    }

    public static async Task<string> PublishAsync(string target, Func<string, Task> build, Action<string>? log = null)
    {
        var full = Path.GetFullPath(target).TrimEnd('/');
        var parent = Path.GetDirectoryName(full)!;
        var name = Path.GetFileName(full);
        Directory.CreateDirectory(parent);
        using var held = Caching.FileLock.Acquire(LockFile(full), LockTimeout, $"publishing {full}", log);
        var info = new FileInfo(full);
        string? previous = null;
        if (info.Exists || Directory.Exists(full))
        {
            if (info.LinkTarget is null && new DirectoryInfo(full).LinkTarget is null)
                throw new InputException(new Problem(full, 0, 0, "", "exists and is not a repository published by KfuncForge (a symbolic link to a generation folder); move it away first"));
            previous = new DirectoryInfo(full).LinkTarget;
        }

        var generation = $".{name}.gen-{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid().ToString("N")[..8]}";
        var generationPath = Path.Combine(parent, generation);
        Directory.CreateDirectory(generationPath);
        try
        {
            await build(generationPath).ConfigureAwait(false);
        }
        catch
        {
            Directory.Delete(generationPath, recursive: true);
            throw;
        }

        var link = Path.Combine(parent, $".{name}.link-{Guid.NewGuid():N}");
        File.CreateSymbolicLink(link, generation);
        // rename(2) replaces the link atomically (File.Move follows the link to the folder and refuses).
        if (Rename(link, full) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            File.Delete(link);
            Directory.Delete(generationPath, recursive: true);
            throw new StageException($"cannot publish {full}: rename failed (errno {errno}); the previous repository is unchanged");
        }

        foreach (var old in Directory.GetDirectories(parent, $".{name}.gen-*"))
        {
            var oldName = Path.GetFileName(old);
            if (oldName != generation && oldName != previous) Directory.Delete(old, recursive: true);
        }
        return generationPath;
    }
}
