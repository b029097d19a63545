using KfuncForge.Diagnostics;
using KfuncForge.Processes;

namespace KfuncForge.Kernels;

public enum Compression { Xz, Zstd, Gzip }

/// <summary>Where a compressed payload seems to start inside a bzImage.</summary>
public sealed record PayloadCandidate(long Offset, Compression Compression);

/// <summary>
/// Gets the ELF vmlinux (whose .BTF section is the kernel's base BTF) out of a distro's vmlinuz:
/// finds the compressor's magic bytes inside the bzImage (xz on Debian's 6.1, zstd on 6.12 and later),
/// decompresses from there with the compressor's own tool, and keeps the first result that is an ELF
/// file with a non-empty .BTF section.
/// </summary>
public sealed class VmlinuxExtractor(IProcessRunner processes)
{
    private static readonly (byte[] Magic, Compression Kind)[] Magics =
    [
        ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], Compression.Xz),
        ([0x28, 0xB5, 0x2F, 0xFD], Compression.Zstd),
        ([0x1F, 0x8B, 0x08], Compression.Gzip),
    ];

    /// <summary>Every offset where a known compressor's magic appears, in file order.</summary>
    public static IReadOnlyList<PayloadCandidate> FindPayloads(ReadOnlySpan<byte> image)
    {
        var found = new List<PayloadCandidate>();
        foreach (var (magic, kind) in Magics)
        {
            var start = 0;
            while (start < image.Length)
            {
                var i = image[start..].IndexOf(magic);
                if (i < 0) break;
                found.Add(new PayloadCandidate(start + i, kind));
                start += i + 1;
            }
        }
        return found.OrderBy(c => c.Offset).ToList();
    }

    public static ProcessSpec DecompressCommand(string image, PayloadCandidate c, string output) => c.Compression switch
    {
        Compression.Xz => new ProcessSpec("xz", ["--decompress", "--stdout", "--single-stream"]),
        Compression.Zstd => new ProcessSpec("zstd", ["--decompress", "--stdout", "--quiet"]),
        _ => new ProcessSpec("gzip", ["--decompress", "--stdout", "--quiet"]),
    } with { StdinFile = image, StdinOffset = c.Offset, StdoutFile = output, Timeout = TimeSpan.FromMinutes(5) };

    /// <summary>Writes vmlinux to output and returns the compression that worked; fails with what was tried.</summary>
    public async Task<Compression> ExtractAsync(string image, string output, CancellationToken cancellation = default)
    {
        var bytes = await File.ReadAllBytesAsync(image, cancellation);
        var tried = new List<string>();
        foreach (var candidate in FindPayloads(bytes).Take(16))
        {
            var result = await processes.RunAsync(DecompressCommand(image, candidate, output), cancellation);
            // zstd and gzip complain about the bytes after the payload (exit 1 or 2) after writing it whole; judge by the output.
            var why = "no output";
            if (File.Exists(output) && IsVmlinuxWithBtf(output, out why))
                return candidate.Compression;
            tried.Add($"{candidate.Compression} at {candidate.Offset}: {(result.ExitCode == 127 ? result.Stderr.Trim() : why)}");
        }
        if (File.Exists(output)) File.Delete(output);
        throw new StageException(tried.Count == 0
            ? $"{image}: no xz, zstd or gzip payload found; cannot get vmlinux, so modules cannot get BTF"
            : $"{image}: no payload decompressed to an ELF vmlinux with .BTF (tried {string.Join("; ", tried)}); a kernel without BTF cannot load module kfuncs");
    }

    public static bool IsVmlinuxWithBtf(string path, out string why)
    {
        using (var f = File.OpenRead(path))
        {
            Span<byte> head = stackalloc byte[4];
            if (f.Read(head) < 4 || !ElfFile.HasElfMagic(head)) { why = "not ELF"; return false; }
        }
        try
        {
            var elf = ElfFile.Load(path);
            var btf = elf.Section(".BTF");
            why = btf is null ? "ELF without a .BTF section (kernel built without CONFIG_DEBUG_INFO_BTF)" : btf.Size == 0 ? "empty .BTF section" : "";
            return btf is { Size: > 0 };
        }
        catch (InvalidDataException e)
        {
            why = e.Message;
            return false;
        }
    }
}
