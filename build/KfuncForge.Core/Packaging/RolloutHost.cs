using System.Text;
using KfuncForge.Containers;
using KfuncForge.Diagnostics;
using KfuncForge.Processes;
using KfuncForge.Vm;

namespace KfuncForge.Packaging;

/// <summary>
/// A Debian host for the rollout check (docs/packaging.md, "Rolling out to a fleet"): the install check's rootfs (mmdebstrap,
/// the profile's suites, our signed repository with signed-by), with a package installed once, kept on disk so that apt can
/// go on working in it the way a host's apt does: update, install, purge, full-upgrade, with every kernel package's own
/// maintainer scripts and kernel hooks running (in bubblewrap, as root in the rootfs, the repository bound read-only at its
/// own path). Then it boots the rootfs on one of its kernels and loads the module as the host would.
/// The kernels' own modules are never unpacked (dpkg path-exclude, kept in the rootfs for every later install), nor is an
/// initramfs made (INITRD=No): the check boots the rootfs itself.
/// </summary>
public sealed class RolloutHost(IProcessRunner runner, GuestTools tools, IVmRunner vms, InstallCheckRequest request) : IDisposable
{
    public string Root => Path.Combine(Path.GetFullPath(request.WorkDir), "rootfs");

    public static readonly TimeSpan AptTimeout = TimeSpan.FromMinutes(20);

    /// <summary>Makes the rootfs with <paramref name="request"/>'s package (the meta package) installed from the repository.</summary>
    public async Task CreateAsync(AptMirrors mirrors, Action<string>? log = null, CancellationToken cancellation = default)
    {
        // apt and dpkg act as the rootfs's root: files they write must be owned by root, which a user namespace cannot map here.
        if (!Environment.IsPrivilegedProcess)
            throw new StageException("the rollout host runs apt and dpkg as root inside its rootfs: run it as root");
        var work = Path.GetFullPath(request.WorkDir);
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);
        log?.Invoke($"rollout: mmdebstrap {request.RootfsSuite} + apt install {request.Package} from {request.Repository}");
        var mm = await runner.RunAsync(InstallCheck.RootfsCommand(request, mirrors, Root, withKernelModules: false), cancellation).ConfigureAwait(false);
        File.WriteAllText(Path.Combine(work, "mmdebstrap.log"), mm.LogText());
        if (!mm.Succeeded)
            throw new StageException($"apt could not install {request.Package} from {request.Repository} into a {request.RootfsSuite} rootfs (log: {Path.Combine(work, "mmdebstrap.log")}):\n{CommandLine.Tail(mm.Stderr, 8)}");
    }

    /// <summary>
    /// Runs apt-get in the rootfs as its root (non-interactive, -y), the repository's folder bound read-only where its
    /// sources line names it, and the host's resolver; <paramref name="syslog"/>, when given, is bound as /dev/log (what
    /// logger writes to, and journald reads on a host). Returns the result whatever the exit code: output is evidence.
    /// </summary>
    public Task<ProcessResult> AptAsync(IReadOnlyList<string> arguments, string? syslog = null, CancellationToken cancellation = default)
    {
        var repositoryParent = Path.GetDirectoryName(Path.GetFullPath(request.Repository).TrimEnd('/'))!;
        var binds = new List<string> { repositoryParent };
        if (request.Keyring is { } keyring) binds.Add(Path.GetFullPath(keyring));
        // apt reads the repository and the keyring as its sandbox user (_apt): the folders leading to them inside the rootfs
        // must be searchable (bwrap would make them 0700). The rootfs's own /tmp (1777) serves apt's temporary files.
        foreach (var bind in binds)
            for (var dir = Path.GetDirectoryName(bind); dir is not null && dir != "/"; dir = Path.GetDirectoryName(dir))
            {
                var inside = Path.Combine(Root, dir.TrimStart('/'));
                Directory.CreateDirectory(inside);
                if (!OperatingSystem.IsWindows() && new DirectoryInfo(inside).LinkTarget is null) File.SetUnixFileMode(inside, File.GetUnixFileMode(inside) | StagedTree.ExecutableMode);
            }
        var args = new List<string>
        {
            "--bind", Root, "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf",
        };
        foreach (var bind in binds) args.AddRange(["--ro-bind", bind, bind]);
        if (syslog is not null) args.AddRange(["--bind", syslog, "/dev/log"]);
        args.AddRange(["--setenv", "DEBIAN_FRONTEND", "noninteractive", "--setenv", "INITRD", "No", "--setenv", "PATH", "/usr/sbin:/usr/bin:/sbin:/bin",
            "--setenv", "LC_ALL", "C.UTF-8", "--", "apt-get", "-y", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]);
        args.AddRange(arguments);
        return runner.RunAsync(new ProcessSpec("bwrap", args) { Timeout = AptTimeout }, cancellation);
    }

    /// <summary>Installed packages and their versions (the rootfs's dpkg status).</summary>
    public IReadOnlyDictionary<string, string> Installed() => InstallCheck.DpkgStatus(Root);

    /// <summary>
    /// Boots the rootfs on <paramref name="kernel"/> (its /boot image) and lets the guest agent make the module index with the
    /// rootfs's depmod and load <paramref name="module"/> by name, as the host would at boot.
    /// </summary>
    public async Task<BootResult> BootAsync(string kernel, string module, TimeSpan timeout, CancellationToken cancellation = default)
    {
        var image = Path.Combine(Root, "boot", $"vmlinuz-{kernel}");
        if (!File.Exists(image)) throw new StageException($"the rootfs has no /boot/vmlinuz-{kernel}: the kernel is not installed");
        var work = Path.Combine(Path.GetFullPath(request.WorkDir), "boot-" + kernel);
        Directory.CreateDirectory(work);
        var kernelCopy = Path.Combine(work, "vmlinuz");
        File.Copy(image, kernelCopy, overwrite: true);
        var entries = InstallCheck.RootfsEntries(Root, kernel, []);
        entries.Add(new CpioEntry(GuestManifest.AgentPath, CpioEntryKind.File, 0x1ED, SourceFile: await tools.AgentAsync(cancellation: cancellation).ConfigureAwait(false)));
        var bootId = $"rollout-{kernel}";
        entries.Add(new CpioEntry(GuestManifest.ManifestPath, CpioEntryKind.File, 0x1A4, Bytes: Encoding.UTF8.GetBytes(GuestManifest.Text(
        [
            ["kff-manifest", "1"],
            ["boot", bootId],
            .. InstallCheck.InstalledModuleSteps(kernel, module),
        ]))));
        var cpio = Path.Combine(work, "initramfs.cpio");
        try
        {
            await using (var output = new FileStream(cpio, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                Cpio.Write(entries, output);
            var memory = (int)Math.Max(512, new FileInfo(cpio).Length / (1024 * 1024) * 2 + 384);
            return await vms.RunAsync(new BootRequest(bootId, kernelCopy, cpio, new VmShape(request.Accelerator, memory), timeout, work), cancellation: cancellation).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(cpio);
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}
