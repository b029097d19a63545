using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace KfuncForge.Vm;

/// <summary>
/// A folder of artifacts named by the hash of their inputs (initramfs images, the agent, BPF objects,
/// vmlinux.h). An entry is made in a temporary folder and renamed into place, so a reader never sees a
/// half-written entry and two processes making the same entry both end up with a complete one.
/// </summary>
public sealed class ContentCache(string root)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _inflight = new(StringComparer.Ordinal);

    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>$XDG_CACHE_HOME/kfuncforge, else ~/.cache/kfuncforge.</summary>
    public static string DefaultRoot()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "kfuncforge");
    }

    /// <summary>The entry's folder: made by <paramref name="make"/> (which fills the folder it is given) when missing.</summary>
    public Task<string> GetOrCreateAsync(string kind, string key, Func<string, Task> make)
    {
        var final = Path.Combine(Root, kind, key);
        if (Directory.Exists(final)) return Task.FromResult(final);
        var lazy = _inflight.GetOrAdd(final, f => new Lazy<Task<string>>(() => CreateAsync(f, make)));
        return lazy.Value;
    }

    /// <summary>Whether an entry exists already (for reporting cache hits).</summary>
    public bool Contains(string kind, string key) => Directory.Exists(Path.Combine(Root, kind, key));

    private async Task<string> CreateAsync(string final, Func<string, Task> make)
    {
        try
        {
            if (Directory.Exists(final)) return final;
            Directory.CreateDirectory(Path.GetDirectoryName(final)!);
            var temp = final + ".tmp-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8];
            Directory.CreateDirectory(temp);
            try
            {
                await make(temp).ConfigureAwait(false);
                try
                {
                    Directory.Move(temp, final);
                }
                catch (IOException) when (Directory.Exists(final))
                {
                    // Another process made the same entry first; its content is the same by construction.
                }
            }
            finally
            {
                if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            }
            return final;
        }
        finally
        {
            _inflight.TryRemove(final, out _);
        }
    }
}

/// <summary>SHA-256 helpers for cache keys.</summary>
public static class Hashing
{
    public static string File(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public static string Text(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public static string Bytes(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>One key from several parts (each part is length-prefixed, so ("ab","c") and ("a","bc") differ).</summary>
    public static string Combine(IEnumerable<string> parts)
    {
        var sb = new StringBuilder();
        foreach (var p in parts) sb.Append(p.Length).Append(':').Append(p).Append('\n');
        return Text(sb.ToString());
    }

    public static string Short(string hash) => hash[..16];
}
