using KfuncForge.Compilation;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Packaging;

namespace KfuncForge.Pipeline;

/// <summary>The cells a Package run publishes: built folder and signed module of each, and the kernels left out as unavailable.</summary>
public sealed record PublishSelection(IReadOnlyList<(string CellDir, string SignedModule)> Cells, IReadOnlyList<UnavailableKernel> Unavailable)
{
    /// <summary>Every kernel the last build planned (built or not): Package never carries their old packages over (Retention).</summary>
    public IReadOnlyList<string> Covered { get; init; } = [];

    /// <summary>
    /// Exactly the cells of the last build index, each signed from that very build and passed by SmokeTest byte for byte;
    /// anything else refuses the whole run (StageException, nothing published): a leftover, rebuilt, unsigned or untested
    /// cell can never reach a repository. Kernels unavailable this run that the repository serves are carried over by
    /// retention (Packaging/Retention.cs), so a lagging kernel never makes a generation drop one that hosts run.
    /// </summary>
    public static PublishSelection FromLastBuild(ArtifactsLayout layout, DistroProfile distro, string repository)
    {
        var index = Vm.BuildIndex.Load(layout.BuildIndex(distro.Id));
        var unavailable = index.Unavailable;
        var built = index.BuiltCells(layout.Root, distro.Id).ToList();
        if (!built.Any(c => File.Exists(c.SignedPath(layout.Root))))
            throw new StageException($"no signed modules for {distro.Id} under {layout.Sign(distro.Id)}{(unavailable.Count > 0 ? $" (unavailable: {string.Join("; ", unavailable)})" : "")}; run the Sign target first");
        // A signed copy must be of exactly the module the last build made: a rebuild that Sign has not seen
        // (or a cell it never signed) is refused whole, so an older build can never be published.
        var stale = built.Select(c => SignedCopyProblem(c, layout.Root)).OfType<string>().ToList();
        if (stale.Count > 0)
            throw new StageException($"nothing published for {distro.Id}: {string.Join("; ", stale)}; run the Sign target again (Package takes exactly the modules of the last build)");
        // And only modules that passed in QEMU, byte for byte (SmokeTest records them).
        var passes = Vm.SmokePasses.Load(layout.SmokePasses(distro.Id));
        var unproven = built.Select(c => Vm.SmokePasses.Unproven(passes, c.Release, c.Module, c.ModuleFile)).OfType<string>().ToList();
        if (unproven.Count > 0)
            throw new StageException($"nothing published for {distro.Id}: {string.Join("; ", unproven)}; run the SmokeTest target (Package publishes only modules that passed in QEMU)");
        return new PublishSelection(built.Select(c => (c.Directory, c.SignedPath(layout.Root))).ToList(), unavailable)
        {
            Covered = index.Kernels.Select(k => k.Release).ToList(),
        };
    }

    /// <summary>Why a built cell's signed copy cannot be published (missing, or signed from another build of the module), or null.</summary>
    private static string? SignedCopyProblem(BuiltCell cell, string artifactsDir)
    {
        var signed = cell.SignedPath(artifactsDir);
        if (!File.Exists(signed)) return $"{cell.Release}/{cell.Module} was built but not signed ({signed} is missing)";
        return Signing.ModuleSignatureTrailer.IsSignedCopyOf(signed, cell.ModuleFile) ? null
            : $"{signed} was signed from an earlier build of {cell.Release}/{cell.Module}, not from {cell.ModuleFile}";
    }
}
