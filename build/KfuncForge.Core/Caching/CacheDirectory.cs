using KfuncForge.Diagnostics;

namespace KfuncForge.Caching;

/// <summary>
/// The on-disk cache shared by every run: rootfs images, apt indexes, downloaded packages (by SHA256),
/// extracted kernels with their facts. Every entry is created in a temporary folder beside its final
/// place and renamed into place whole, under a lock, so concurrent or interrupted runs never leave an
/// entry that looks valid but is not. Layout: docs/kernels.md.
/// </summary>
public sealed class CacheDirectory
{
    public CacheDirectory(string root) => Root = Path.GetFullPath(root);

    public string Root { get; }

    public string Rootfs => Path.Combine(Root, "rootfs");
    public string Apt => Path.Combine(Root, "apt");
    public string Packages => Path.Combine(Root, "packages", "sha256");
    /// <summary>
    /// Kernel entries, under a root per entry format: a newer KfuncForge makes its own entries beside an older one's
    /// and never deletes them, so two versions can share the cache while both run (kernels/ held format 1; it can be deleted by hand).
    /// </summary>
    public string Kernels => Path.Combine(Root, "kernels-v" + global::KfuncForge.Kernels.KernelFactsDocument.CurrentFormat);
    public string Locks => Path.Combine(Root, "locks");
    public string Scratch => Path.Combine(Root, "tmp");

    public string LockFile(string name) => Path.Combine(Locks, name + ".lock");

    /// <summary>$XDG_CACHE_HOME/kfuncforge, else ~/.cache/kfuncforge.</summary>
    public static string DefaultRoot()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "kfuncforge");
    }

    /// <summary>Creates the cache's folders and proves it can write there, failing early with a clear message.</summary>
    public CacheDirectory EnsureWritable()
    {
        try
        {
            foreach (var dir in new[] { Root, Rootfs, Apt, Packages, Kernels, Locks, Scratch }) Directory.CreateDirectory(dir);
            var probe = Path.Combine(Scratch, $".probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllText(probe, "kfuncforge");
            File.Delete(probe);
            return this;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CacheErrors.Describe(e, Root, "checking that it is writable")
                  ?? new StageException($"cannot use the cache {Root}: {e.Message}. Pass --cache=<writable dir>.");
        }
    }

    /// <summary>A fresh private folder beside where an entry will live, on the same file system (so the final rename is atomic).</summary>
    public static string NewStaging(string parent, string name)
    {
        Directory.CreateDirectory(parent);
        var path = Path.Combine(parent, $".tmp-{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Renames a finished staging folder to its final name; false when another run published it first (the staging copy is dropped).</summary>
    public static bool Publish(string staging, string final)
    {
        try
        {
            Directory.Move(staging, final);
            return true;
        }
        catch (IOException) when (Directory.Exists(final))
        {
            DeleteQuietly(staging);
            return false;
        }
    }

    /// <summary>
    /// Removes staging folders that interrupted runs left behind (never a published entry): those whose
    /// run (the process id in the name) is gone, and any older than olderThan.
    /// </summary>
    public static void SweepStaging(string parent, TimeSpan olderThan)
    {
        if (!Directory.Exists(parent)) return;
        foreach (var dir in Directory.GetDirectories(parent, ".tmp-*"))
            if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) > olderThan || OwnerIsGone(Path.GetFileName(dir)))
                DeleteQuietly(dir);
    }

    /// <summary>.tmp-&lt;name&gt;-&lt;pid&gt;-&lt;guid&gt;: true when that process no longer exists.</summary>
    public static bool OwnerIsGone(string stagingName)
    {
        var parts = stagingName.Split('-');
        if (parts.Length < 3 || !int.TryParse(parts[^2], out var pid)) return false;
        if (pid == Environment.ProcessId) return false;
        return !Directory.Exists($"/proc/{pid}") && OperatingSystem.IsLinux();
    }

    public static void DeleteQuietly(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, true);
            else if (File.Exists(path)) File.Delete(path);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
