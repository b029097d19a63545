using KfuncForge.Caching;
using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Planning;

namespace KfuncForge.Cli.Commands;

/// <summary>
/// Prints native / backport / infeasible for every (module, kfunc, kernel) without building anything. Archive kernels
/// are planned by line (nothing is fetched); a kernel build tree is on this machine, so it is imported and planned with
/// its real facts (its BTF and config).
/// </summary>
public sealed class PlanCommand : ICommand
{
    public string Name => "plan";
    public string Summary => "print the plan: native / backport / infeasible per module, kfunc and kernel, with reasons";
    public IReadOnlyCollection<string> Accepts => ["distro", "module", "kernel", "kernel-tree", "cache"];

    public int Run(CommandContext context)
    {
        var selection = KernelCommandSupport.Select(context);
        var trees = selection.Trees();
        if (trees.Count == 0)
        {
            context.Out.Write(PlanPrinter.Format(selection.NominalPlan()));
            return ExitCodes.Ok;
        }
        var distro = selection.Distro;
        var cache = new CacheDirectory(context.Options.Get("cache") ?? CacheDirectory.DefaultRoot()).EnsureWritable();
        var kernels = new List<KernelFacts>();
        foreach (var tree in trees)
        {
            if (tree.Absent)
            {
                // Planned by its line, as an archive kernel is before it is fetched; Build and Package report it unavailable.
                context.Out.WriteLine($"{tree.AbsentReason}: planned by its line");
                kernels.Add(KernelFacts.Nominal(tree.Target!, distro.BpfLevel));
                continue;
            }
            var entry = KernelTree.Import(cache, distro, tree.Dir, tree.Flavour, context.Out.WriteLine, tree.What);
            var id = entry.Facts.Tree!;
            context.Out.WriteLine($"kernel {id.Release}: build tree {id.Path} (config sha256 {id.ConfigSha256[..16]}…, vmlinux build id {id.VmlinuxBuildId}, {entry.Facts.NativeKfuncs.Count} kfuncs in its BTF)");
            kernels.Add(entry.ToFacts(distro.BpfLevel));
        }
        var archive = distro.Kernels.Where(t => t.Tree is null).ToList();
        if (selection.KernelTree is null && archive.Count > 0 && (selection.Kernel is null || kernels.Count == 0))
            kernels.AddRange(KernelSelection.Select(distro with { Kernels = archive }, selection.Kernel));
        context.Out.Write(PlanPrinter.Format(Planner.Make(distro, kernels, selection.Modules)));
        return ExitCodes.Ok;
    }
}
