using KfuncForge.Model;

namespace KfuncForge.Planning;

public enum Verdict { Native, Backport, Infeasible }

/// <summary>The decision for one (module, kfunc, kernel), always with its reason.</summary>
public sealed record PlanEntry(string Module, string Kfunc, string Kernel, Verdict Verdict, KfuncVariant? Variant, string Reason)
{
    /// <summary>
    /// The rule that decided, in a few characters, for the plan's table (docs/kernels.md): in-btf, by-version,
    /// no-registration, too-old, no-module-btf, no-variant, no-fit, variant:&lt;id&gt;. Reason says it in full.
    /// </summary>
    public string Code { get; init; } = "";
}

/// <summary>One (module, kernel) pair: what the module will contain for that kernel, and why.</summary>
public sealed record BuildCell(DistroProfile Distro, KfuncModule Module, KernelFacts Kernel, IReadOnlyList<PlanEntry> Entries)
{
    public IReadOnlyList<PlanEntry> Backports => Entries.Where(e => e.Verdict == Verdict.Backport).ToList();

    /// <summary>A module is built only when at least one of its kfuncs needs a backport on this kernel.</summary>
    public bool NeedsModule => Entries.Any(e => e.Verdict == Verdict.Backport);

    public string Key => $"{Distro.Id}/{Kernel.Release}/{Module.Name}";
}

/// <summary>Everything a run will do, decided before anything is built: printable, testable, parallelisable.</summary>
public sealed record Plan(DistroProfile Distro, IReadOnlyList<KernelFacts> Kernels, IReadOnlyList<BuildCell> Cells);
