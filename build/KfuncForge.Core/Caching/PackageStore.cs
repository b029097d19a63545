using System.Security.Cryptography;
using KfuncForge.Diagnostics;

namespace KfuncForge.Caching;

/// <summary>
/// Downloaded packages, content-addressed: packages/sha256/&lt;hash&gt;.deb. A file enters only after its
/// SHA256 matched the one the package index promised, by an atomic rename from a temporary name, so a
/// name in the store always means a complete, verified file.
/// </summary>
public sealed class PackageStore(CacheDirectory cache)
{
    public string PathOf(string sha256, string extension = ".deb") => Path.Combine(cache.Packages, sha256.ToLowerInvariant() + extension);

    public bool Contains(string sha256, string extension = ".deb") => File.Exists(PathOf(sha256, extension));

    public enum Stored { Missing, Whole, Evicted }

    /// <summary>
    /// Whether the store holds the file with bytes that still hash to its name. A file whose bytes do not
    /// (a flipped bit, a truncated copy) is evicted and reported (Evicted), so the caller fetches it again.
    /// </summary>
    public Stored Verify(string sha256, string what, Action<string> log, string extension = ".deb")
    {
        var path = PathOf(sha256, extension);
        if (!File.Exists(path)) return Stored.Missing;
        string actual;
        try
        {
            actual = Sha256Of(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            actual = $"unreadable ({e.Message})";
        }
        if (string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase)) return Stored.Whole;
        log($"cache entry {path} ({what}) is damaged: its bytes hash to {actual}; evicting it and fetching it again");
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StageException($"cache entry {path} ({what}) is damaged and cannot be removed ({e.Message}); delete it by hand and run again");
        }
        return Stored.Evicted;
    }

    /// <summary>Verifies a downloaded file against its expected SHA256 (and size when known) and moves it into the store.</summary>
    public string Add(string downloaded, string expectedSha256, long? expectedSize, string what, string extension = ".deb")
    {
        var final = PathOf(expectedSha256, extension);
        if (File.Exists(final))
        {
            File.Delete(downloaded);
            return final;
        }
        var size = new FileInfo(downloaded).Length;
        if (expectedSize is { } want && size != want)
        {
            File.Delete(downloaded);
            throw new StageException($"{what}: the download is {size} bytes but the index says {want} (interrupted download?); it was discarded, nothing entered the cache. Run again.");
        }
        var actual = Sha256Of(downloaded);
        if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(downloaded);
            throw new StageException($"{what}: SHA256 {actual} does not match the index's {expectedSha256.ToLowerInvariant()}; the file was discarded, nothing entered the cache. Run again; if it repeats, the mirror is serving a bad file.");
        }
        Directory.CreateDirectory(cache.Packages);
        var temp = final + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            File.Move(downloaded, temp);
            File.Move(temp, final, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            CacheDirectory.DeleteQuietly(temp);
            throw CacheErrors.Describe(e, cache.Root, $"storing {what}") ?? throw new StageException($"cannot store {what} in the cache: {e.Message}");
        }
        return final;
    }

    /// <summary>Copies a file into the store under its own SHA256 (copy to a temporary name, verify, rename).</summary>
    public string AddCopy(string source, string expectedSha256, string what, string extension = ".deb")
    {
        var final = PathOf(expectedSha256, extension);
        if (File.Exists(final)) return final;
        Directory.CreateDirectory(cache.Packages);
        var temp = final + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            File.Copy(source, temp);
            return Add(temp, expectedSha256, null, what, extension);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            CacheDirectory.DeleteQuietly(temp);
            throw CacheErrors.Describe(e, cache.Root, $"storing {what}") ?? throw new StageException($"cannot store {what} in the cache: {e.Message}");
        }
    }

    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
