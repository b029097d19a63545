namespace KfuncForge.Vm;

/// <summary>
/// The host tools the VM stage runs, checked together before anything starts, each with the Debian
/// package that provides it (all listed in build/host-packages.txt).
/// </summary>
public static class HostRequirements
{
    public sealed record Requirement(string What, string Package, Func<bool> Present);

    public static IReadOnlyList<Requirement> All(string busybox) =>
    [
        new(QemuCommand.Binary, "qemu-system-x86", () => OnPath(QemuCommand.Binary)),
        new("gcc", "gcc", () => OnPath("gcc")),
        new("clang", "clang", () => OnPath("clang")),
        new("bpftool", "bpftool", () => OnPath("bpftool")),
        new("xz", "xz-utils", () => OnPath("xz")),
        new("zstd", "zstd", () => OnPath("zstd")),
        new($"static busybox at {busybox}", "busybox-static", () => IsStaticElf(busybox)),
        new("libbpf.a", "libbpf-dev", () => File.Exists("/usr/lib/x86_64-linux-gnu/libbpf.a")),
        new("libelf.a", "libelf-dev", () => File.Exists("/usr/lib/x86_64-linux-gnu/libelf.a")),
        new("libz.a", "zlib1g-dev", () => File.Exists("/usr/lib/x86_64-linux-gnu/libz.a")),
    ];

    /// <summary>Every missing requirement as "what (package)".</summary>
    public static IReadOnlyList<string> Missing(string busybox) =>
        All(busybox).Where(r => !r.Present()).Select(r => $"{r.What} (Debian package {r.Package})").ToList();

    public static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(d => File.Exists(Path.Combine(d, program)));

    /// <summary>An ELF executable without a PT_INTERP program header (so it runs in an initramfs without a loader).</summary>
    public static bool IsStaticElf(string path)
    {
        if (!File.Exists(path)) return false;
        try
        {
            using var f = File.OpenRead(path);
            var head = new byte[64];
            if (f.Read(head) != 64 || !head.AsSpan(0, 4).SequenceEqual("\u007fELF"u8)) return false;
            var phoff = BitConverter.ToInt64(head, 0x20);
            var phentsize = BitConverter.ToUInt16(head, 0x36);
            var phnum = BitConverter.ToUInt16(head, 0x38);
            var ph = new byte[phentsize];
            for (var i = 0; i < phnum; i++)
            {
                f.Seek(phoff + (long)i * phentsize, SeekOrigin.Begin);
                if (f.Read(ph) != phentsize) return false;
                if (BitConverter.ToUInt32(ph, 0) == 3) return false; // PT_INTERP
            }
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
