using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Processes;

namespace KfuncForge.Containers;

/// <summary>
/// docker and podman: the same command shape (`run --rm`). Layers become read-only binds of the union's leaves (an
/// engine creates the mount points in the container's own layer); symbolic links are bound through their host
/// targets. The image:
/// - podman, for a profile with a rootfs recipe: made here, without any registry, by `podman import` of the very
///   rootfs the sandbox uses (mmdebstrap), so a build gives the same bytes as under bwrap;
/// - otherwise: the profile's container image with its toolchain installed (`build`), which needs its registry.
/// podman's probe finds the flags this host needs (another OCI runtime and cgroup manager, explicit ulimits) and
/// says which it uses. docker has no daemon on this project's machines, so only its argv is tested here.
/// </summary>
public sealed class EngineRunner(string engine, IProcessRunner processes, BwrapRunner? rootfs = null) : IContainerRunner
{

    public static EngineRunner Docker(IProcessRunner p) => new("docker", p);
    public static EngineRunner Podman(IProcessRunner p, BwrapRunner? rootfs = null) => new("podman", p, rootfs);

    public string Name => engine;

    public string? CannotServe(DistroProfile distro) => null;

    /// <summary>Flags before `run` (podman: runtime and cgroup manager), as the probe found this host needs.</summary>
    public IReadOnlyList<string> GlobalFlags { get; private set; } = [];

    /// <summary>Flags after `run` (podman: explicit ulimits where its defaults are refused), as the probe found.</summary>
    public IReadOnlyList<string> RunFlags { get; private set; } = [];

