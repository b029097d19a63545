using System.Text;

namespace KfuncForge.Vm;

/// <summary>A built initramfs: its file, its content hash, and whether it came from the cache.</summary>
public sealed record GuestImage(string Path, string Hash, bool CacheHit, long Size);

/// <summary>
/// Assembles the initramfs of a boot: the agent as /init, busybox (for people debugging a guest by hand),
/// the boot's modules (compressed in-tree modules decompressed on the host), its BPF objects and the
/// manifest. Uncompressed cpio: QEMU hands it to the kernel as is and nothing is inflated under TCG.
/// Cached by the hash of every entry's path, mode and content.
/// </summary>
public sealed class GuestImageBuilder(GuestTools tools, string busybox = GuestImageBuilder.DefaultBusybox)
{
    public const string DefaultBusybox = "/bin/busybox";

    public string Busybox { get; } = busybox;

    public async Task<GuestImage> BuildAsync(BootPlan plan, string agent, CancellationToken cancellation = default)
    {
        var entries = new List<CpioEntry>
        {
            new(GuestManifest.AgentPath, CpioEntryKind.File, 0x1ED, SourceFile: agent),
            new(GuestManifest.BusyboxPath, CpioEntryKind.File, 0x1ED, SourceFile: Busybox),
            new("bin/sh", CpioEntryKind.Symlink, 0x1FF, LinkTarget: "busybox"),
            new(GuestManifest.ManifestPath, CpioEntryKind.File, 0x1A4, Bytes: Encoding.UTF8.GetBytes(GuestManifest.Render(plan))),
            new("dev", CpioEntryKind.Directory, 0x1ED),
            new("proc", CpioEntryKind.Directory, 0x16D),
            new("sys", CpioEntryKind.Directory, 0x16D),
            new("tmp", CpioEntryKind.Directory, 0x3FF),
        };
        foreach (var m in plan.Modules)
            entries.Add(await ModuleEntryAsync(m, cancellation).ConfigureAwait(false));
        var objects = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (module, obj) in plan.Smoke.Select(s => (s.Module, s.Object)).Concat(plan.Loads.Select(l => (l.Module, l.Object))))
        {
            var guestPath = GuestManifest.ObjectPath(module, obj);
            if (objects.TryGetValue(guestPath, out var other))
            {
                if (other != obj) throw new ArgumentException($"two BPF objects of module {module} share the name {Path.GetFileName(obj)}: {other} and {obj}");
                continue;
            }
            objects[guestPath] = obj;
            entries.Add(new CpioEntry(guestPath, CpioEntryKind.File, 0x1A4, SourceFile: obj));
        }
        return await BuildAsync(entries).ConfigureAwait(false);
    }

    /// <summary>The baseline image: busybox as /init's shell, reporting one record and powering off. Measures a bare boot and probes KVM.</summary>
    public Task<GuestImage> BuildBareAsync()
    {
        const string init = "#!/bin/busybox sh\n"
            + "/bin/busybox mount -t devtmpfs dev /dev\n"
            + "/bin/busybox mount -t proc proc /proc\n"
            + "read up idle < /proc/uptime\n"
            + "echo \"{\\\"v\\\":1,\\\"type\\\":\\\"hello\\\",\\\"boot\\\":\\\"bare\\\",\\\"kernel\\\":\\\"$(/bin/busybox uname -r)\\\",\\\"uptime\\\":\\\"$up\\\"}\" > /dev/ttyS1\n"
            + "/bin/busybox poweroff -f\n";
        return BuildAsync(
        [
            new CpioEntry("init", CpioEntryKind.File, 0x1ED, Bytes: Encoding.UTF8.GetBytes(init)),
            new CpioEntry(GuestManifest.BusyboxPath, CpioEntryKind.File, 0x1ED, SourceFile: Busybox),
            new CpioEntry("dev", CpioEntryKind.Directory, 0x1ED),
            new CpioEntry("proc", CpioEntryKind.Directory, 0x16D),
        ]);
    }

    public async Task<GuestImage> BuildAsync(IReadOnlyList<CpioEntry> entries)
    {
        var normalised = Cpio.Normalise(entries);
        var key = Hashing.Combine(normalised.Select(e => $"{e.Path} {e.Kind} {e.Mode:x} " + e.Kind switch
        {
            CpioEntryKind.File => e.Bytes is not null ? Hashing.Bytes(e.Bytes) : Hashing.File(e.SourceFile!),
            CpioEntryKind.Symlink => e.LinkTarget!,
            _ => "",
        }));
        var hit = tools.Cache.Contains("initramfs", key);
        var dir = await tools.Cache.GetOrCreateAsync("initramfs", key, temp =>
        {
            using var output = new FileStream(Path.Combine(temp, "initramfs.cpio"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            Cpio.Write(normalised, output);
            return Task.CompletedTask;
        }).ConfigureAwait(false);
        var path = Path.Combine(dir, "initramfs.cpio");
        return new GuestImage(path, key, hit, new FileInfo(path).Length);
    }

    private async Task<CpioEntry> ModuleEntryAsync(GuestModule m, CancellationToken cancellation) =>
        new(GuestManifest.ModulePath(m), CpioEntryKind.File, 0x1A4,
            SourceFile: GuestManifest.KernelDecompressed(m).Length > 0 ? m.KoPath : await tools.ModuleFileAsync(m.KoPath, cancellation).ConfigureAwait(false));
}
