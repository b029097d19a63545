using System.Security.Cryptography;
using System.Text;
using KfuncForge.Caching;
using KfuncForge.Diagnostics;
using KfuncForge.Model;
using KfuncForge.Processes;

namespace KfuncForge.Containers;

/// <summary>
/// The rootless sandbox: bubblewrap over a root filesystem that mmdebstrap builds from the profile's
/// recipe. The rootfs is cached under &lt;cache&gt;/rootfs/&lt;distro&gt;-&lt;hash of the recipe&gt;/ (a changed recipe
/// gives a new hash, so a new rootfs), built once under a lock into a staging folder and renamed into
/// place. Steps run with --unshare-all (no network unless the step asks), the rootfs and kernel trees
/// read-only, only the step's own mounts writable.
/// </summary>
public sealed class BwrapRunner(CacheDirectory cache, AptMirrors mirrors, IProcessRunner processes) : IContainerRunner
{
    /// <summary>Bump when the way a rootfs is made changes, so old ones are not reused.</summary>
    public const int RecipeVersion = 1;

    public static readonly TimeSpan RootfsTimeout = TimeSpan.FromMinutes(30);

    public string Name => "bwrap";

    public string? CannotServe(DistroProfile distro) => distro.Rootfs is null
        ? $"profile {distro.Id} has no rootfs recipe: its packages ({distro.Family.ToString().ToLowerInvariant()}) cannot be reached from here, so the sandbox cannot build its environment; use --container=podman or --container=docker where they can pull {distro.ContainerImage}"
        : null;

    public async Task<ContainerProbe> ProbeAsync(CancellationToken cancellation = default)
    {
        var version = await processes.RunAsync(new ProcessSpec("bwrap", ["--version"]) { Timeout = TimeSpan.FromSeconds(10) }, cancellation);
        if (!version.Succeeded)
            return new ContainerProbe(Name, false, $"bubblewrap is not usable: {FirstLine(version.Stderr)} (install the 'bubblewrap' package)");
        var trial = await processes.RunAsync(new ProcessSpec("bwrap", ["--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"]) { Timeout = TimeSpan.FromSeconds(10) }, cancellation);
        if (!trial.Succeeded)
            return new ContainerProbe(Name, false, $"bubblewrap cannot create a sandbox here: {FirstLine(trial.Stderr)} (unprivileged user namespaces may be disabled)");
        // mmdebstrap is asked only when a rootfs must be made (PrepareAsync): a Perl script that takes 0.3 s to say its
        // version here, and over 10 s on a loaded machine, is not worth starting on every run that finds its rootfs built.
        return new ContainerProbe(Name, true, version.Stdout.Trim());
    }

    /// <summary>Why mmdebstrap cannot make a rootfs here, or null.</summary>
    private async Task<string?> MmdebstrapProblemAsync(CancellationToken cancellation)
    {
        var mm = await processes.RunAsync(new ProcessSpec("mmdebstrap", ["--version"]) { Timeout = TimeSpan.FromSeconds(60) }, cancellation);
        return mm.Succeeded ? null
            : mm.TimedOut ? "mmdebstrap did not answer `mmdebstrap --version` within 60 s (is the machine overloaded?)"
            : $"mmdebstrap is not usable: {FirstLine(mm.Stderr)} (install the 'mmdebstrap' package)";
    }

    /// <summary>Everything that decides the rootfs's content, as canonical text; its hash names the cache entry.</summary>
    public string RecipeText(DistroProfile distro)
    {
        var r = distro.Rootfs ?? throw new StageException(CannotServe(distro)!);
        var packages = distro.Toolchain.Concat(r.Packages).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var sb = new StringBuilder();
        sb.Append("recipe-version: ").Append(RecipeVersion).Append('\n');
        sb.Append("tool: ").Append(r.Tool).Append(" --variant=apt\n");
        sb.Append("suite: ").Append(r.Suite).Append('\n');
        sb.Append("packages: ").Append(string.Join(' ', packages)).Append('\n');
        foreach (var line in mirrors.SourceLines(r.Suite, r.ExtraSuites, r.Components)) sb.Append("source: ").Append(line).Append('\n');
        return sb.ToString();
    }

