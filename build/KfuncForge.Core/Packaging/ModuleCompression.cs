using KfuncForge.Processes;

namespace KfuncForge.Packaging;

/// <summary>
/// Modules compressed the way the kernel's own are (CONFIG_MODULE_COMPRESS_XZ / _ZSTD / _GZIP): after signing,
/// since the kernel checks the signature of the decompressed bytes, with the flags kbuild's modules_install uses
/// (xz: CRC32 check and a 1 MiB dictionary, which the in-kernel decompressor of CONFIG_MODULE_DECOMPRESS
/// needs). One thread and no timestamps, so the same module compresses to the same bytes.
/// </summary>
public static class ModuleCompression
{
    /// <summary>".xz", ".zst", ".gz", or "" for a kernel that installs its modules uncompressed (or whose config is not known).</summary>
    public static string Suffix(IReadOnlyDictionary<string, string>? config)
    {
        if (config is null || config.GetValueOrDefault("CONFIG_MODULE_COMPRESS_NONE") == "y") return "";
        if (config.GetValueOrDefault("CONFIG_MODULE_COMPRESS_XZ") == "y") return ".xz";
        if (config.GetValueOrDefault("CONFIG_MODULE_COMPRESS_ZSTD") == "y") return ".zst";
        if (config.GetValueOrDefault("CONFIG_MODULE_COMPRESS_GZIP") == "y") return ".gz";
        return "";
    }

    /// <summary>The command that compresses <paramref name="module"/> to <paramref name="output"/> for a suffix.</summary>
    public static ProcessSpec Command(string suffix, string module, string output) => suffix switch
    {
        ".xz" => new ProcessSpec("xz", ["--check=crc32", "--lzma2=dict=1MiB", "--threads=1", "--keep", "--force", "--stdout", module]) { StdoutFile = output },
        ".zst" => new ProcessSpec("zstd", ["-q", "-19", "--no-progress", "--single-thread", "-c", module]) { StdoutFile = output },
        ".gz" => new ProcessSpec("gzip", ["-n", "-9", "-c", module]) { StdoutFile = output },
        _ => throw new ArgumentException($"unknown module compression '{suffix}'", nameof(suffix)),
    };

    /// <summary>The compression suffix of a module file name (m.ko.xz: ".xz"); "" for a plain .ko; null for anything else.</summary>
    public static string? SuffixOf(string fileName)
    {
        var at = fileName.LastIndexOf(".ko", StringComparison.Ordinal);
        if (at < 0) return null;
        var suffix = fileName[(at + 3)..];
        return suffix is "" or ".xz" or ".zst" or ".gz" ? suffix : null;
    }

    /// <summary>A module file's bytes as the kernel checks them: decompressed when its name says it is compressed.</summary>
    public static async Task<byte[]> ReadPlainAsync(IProcessRunner runner, string path, CancellationToken cancellation = default)
    {
        var suffix = SuffixOf(Path.GetFileName(path)) ?? "";
        if (suffix.Length == 0) return await File.ReadAllBytesAsync(path, cancellation).ConfigureAwait(false);
        var tool = suffix switch { ".xz" => "xz", ".zst" => "zstd", _ => "gzip" };
        var plain = path + $".plain-{Guid.NewGuid():N}";
        try
        {
            await runner.CheckedAsync(new ProcessSpec(tool, ["-d", "-c", path]) { StdoutFile = plain, Timeout = TimeSpan.FromMinutes(2) }, cancellation).ConfigureAwait(false);
            return await File.ReadAllBytesAsync(plain, cancellation).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(plain);
        }
    }

    /// <summary>Writes the signed module compressed as the suffix says (copied as it is for "").</summary>
    public static async Task WriteAsync(IProcessRunner runner, string signedModule, string suffix, string output, CancellationToken cancellation = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        if (suffix.Length == 0)
        {
            File.Copy(signedModule, output, overwrite: true);
            return;
        }
        await runner.CheckedAsync(Command(suffix, signedModule, output), cancellation).ConfigureAwait(false);
    }
}