    /// <summary>The flag sets podman's probe tries, in order: none, then runc with cgroupfs (crun refuses a hybrid cgroup layout), then also ulimits the host allows.</summary>
    public static readonly IReadOnlyList<(string[] Global, string[] Run)> PodmanFlagSets =
    [
        ([], []),
        (["--runtime", "runc", "--cgroup-manager=cgroupfs"], []),
        (["--runtime", "runc", "--cgroup-manager=cgroupfs"], ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]),
    ];

    /// <summary>Environment an imported rootfs image carries (what the bwrap sandbox sets for every step).</summary>
    public static readonly IReadOnlyList<string> ImportedEnvironment =
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp", "LC_ALL=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"];

    /// <summary>Whether steps run in an image imported from the profile's rootfs (podman and a rootfs recipe) rather than one built from a registry's.</summary>
    public bool ImportsRootfs(DistroProfile distro) => engine == "podman" && rootfs is not null && distro.Rootfs is not null;

    /// <summary>The dpkg status of the rootfs an imported image was made from (what decides its packages).</summary>
    public string? RootfsStatus(DistroProfile distro) => ImportsRootfs(distro) ? Path.Combine(rootfs!.RootDir(distro), "var", "lib", "dpkg", "status") : null;

    /// <summary>The image steps run in: the imported rootfs (tagged by its recipe's hash), or the profile's image with its toolchain (tagged by the toolchain's hash).</summary>
    public string ImageTag(DistroProfile distro)
    {
        if (!ImportsRootfs(distro)) return BuildImageTag(distro);
        // Named by the rootfs's exact packages (podman's image store outlives any one cache), by its recipe until it is built.
        var status = RootfsStatus(distro)!;
        return $"localhost/kfuncforge-{distro.Id}:{(File.Exists(status) ? Vm.Hashing.File(status)[..16] : rootfs!.RecipeHash(distro))}";
    }

    /// <summary>The image steps run in: the profile's image with its toolchain, tagged by the toolchain's hash.</summary>
    public static string BuildImageTag(DistroProfile distro) =>
        $"kfuncforge/{distro.Id}:{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(distro.ContainerImage + "\n" + string.Join(' ', distro.Toolchain.Order(StringComparer.Ordinal)))))[..12]}";

    public async Task<ContainerProbe> ProbeAsync(CancellationToken cancellation = default)
    {
        var info = await processes.RunAsync(new ProcessSpec(engine, ["info", "--format", "{{json .}}"]) { Timeout = TimeSpan.FromSeconds(20) }, cancellation);
        if (info.ExitCode == 127)
            return new ContainerProbe(Name, false, $"{engine} is not installed ({FirstLine(info.Stderr)})");
        if (!info.Succeeded)
            return new ContainerProbe(Name, false, $"{engine} cannot reach a working engine: {FirstLine(info.Stderr)}");
        if (engine == "podman") return await ProbePodmanAsync(cancellation);
        var trial = await processes.RunAsync(new ProcessSpec(engine, ["run", "--rm", "--network=none", "debian:bookworm", "true"]) { Timeout = TimeSpan.FromSeconds(120) }, cancellation);
        if (!trial.Succeeded)
            return new ContainerProbe(Name, false, $"{engine} is installed but cannot start a container: {FirstLine(trial.Stderr)}");
        return new ContainerProbe(Name, true, $"{engine} can run containers");
    }

    /// <summary>The busybox binary the probe image holds (busybox-static, a host package).</summary>
    public const string ProbeBusybox = "/bin/busybox";

    /// <summary>
    /// Runs `true` in a tiny image made here (busybox imported, no registry) with each flag set in turn; the first
    /// that works is used for every step, and the reason names it.
    /// </summary>
    private async Task<ContainerProbe> ProbePodmanAsync(CancellationToken cancellation)
    {
        const string probeImage = "localhost/kfuncforge-probe:1";
        if (!(await processes.RunAsync(new ProcessSpec(engine, ["image", "exists", probeImage]) { Timeout = TimeSpan.FromSeconds(30) }, cancellation)).Succeeded)
        {
            if (!File.Exists(ProbeBusybox)) return new ContainerProbe(Name, false, $"{engine}'s probe needs {ProbeBusybox} (install busybox-static)");
            var dir = Directory.CreateTempSubdirectory("kfuncforge-probe-").FullName;
            try
            {
                Directory.CreateDirectory(Path.Combine(dir, "root", "bin"));
                File.Copy(ProbeBusybox, Path.Combine(dir, "root", "bin", "busybox"));
                var tar = Path.Combine(dir, "probe.tar");
                await processes.CheckedAsync(new ProcessSpec("tar", ["-C", Path.Combine(dir, "root"), "-cf", tar, "."]), cancellation);
                var imported = await processes.RunAsync(new ProcessSpec(engine, ["import", tar, probeImage]) { Timeout = TimeSpan.FromMinutes(2) }, cancellation);
                if (!imported.Succeeded) return new ContainerProbe(Name, false, $"{engine} cannot import an image: {FirstLine(imported.Stderr)}");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }
        var failures = new List<string>();
        foreach (var (global, run) in PodmanFlagSets)
        {
            var trial = await processes.RunAsync(new ProcessSpec(engine, [.. global, "run", "--rm", "--network=none", .. run, probeImage, "/bin/busybox", "true"]) { Timeout = TimeSpan.FromSeconds(120) }, cancellation);
            if (trial.Succeeded)
            {
                GlobalFlags = global;
                RunFlags = run;
                var flags = string.Join(' ', global.Concat(run));
                return new ContainerProbe(Name, true, $"{engine} can run containers{(flags.Length == 0 ? "" : $" with {flags} (what this host needs: {string.Join("; ", failures)})")}");
            }
            failures.Add($"{(global.Length + run.Length == 0 ? "plain" : string.Join(' ', global.Concat(run)))}: {FirstLine(trial.Stderr)}");
        }
        return new ContainerProbe(Name, false, $"{engine} is installed but cannot start a container with any flags tried: {string.Join("; ", failures)}");
    }

    /// <summary>`build` of the toolchain image from the profile's image (argv; the Containerfile is given on stdin as a file).</summary>
    public ProcessSpec BuildImageCommand(DistroProfile distro, string containerfile) =>
        new(engine, [.. GlobalFlags, "build", .. RunFlags, "--tag", BuildImageTag(distro), "--file", containerfile, Path.GetDirectoryName(containerfile)!]) { Timeout = TimeSpan.FromMinutes(30) };

    public static string Containerfile(DistroProfile distro) => distro.PackageManager is not ("dnf" or "yum")
        ? $"FROM {distro.ContainerImage}\nRUN [\"apt-get\", \"update\"]\nRUN [\"apt-get\", \"install\", \"-y\", \"--no-install-recommends\", {string.Join(", ", distro.Toolchain.Select(p => $"\"{p}\""))}]\n"
        : $"FROM {distro.ContainerImage}\nRUN [\"{distro.PackageManager}\", \"install\", \"-y\", {string.Join(", ", distro.Toolchain.Select(p => $"\"{p}\""))}]\n";

    public async Task PrepareAsync(DistroProfile distro, Action<string> log, CancellationToken cancellation = default)
    {
        var probe = await ProbeAsync(cancellation);
        if (!probe.Available) throw new StageException(probe.Reason);
        log($"container backend: {engine} ({probe.Reason})");
        if (ImportsRootfs(distro))
        {
            await ImportRootfsAsync(distro, log, cancellation);
            return;
        }
        var dir = Directory.CreateTempSubdirectory("kfuncforge-image-").FullName;
        try
        {
            var file = Path.Combine(dir, "Containerfile");
            File.WriteAllText(file, Containerfile(distro));
            log($"building container image {BuildImageTag(distro)} from {distro.ContainerImage}");
            await processes.CheckedAsync(BuildImageCommand(distro, file), cancellation);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>
    /// The image of a profile with a rootfs recipe, made without a registry: the sandbox's rootfs (built by mmdebstrap
    /// when missing) as a tar, `podman import`ed with the environment the sandbox gives every step. Once per recipe.
    /// </summary>
    private async Task ImportRootfsAsync(DistroProfile distro, Action<string> log, CancellationToken cancellation)
    {
        await rootfs!.PrepareAsync(distro, log, cancellation);
        var tag = ImageTag(distro);
        if ((await processes.RunAsync(new ProcessSpec(engine, ["image", "exists", tag]) { Timeout = TimeSpan.FromSeconds(30) }, cancellation)).Succeeded) return;
        var dir = Directory.CreateTempSubdirectory("kfuncforge-import-").FullName;
        try
        {
            log($"making container image {tag} from the {distro.Id} rootfs ({rootfs.RootDir(distro)}; no registry needed)");
            var tar = Path.Combine(dir, "rootfs.tar");
            await processes.CheckedAsync(new ProcessSpec("tar", ["-C", rootfs.RootDir(distro), "--numeric-owner", "-cf", tar, "."]) { Timeout = TimeSpan.FromMinutes(10) }, cancellation);
            await processes.CheckedAsync(new ProcessSpec(engine, ["import", .. ImportedEnvironment.SelectMany(e => new[] { "--change", "ENV " + e }), tar, tag]) { Timeout = TimeSpan.FromMinutes(10) }, cancellation);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    public ProcessSpec Command(DistroProfile distro, ContainerStep step)
    {
        var args = new List<string>(GlobalFlags) { "run", "--rm", "--read-only", "--tmpfs", "/tmp" };
        args.Add(step.Network ? "--network=host" : "--network=none");
        args.AddRange(RunFlags);
        Binds(MountUnion.Plan(step.Layers, splitDepth: 3), step.Layers, "", args);
        foreach (var m in step.Mounts) args.AddRange(["--volume", $"{m.Source}:{m.Target}:{(m.Writable ? "rw" : "ro")}"]);
        foreach (var (k, v) in step.Environment.OrderBy(e => e.Key, StringComparer.Ordinal)) args.AddRange(["--env", $"{k}={v}"]);
        args.AddRange(["--workdir", step.WorkingDirectory, ImageTag(distro)]);
        args.AddRange(step.Argv);
        return new ProcessSpec(engine, args) { Timeout = step.Timeout };
    }

    public Task<ProcessResult> RunAsync(DistroProfile distro, ContainerStep step, CancellationToken cancellation = default) =>
        processes.RunAsync(Command(distro, step), cancellation);

    /// <summary>
    /// Read-only binds for a union's operations, under <paramref name="prefix"/>. An engine cannot create links by
    /// argument, so a link is bound through what it points to: the one layer that has it, or, where several layers
    /// have that folder (Debian's kbuild tools, with resolve_btfids added by the fetch), their union, bound entry by entry.
    /// </summary>
    private static void Binds(IEnumerable<MountOp> ops, IReadOnlyList<string> layers, string prefix, List<string> args)
    {
        foreach (var op in ops)
            switch (op)
            {
                case BindOp b: args.AddRange(["--volume", $"{b.Source}:{prefix}{b.Target}:ro"]); break;
                case SymlinkOp s:
                    var target = prefix + s.Target;
                    var inRoot = InRoot(Path.GetDirectoryName(target)!, s.LinkTarget);
                    var hosts = layers.Select(l => Path.Combine(l, inRoot.TrimStart('/'))).Where(p => Directory.Exists(p) || File.Exists(p)).ToList();
                    if (hosts.Count == 1 || (hosts.Count > 1 && !Directory.Exists(hosts[^1])))
                        args.AddRange(["--volume", $"{hosts[^1]}:{target}:ro"]);
                    else if (hosts.Count > 1)
                        Binds(MountUnion.Plan(hosts, splitDepth: 1), layers, target, args);
                    break;
            }
    }

    /// <summary>A link's target as an absolute path inside the root ("../" resolved against the link's folder).</summary>
    public static string InRoot(string linkDir, string linkTarget)
    {
        var combined = linkTarget.StartsWith('/') ? linkTarget : linkDir.TrimEnd('/') + "/" + linkTarget;
        var parts = new List<string>();
        foreach (var part in combined.Split('/', StringSplitOptions.RemoveEmptyEntries))
            if (part == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); }
            else if (part != ".") parts.Add(part);
        return "/" + string.Join('/', parts);
    }

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "(no message)";
}
