using KfuncForge.Containers;
using KfuncForge.Kernels;
using KfuncForge.Model;

namespace KfuncForge.Compilation;

/// <summary>How pahole encodes a module's BTF, and why: written into the build record.</summary>
public sealed record PaholeRecord
{
    /// <summary>The PAHOLE_FLAGS given to make, overriding the kernel's own choice; null when the kernel's choice is kept.</summary>
    public string? Flags { get; init; }

    public required string Reason { get; init; }
}

/// <summary>
/// Module BTF that is the same on every rebuild. pahole's multi-threaded encoder (-j, from 1.22) does not
/// keep a stable order of types and strings before 1.27's reproducible_build feature. Kernels that pick
/// pahole's flags in scripts/Makefile.btf (6.12 and later) never use a bare -j while KBUILD_BUILD_TIMESTAMP
/// is set, which every build here sets. Kernels that pick them with scripts/pahole-flags.sh (Debian's 6.1)
/// pass -j for any pahole from 1.22 on: there the script is run in the build environment with its own
/// pahole, and make gets the same flags without -j.
/// </summary>
public static class ReproduciblePahole
{
    /// <summary>Where the kernel's pahole-flags.sh sits inside the build root, or null when its build does not use one.</summary>
    public static string? FlagsScript(KernelEntry kernel)
    {
        var srctree = SourceTree(kernel);
        var script = srctree + "/scripts/pahole-flags.sh";
        return File.Exists(Path.Combine(kernel.Tree, script.TrimStart('/'))) ? script : null;
    }

    /// <summary>The kernel's source tree inside the root: Debian's per-flavour Makefile includes the -common tree's.</summary>
    private static string SourceTree(KernelEntry kernel)
    {
        var headers = kernel.Facts.HeadersDir.TrimEnd('/');
        var makefile = Path.Combine(kernel.Tree, headers.TrimStart('/'), "Makefile");
        if (!File.Exists(makefile)) return headers;
        var include = File.ReadLines(makefile).Select(l => l.Trim())
            .FirstOrDefault(l => l.StartsWith("include /", StringComparison.Ordinal) && l.EndsWith("/Makefile", StringComparison.Ordinal));
        return include is null ? headers : include["include ".Length..^"/Makefile".Length];
    }

    /// <summary>The flags without pahole's thread options; null when there were none to drop.</summary>
    public static string? WithoutThreads(string flags)
    {
        var tokens = flags.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        bool Threads(string t) => t == "-j" || t.StartsWith("-j", StringComparison.Ordinal) && t[2..].All(char.IsAsciiDigit) || t.StartsWith("--jobs", StringComparison.Ordinal);
        return tokens.Any(Threads) ? string.Join(' ', tokens.Where(t => !Threads(t))) : null;
    }

    /// <summary>Decides, for one kernel in one build environment, by running the kernel's own script with the environment's pahole.</summary>
    public static async Task<PaholeRecord> DecideAsync(IContainerRunner container, DistroProfile distro, KernelEntry kernel, CancellationToken cancellation)
    {
        if (FlagsScript(kernel) is not { } script)
        {
            var btf = Path.Combine(kernel.Tree, SourceTree(kernel).TrimStart('/'), "scripts", "Makefile.btf");
            return new PaholeRecord
            {
                Reason = File.Exists(btf) && File.ReadAllText(btf).Contains("KBUILD_BUILD_TIMESTAMP", StringComparison.Ordinal)
                    ? "the kernel's scripts/Makefile.btf chooses pahole's flags and uses no bare -j while KBUILD_BUILD_TIMESTAMP is set (it is)"
                    : "the kernel's build chooses pahole's flags (no pahole-flags.sh)",
            };
        }
        var version = await container.RunAsync(distro, new ContainerStep(["pahole", "--version"]) { Layers = kernel.Layers, Timeout = TimeSpan.FromMinutes(1) }, cancellation);
        var flags = await container.RunAsync(distro, new ContainerStep(["sh", script])
        {
            Layers = kernel.Layers,
            Environment = new Dictionary<string, string> { ["PAHOLE"] = "pahole" },
            Timeout = TimeSpan.FromMinutes(1),
        }, cancellation);
        if (!version.Succeeded || !flags.Succeeded)
            throw new Diagnostics.StageException($"{kernel.Release}: cannot read pahole's flags from the kernel's {script} in the {distro.Id} environment: {Processes.CommandLine.Reason(flags.Stderr + version.Stderr + flags.Stdout)}");
        var pahole = version.Stdout.Trim();
        var chosen = flags.Stdout.Trim();
        return WithoutThreads(chosen) is { } single
            ? new PaholeRecord { Flags = single, Reason = $"pahole {pahole}: the kernel's {script} asks for '{chosen}': a bare -j (without reproducible_build) encodes types in a different order from run to run; run single-threaded" }
            : new PaholeRecord { Reason = $"pahole {pahole}: the kernel's {script} asks for '{chosen}' (single-threaded already)" };
    }
}
