using System.Diagnostics;
using System.Text.RegularExpressions;
using KfuncForge.Containers;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;

namespace KfuncForge.Compilation;

/// <summary>What one `dkms build` of the rendered sources took, and whether its module got BTF (the kfuncs need it).</summary>
public sealed record DkmsRun(TimeSpan Build, string? Module, bool HasBtf);

/// <summary>
/// The baseline the issue measured the engine against: Debian's own `dkms build` of the same rendered sources
/// (their dkms.conf) on the same kernel headers. It runs in the profile's sandbox with dkms added to the
/// toolchain (a second rootfs, made once), the kernel tree laid over it exactly as for kbuild, the sources at
/// /usr/src/&lt;name&gt;-&lt;version&gt; and a fresh dkms tree per run. `dkms add` is not timed; `dkms build` is.
/// Only the bwrap sandbox is supported: podman and docker would need an image with dkms.
/// </summary>
public sealed partial class DkmsBaseline(IContainerRunner container, DistroProfile distro)
{
    public DistroProfile Environment { get; } = distro with { Toolchain = [.. distro.Toolchain, "dkms"] };

    public Task PrepareAsync(Action<string> log, CancellationToken cancellation = default) => container.PrepareAsync(Environment, log, cancellation);

    public async Task<DkmsRun> RunAsync(KernelEntry kernel, string renderedDir, string workRoot, DateTimeOffset sourceDate, CancellationToken cancellation = default)
    {
        var conf = File.ReadAllText(Path.Combine(renderedDir, "dkms.conf"));
        var name = Value(conf, "PACKAGE_NAME");
        var version = Value(conf, "PACKAGE_VERSION");
        var source = Path.Combine(workRoot, "src");
        var tree = Path.Combine(workRoot, "dkms-tree");
        KbuildBuilder.PrepareWorkDir(renderedDir, source);
        if (Directory.Exists(tree)) Directory.Delete(tree, recursive: true);
        Directory.CreateDirectory(tree);
        ContainerStep Step(params string[] argv) => new(argv)
        {
            Layers = kernel.Layers,
            Mounts = [new Mount(source, $"/usr/src/{name}-{version}", Writable: true), new Mount(tree, "/var/lib/dkms", Writable: true)],
            Environment = ReproducibleKbuild.Environment(sourceDate, $"/var/lib/dkms/{name}/{version}/build"),
            Timeout = TimeSpan.FromMinutes(15),
        };
        var add = await container.RunAsync(Environment, Step("dkms", "add", "-m", name, "-v", version), cancellation).ConfigureAwait(false);
        if (!add.Succeeded) throw new StageException($"dkms add failed (exit {add.ExitCode}): {Processes.CommandLine.Tail(add.Stdout + add.Stderr, 8)}");
        var watch = Stopwatch.StartNew();
        var build = await container.RunAsync(Environment, Step("dkms", "build", "-m", name, "-v", version, "-k", kernel.Release, "--kernelsourcedir", kernel.Facts.HeadersDir), cancellation).ConfigureAwait(false);
        var elapsed = watch.Elapsed;
        if (!build.Succeeded) throw new StageException($"dkms build failed (exit {build.ExitCode}): {Processes.CommandLine.Tail(build.Stdout + build.Stderr, 8)}");
        var ko = Directory.GetFiles(Path.Combine(tree, name, version), "*.ko*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).FirstOrDefault(f => f.Contains("/module/", StringComparison.Ordinal));
        return new DkmsRun(elapsed, ko, ko is not null && ko.EndsWith(".ko", StringComparison.Ordinal) && ElfFile.Load(ko).Section(".BTF") is not null);
    }

    private static string Value(string conf, string key) =>
        ConfLine().Matches(conf).FirstOrDefault(m => m.Groups[1].Value == key)?.Groups[2].Value
        ?? throw new InputException(new Problem("dkms.conf", 0, 0, key, "is missing from the rendered dkms.conf"));

    [GeneratedRegex("^([A-Z_]+)=\"?([^\"\\n]*)\"?$", RegexOptions.Multiline)]
    private static partial Regex ConfLine();
}
