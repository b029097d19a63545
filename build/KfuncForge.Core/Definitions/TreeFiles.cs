using System.Runtime.InteropServices;

namespace KfuncForge.Definitions;

/// <summary>
/// Which files of a source tree may be read: regular files whose real path (every link in every folder
/// above them resolved) lies inside the folder they belong to. A link out of the tree, a FIFO (reading it
/// would hang), a device or a dangling link is refused by name; the content of a file outside the tree
/// is never read, so it can never appear in an error message or a generated file.
/// </summary>
public static class TreeFiles
{
    [DllImport("libc", EntryPoint = "realpath", CharSet = CharSet.Ansi, BestFitMapping = false, SetLastError = true)]
    private static extern IntPtr RealPath(string path, IntPtr resolved);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void Free(IntPtr pointer);

    [DllImport("libc", EntryPoint = "stat", CharSet = CharSet.Ansi, BestFitMapping = false, SetLastError = true)]
    private static extern int Stat(string path, byte[] buffer);

    private const uint TypeMask = 0xF000, Regular = 0x8000, Directory = 0x4000;

    /// <summary>The path with every link resolved, or null when it does not resolve (missing, dangling).</summary>
    public static string? Real(string path)
    {
        if (!OperatingSystem.IsLinux()) return File.Exists(path) || System.IO.Directory.Exists(path) ? Path.GetFullPath(path) : null;
        var p = RealPath(path, IntPtr.Zero);
        if (p == IntPtr.Zero) return null;
        try { return Marshal.PtrToStringUTF8(p); }
        finally { Free(p); }
    }

    /// <summary>The file type bits of stat(2) (links followed), or null when stat fails.</summary>
    private static uint? TypeOf(string path)
    {
        if (!OperatingSystem.IsLinux()) return File.Exists(path) ? Regular : System.IO.Directory.Exists(path) ? Directory : null;
        var buffer = new byte[256];
        if (Stat(path, buffer) != 0) return null;
        // struct stat: st_mode is at offset 24 on x86-64 (dev, ino, nlink before it) and 16 on arm64 (dev, ino).
        var offset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 16;
        return BitConverter.ToUInt32(buffer, offset) & TypeMask;
    }

    /// <summary>Why the file may not be read as part of the folder <paramref name="within"/>, or null when it may.</summary>
    public static string? Problem(string path, string within)
    {
        var info = new FileInfo(path);
        if (!info.Exists && info.LinkTarget is null && !System.IO.Directory.Exists(path)) return "does not exist";
        var real = Real(path);
        if (real is null) return $"is a link to {info.LinkTarget ?? "a path"} that does not exist";
        var root = Real(within) ?? Path.GetFullPath(within);
        if (!real.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal))
            return "is, or lies in a folder that is, a link that leaves the tree; copy the file in instead";
        return TypeOf(real) switch
        {
            Regular => null,
            Directory => "is a folder, not a file",
            null => "cannot be read",
            _ => "is not a regular file (a FIFO, socket or device); only regular files are read",
        };
    }
}
