using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using KfuncForge.Caching;

namespace KfuncForge.Vm;

/// <summary>
/// The VM stage's entries in the shared cache (<see cref="CacheDirectory"/>): artifacts named by the hash
/// of their inputs (initramfs images, the agent, BPF objects, vmlinux.h). An entry is made in a staging
/// folder and renamed into place with the cache's own protocol, so a reader never sees a half-written
/// entry, two processes making the same entry both end up with a complete one, and an interrupted run's
/// staging folder is swept like any other.
/// </summary>
public sealed class ContentCache(string root)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _inflight = new(StringComparer.Ordinal);

    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>The shared cache's root (<see cref="CacheDirectory.DefaultRoot"/>).</summary>
    public static string DefaultRoot() => CacheDirectory.DefaultRoot();

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
            var parent = Path.GetDirectoryName(final)!;
            CacheDirectory.SweepStaging(parent, TimeSpan.FromDays(1));
            var staging = CacheDirectory.NewStaging(parent, Path.GetFileName(final));
            try
            {
                await make(staging).ConfigureAwait(false);
                // false: another process made the same entry first; its content is the same by construction.
                CacheDirectory.Publish(staging, final);
            }
            finally
            {
                CacheDirectory.DeleteQuietly(staging);
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
    /// <summary>
    /// SHA-256 of a file's bytes, remembered for the process by path, size and write time: keys hash the same large
    /// files (vmlinux, vmlinux.h, kernel images) many times per run, and a file that changes gets a new write time.
    /// </summary>
    public static string File(string path)
    {
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (!info.Exists) throw new FileNotFoundException($"Could not find file '{full}'.", full);
        var stamp = (info.Length, info.LastWriteTimeUtc.Ticks);
        if (Memo.TryGetValue(full, out var known) && known.Stamp == stamp) return known.Hash;
        using var stream = System.IO.File.OpenRead(full);
        var hash = Convert.ToHexStringLower(SHA256.HashData(stream));
        Memo[full] = (stamp, hash);
        return hash;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ((long, long) Stamp, string Hash)> Memo = new(StringComparer.Ordinal);

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
