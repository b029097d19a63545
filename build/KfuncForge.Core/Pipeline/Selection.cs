using KfuncForge.Definitions;
using KfuncForge.Model;
using KfuncForge.Planning;

namespace KfuncForge.Pipeline;

/// <summary>
/// What a run works on, resolved once: the definitions, the distro, the modules (--module) and the kernel filter
/// (--kernel: a release or a line). Every stage takes it instead of reading options again.
/// </summary>
public sealed record Selection(Catalog Catalog, DistroProfile Distro, IReadOnlyList<KfuncModule> Modules, string? Kernel)
{
    public static Selection Resolve(SourceTree tree, string? distro, string? module, string? kernel)
    {
        var catalog = Catalog.Load(tree);
        return new Selection(catalog, catalog.Distro(distro ?? "debian12"), catalog.SelectModules(module), kernel);
    }

    /// <summary>The plan by kernel line, before any kernel is fetched (plan, render).</summary>
    public Plan NominalPlan() => Planner.Make(Distro, KernelSelection.Select(Distro, Kernel), Modules);
}