    public string RecipeHash(DistroProfile distro) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(RecipeText(distro))))[..16];

    /// <summary>The cache entry of this profile's rootfs: recipe.txt beside root/.</summary>
    public string EntryDir(DistroProfile distro) => Path.Combine(cache.Rootfs, $"{distro.Id}-{RecipeHash(distro)}");

    public string RootDir(DistroProfile distro) => Path.Combine(EntryDir(distro), "root");

    public ProcessSpec MmdebstrapCommand(DistroProfile distro, string target)
    {
        var r = distro.Rootfs!;
        var packages = distro.Toolchain.Concat(r.Packages).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var args = new List<string>
        {
            "--variant=apt",
            "--include=" + string.Join(',', packages),
            "--aptopt=Acquire::Retries \"3\"",
            r.Suite,
            target,
        };
        args.AddRange(mirrors.SourceLines(r.Suite, r.ExtraSuites, r.Components));
        return new ProcessSpec("mmdebstrap", args) { Timeout = RootfsTimeout };
    }

    public async Task PrepareAsync(DistroProfile distro, Action<string> log, CancellationToken cancellation = default)
    {
        if (CannotServe(distro) is { } why) throw new StageException(why);
        var entry = EntryDir(distro);
        if (File.Exists(Path.Combine(entry, "recipe.txt"))) return;
        using var held = FileLock.Acquire(cache.LockFile("rootfs-" + Path.GetFileName(entry)), RootfsTimeout, $"building the {distro.Id} rootfs", log);
        if (File.Exists(Path.Combine(entry, "recipe.txt"))) return;
        if (await MmdebstrapProblemAsync(cancellation) is { } problem) throw new StageException(problem);
        CacheDirectory.SweepStaging(cache.Rootfs, TimeSpan.FromHours(2));
        var staging = CacheDirectory.NewStaging(cache.Rootfs, Path.GetFileName(entry));
        try
        {
            log($"building the {distro.Id} rootfs with mmdebstrap (once per recipe; cached in {entry})");
            var spec = MmdebstrapCommand(distro, Path.Combine(staging, "root"));
            var result = await processes.RunAsync(spec, cancellation);
            if (!result.Succeeded)
            {
                var storage = result.Stderr.Contains("No space left on device", StringComparison.Ordinal)
                    ? $" (no space left on the device holding {cache.Root}; the cache is unchanged)" : "";
                throw new StageException($"mmdebstrap could not build the {distro.Id} rootfs{storage}:\n{CommandLine.Tail(result.Stderr, 15)}");
            }
            File.WriteAllText(Path.Combine(staging, "recipe.txt"), RecipeText(distro));
            CacheDirectory.Publish(staging, entry);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CacheErrors.Describe(e, cache.Root, $"building the {distro.Id} rootfs") ?? throw new StageException($"building the {distro.Id} rootfs failed: {e.Message}");
        }
        finally
        {
            CacheDirectory.DeleteQuietly(staging);
        }
    }

    public ProcessSpec Command(DistroProfile distro, ContainerStep step)
    {
        var root = RootDir(distro);
        if (!Directory.Exists(root)) throw new StageException($"the {distro.Id} rootfs is not built yet ({root}); prepare the environment first");
        return BuildCommand(root, step, NetworkLayer(step));
    }

    /// <summary>The bwrap argv for a step over a given root (pure apart from reading the layers' directory listings).</summary>
    public static ProcessSpec BuildCommand(string root, ContainerStep step, string? networkLayer = null)
    {
        var args = new List<string> { "--unshare-all" };
        if (step.Network) args.Add("--share-net");
        // Unprivileged: map the user to root inside its own user namespace, as apt and dpkg expect.
        // (CI and the project's machines run as root; this path is not exercised there.)
        if (!Environment.IsPrivilegedProcess) args.AddRange(["--unshare-user", "--uid", "0", "--gid", "0"]);
        args.AddRange(["--die-with-parent", "--new-session", "--clearenv"]);
        var layers = new List<string> { root };
        layers.AddRange(step.Layers);
        if (networkLayer is not null) layers.Add(networkLayer);
        foreach (var op in MountUnion.Plan(layers))
            switch (op)
            {
                case BindOp b: args.AddRange(["--ro-bind", b.Source, b.Target]); break;
                case DirOp d: args.AddRange(["--dir", d.Target]); break;
                case SymlinkOp s: args.AddRange(["--symlink", s.LinkTarget, s.Target]); break;
            }
        args.AddRange(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
        foreach (var m in step.Mounts) args.AddRange([m.Writable ? "--bind" : "--ro-bind", m.Source, m.Target]);
        var env = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ["HOME"] = "/tmp",
            ["LC_ALL"] = "C.UTF-8",
            ["DEBIAN_FRONTEND"] = "noninteractive",
        };
        foreach (var (k, v) in step.Environment) env[k] = v;
        foreach (var (k, v) in env) args.AddRange(["--setenv", k, v]);
        args.AddRange(["--chdir", step.WorkingDirectory, "--"]);
        args.AddRange(step.Argv);
        return new ProcessSpec("bwrap", args) { Timeout = step.Timeout };
    }

    public Task<ProcessResult> RunAsync(DistroProfile distro, ContainerStep step, CancellationToken cancellation = default) =>
        processes.RunAsync(Command(distro, step), cancellation);

    /// <summary>Steps with network see the host's resolver configuration (a copy, laid over the rootfs's /etc).</summary>
    private string? NetworkLayer(ContainerStep step)
    {
        if (!step.Network) return null;
        var layer = Path.Combine(cache.Scratch, $"net-{Environment.ProcessId}");
        var resolv = Path.Combine(layer, "etc", "resolv.conf");
        if (!File.Exists(resolv) && File.Exists("/etc/resolv.conf"))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(resolv)!);
            var temp = resolv + ".tmp-" + Guid.NewGuid().ToString("N");
            File.WriteAllText(temp, File.ReadAllText("/etc/resolv.conf"));
            File.Move(temp, resolv, overwrite: true);
        }
        return layer;
    }

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "(no message)";
}
