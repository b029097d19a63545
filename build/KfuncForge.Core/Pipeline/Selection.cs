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
    /// <summary>--kernel-tree, as a full path: the run's one kernel is that build tree instead of the profile's targets (docs/kernel-trees.md).</summary>
    public string? KernelTree { get; init; }

    /// <summary>RPM profiles: --kernel-repo's base URLs, which replace the profile's kernel_repositories.</summary>
    public IReadOnlyList<string>? KernelRepositories { get; init; }

    /// <summary>The repositories an RPM profile's kernels are fetched from.</summary>
    public IReadOnlyList<string> Repositories => KernelRepositories ?? Distro.KernelRepositories;

    /// <summary>
    /// The module packages the profile's published repository serves now (Packaging/Retention.cs). Kernels among them that are
    /// still in the retention window and in the local kernel cache are built and tested again with the run's own kernels.
    /// </summary>
    public IReadOnlyList<Packaging.ServedPackage> Served { get; init; } = [];

    /// <summary>The selection with what the repository at <paramref name="repository"/> serves (nothing when it is not published).</summary>
    public Selection ServedBy(string repository) => this with { Served = Packaging.Retention.Read(repository).Packages.Where(p => !p.Meta).ToList() };

    /// <summary>The repository root: a profile target's relative `tree:` is read from there.</summary>
    public string? SourceRoot { get; init; }

    public static Selection Resolve(SourceTree tree, string? distro, string? module, string? kernel, string? kernelTree = null, string? kernelRepositories = null)
    {
        var catalog = Catalog.Load(tree);
        var repositories = kernelRepositories?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        foreach (var r in repositories ?? [])
            if (Grammar.RepositoryUrl(r) is { } bad)
                throw new Diagnostics.InputException(new Diagnostics.Problem("--kernel-repo", 0, 0, "", $"'{Grammar.Clip(r)}' {bad}"));
        return new Selection(catalog, catalog.Distro(distro ?? "debian12"), catalog.SelectModules(module), kernel)
        {
            KernelTree = kernelTree is null ? null : Path.GetFullPath(kernelTree),
            KernelRepositories = repositories,
            SourceRoot = tree.Root,
        };
    }

    /// <summary>The kernel build trees this run uses: --kernel-tree alone when given, else the profile's tree targets (narrowed by --kernel).</summary>
    public IReadOnlyList<TreeKernel> Trees()
    {
        if (KernelTree is not null) return [new TreeKernel(KernelTree, null, "--kernel-tree")];
        return Distro.Kernels.Where(t => t.Tree is not null && (Kernel is null || Kernel == t.Key || Kernel == t.Line.ToString() || IsReleaseOf(t.Line, Kernel)))
            .Select(t => new TreeKernel(Path.GetFullPath(t.Tree!, SourceRoot ?? Directory.GetCurrentDirectory()), t, $"distros/{Distro.Id}.yaml: kernels: tree"))
            .ToList();
    }

    /// <summary>Whether --kernel is a release (not a line) of that line: 6.12.102-flatcar of 6.12.</summary>
    public static bool IsReleaseOf(KernelVersion line, string kernel) =>
        kernel.Count(c => c == '.') >= 2 && KernelVersion.TryParse(kernel, out var v) && v.Major == line.Major && v.Minor == line.Minor;

    /// <summary>The plan by kernel line, before any kernel is fetched (plan, render).</summary>
    public Plan NominalPlan() => Planner.Make(Distro, KernelSelection.Select(Distro, Kernel), Modules);
}

/// <summary>One kernel build tree of a run: its directory, the profile target naming it (null for --kernel-tree), and where it was given.</summary>
public sealed record TreeKernel(string Dir, KernelTarget? Target, string What)
{
    public string? Flavour => Target?.Flavour;

    /// <summary>A profile's tree that is not on this machine (an absent --kernel-tree is bad input instead, said by the import).</summary>
    public bool Absent => Target is not null && !Directory.Exists(Dir);

    public string AbsentReason => $"the kernel build tree {Dir} ({What}) does not exist; prepare it (docs/kernel-trees.md) or pass --kernel-tree=<dir>";
}
