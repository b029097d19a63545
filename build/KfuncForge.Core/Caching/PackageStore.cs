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
