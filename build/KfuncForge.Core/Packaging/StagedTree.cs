using System.IO.Compression;

namespace KfuncForge.Packaging;

/// <summary>Helpers that make a staged file tree reproducible: fixed modes, one mtime, deterministic gzip.</summary>
public static class StagedTree
{
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    public const UnixFileMode ExecutableMode = FileMode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>Writes a file (creating its folders) with mode 0644, or 0755 when executable.</summary>
    public static void Write(string path, ReadOnlySpan<byte> bytes, bool executable = false)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes.ToArray());
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, executable ? ExecutableMode : FileMode);
    }

    /// <summary>Every folder 0755, every mtime (files and folders) the source date.</summary>
    public static void Normalise(string root, DateTimeOffset sourceDate)
    {
        var time = sourceDate.UtcDateTime;
        foreach (var dir in Directory.GetDirectories(root, "*", SearchOption.AllDirectories).Append(root))
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(dir, ExecutableMode);
        foreach (var file in Directory.GetFiles(root, "*", SearchOption.AllDirectories))
            File.SetLastWriteTimeUtc(file, time);
        foreach (var dir in Directory.GetDirectories(root, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length).Append(root))
            Directory.SetLastWriteTimeUtc(dir, time);
    }

    /// <summary>gzip with no name and no timestamp in its header, so equal input gives equal bytes.</summary>
    public static byte[] Gzip(ReadOnlySpan<byte> data)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
            gz.Write(data);
        return output.ToArray();
    }
}
