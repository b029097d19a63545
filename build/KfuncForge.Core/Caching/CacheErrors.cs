using KfuncForge.Diagnostics;

namespace KfuncForge.Caching;

/// <summary>Turns file-system failures while writing the cache into clear errors that say the cache was left intact.</summary>
public static class CacheErrors
{
    private const int ENOSPC = 28, EROFS = 30, EACCES = 13, EDQUOT = 122;

    public static bool IsDiskFull(Exception e) =>
        e is IOException io && ((io.HResult & 0xFFFF) is ENOSPC or EDQUOT or 0x70 || io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase));

    public static bool IsUnwritable(Exception e) =>
        e is UnauthorizedAccessException
        || e is IOException io && ((io.HResult & 0xFFFF) is EROFS or EACCES || io.Message.Contains("Read-only file system", StringComparison.OrdinalIgnoreCase));

    /// <summary>The message for a failed cache write, or null when the exception is not a storage problem.</summary>
    public static StageException? Describe(Exception e, string cacheRoot, string what)
    {
        if (IsDiskFull(e))
            return new StageException($"no space left on the device holding the cache {cacheRoot} while {what}; partial files were removed and existing cache entries are intact. Free space or pass --cache=<dir on a larger disk>.");
        if (IsUnwritable(e))
            return new StageException($"the cache {cacheRoot} is not writable ({e.Message}) while {what}; nothing in it was changed. Fix its permissions or pass --cache=<writable dir>.");
        return null;
    }
}
