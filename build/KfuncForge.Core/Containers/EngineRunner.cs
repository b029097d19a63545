using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Processes;

namespace KfuncForge.Containers;

/// <summary>
/// docker and podman: the same command shape (`run --rm`), the profile's container image with its
/// toolchain installed on first use. Layers become read-only binds of the union's leaves (an engine
/// creates the mount points in the container's own layer); symbolic links are bound through their
/// host targets. Neither engine can start containers on this project's machines (docker has no
/// daemon, podman fails on cgroups), so only the argv is tested here; ProbeAsync says why.
/// </summary>
public sealed class EngineRunner(string engine, IProcessRunner processes) : IContainerRunner
{
    public static EngineRunner Docker(IProcessRunner p) => new("docker", p);
    public static EngineRunner Podman(IProcessRunner p) => new("podman", p);

    public string Name => engine;

    public string? CannotServe(DistroProfile distro) => null;

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
        var trial = await processes.RunAsync(new ProcessSpec(engine, ["run", "--rm", "--network=none", "debian:bookworm", "true"]) { Timeout = TimeSpan.FromSeconds(120) }, cancellation);
        if (!trial.Succeeded)
            return new ContainerProbe(Name, false, $"{engine} is installed but cannot start a container: {FirstLine(trial.Stderr)}");
        return new ContainerProbe(Name, true, $"{engine} can run containers");
    }

    /// <summary>`build` of the toolchain image from the profile's image (argv; the Containerfile is given on stdin as a file).</summary>
    public ProcessSpec BuildImageCommand(DistroProfile distro, string containerfile) =>
        new(engine, ["build", "--tag", BuildImageTag(distro), "--file", containerfile, Path.GetDirectoryName(containerfile)!]) { Timeout = TimeSpan.FromMinutes(30) };

    public static string Containerfile(DistroProfile distro) => distro.Family == PackageFamily.Deb
        ? $"FROM {distro.ContainerImage}\nRUN [\"apt-get\", \"update\"]\nRUN [\"apt-get\", \"install\", \"-y\", \"--no-install-recommends\", {string.Join(", ", distro.Toolchain.Select(p => $"\"{p}\""))}]\n"
        : $"FROM {distro.ContainerImage}\nRUN [\"{distro.PackageManager}\", \"install\", \"-y\", {string.Join(", ", distro.Toolchain.Select(p => $"\"{p}\""))}]\n";

    public async Task PrepareAsync(DistroProfile distro, Action<string> log, CancellationToken cancellation = default)
    {
        var probe = await ProbeAsync(cancellation);
        if (!probe.Available) throw new StageException(probe.Reason);
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

    public ProcessSpec Command(DistroProfile distro, ContainerStep step)
    {
        var args = new List<string> { "run", "--rm", "--read-only", "--tmpfs", "/tmp" };
        args.Add(step.Network ? "--network=host" : "--network=none");
        foreach (var op in MountUnion.Plan(step.Layers, splitDepth: 3))
            switch (op)
            {
                case BindOp b: args.AddRange(["--volume", $"{b.Source}:{b.Target}:ro"]); break;
                case SymlinkOp s:
                    // An engine cannot create links by argument: bind what the link points to, found in the topmost layer that has it.
                    var inRoot = InRoot(Path.GetDirectoryName(s.Target)!, s.LinkTarget);
                    var host = step.Layers.Reverse().Select(l => Path.Combine(l, inRoot.TrimStart('/'))).FirstOrDefault(p => Directory.Exists(p) || File.Exists(p));
                    if (host is not null) args.AddRange(["--volume", $"{host}:{s.Target}:ro"]);
                    break;
            }
        foreach (var m in step.Mounts) args.AddRange(["--volume", $"{m.Source}:{m.Target}:{(m.Writable ? "rw" : "ro")}"]);
        foreach (var (k, v) in step.Environment.OrderBy(e => e.Key, StringComparer.Ordinal)) args.AddRange(["--env", $"{k}={v}"]);
        args.AddRange(["--workdir", step.WorkingDirectory, BuildImageTag(distro)]);
        args.AddRange(step.Argv);
        return new ProcessSpec(engine, args) { Timeout = step.Timeout };
    }

    public Task<ProcessResult> RunAsync(DistroProfile distro, ContainerStep step, CancellationToken cancellation = default) =>
        processes.RunAsync(Command(distro, step), cancellation);

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
