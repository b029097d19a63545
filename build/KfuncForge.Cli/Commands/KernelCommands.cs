using KfuncForge.Caching;
using KfuncForge.Compilation;
using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Rendering;

namespace KfuncForge.Cli.Commands;

/// <summary>What fetch, build and bench-build share: their options, the selection, and how a kernel's facts are printed.</summary>
internal static class KernelCommandSupport
{
    public static readonly string[] KernelOptions = ["distro", "module", "kernel", "kernel-tree", "kernel-repo", "container", "cache"];

    /// <summary>The run's selection, with what the profile's published repository serves (retention keeps those kernels built and tested).</summary>
    public static Pipeline.Selection Select(CommandContext context)
    {
        var selection = Pipeline.Selection.Resolve(context.Tree, context.Options.Get("distro"), context.Options.Get("module"), context.Options.Get("kernel"),
            context.Options.Get("kernel-tree"), context.Options.Get("kernel-repo"));
        return selection.ServedBy(context.Layout.Repository(selection.Distro.Id, selection.Distro.Family));
    }

    public static async Task<(Pipeline.Selection Selection, KernelWorkspace Workspace, FetchedKernels Kernels)> OpenAsync(CommandContext context, CancellationToken cancellation = default)
    {
        var selection = Select(context);
        var (workspace, kernels) = await Pipeline.FetchStage.RunAsync(selection, context.Options.Get("container"), context.Options.Get("cache"), context.Out.WriteLine, cancellation);
        return (selection, workspace, kernels);
    }

    public static void Describe(TextWriter o, KernelEntry k, IEnumerable<string> interesting)
    {
        var f = k.Facts;
        o.WriteLine($"kernel {f.Release} ({f.Distro}, {f.Suite}, upstream {f.UpstreamVersion})");
        foreach (var p in f.Packages) o.WriteLine($"  package  {p.Package} {p.Version} [{p.Suite}] sha256:{p.Sha256[..16]}…");
        o.WriteLine($"  image    {f.ImageCompression}-compressed; base BTF: {f.BtfTypes} types, {f.BtfFunctions} functions");
        foreach (var option in new[] { "CONFIG_DEBUG_INFO_BTF_MODULES", "CONFIG_MODULE_SIG", "CONFIG_MODULE_SIG_FORCE", "CONFIG_MODULE_SIG_HASH", "CONFIG_MODVERSIONS" })
            o.WriteLine($"  config   {option}={f.Config.GetValueOrDefault(option) ?? "(unset)"}");
        var native = interesting.Where(n => f.NativeKfuncs.Contains(n)).ToList();
        o.WriteLine($"  kfuncs   {f.NativeKfuncs.Count} in the kernel; of the catalog's: {(native.Count == 0 ? "none" : string.Join(", ", native))}");
        foreach (var note in f.Notes) o.WriteLine($"  note     {note}");
        o.WriteLine($"  cached   {k.Dir}");
    }
}

/// <summary>Fetches each target kernel through the distro's package manager and prints its facts.</summary>
public sealed class FetchCommand : ICommand
{
    public string Name => "fetch";
    public string Summary => "fetch each target kernel's headers, kbuild and image (cached by checksum) and print its facts";
    public IReadOnlyCollection<string> Accepts => KernelCommandSupport.KernelOptions;

    public int Run(CommandContext context)
    {
        var (selection, _, kernels) = KernelCommandSupport.OpenAsync(context).GetAwaiter().GetResult();
        var names = selection.Modules.SelectMany(m => m.Kfuncs).Select(k => k.Name).ToList();
        foreach (var k in kernels.Entries) KernelCommandSupport.Describe(context.Out, k, names);
        foreach (var u in kernels.Unavailable) context.Out.WriteLine($"kernel {u.Kernel}: unavailable: {u.Reason}");
        return ExitCodes.Passed(kernels.Unavailable.Count > 0);
    }
}

/// <summary>Fetch, plan with the kernels' real facts, render and build every cell with kbuild in the distro's environment.</summary>
public sealed class BuildCommand : ICommand
{
    public string Name => "build";
    public string Summary => "build every module for every target kernel (kbuild in the distro's environment); --dryrun prints the plan only";
    public IReadOnlyCollection<string> Accepts => [.. KernelCommandSupport.KernelOptions, "jobs", "dryrun", "source-date-epoch"];

    public int Run(CommandContext context)
    {
        var outcome = Pipeline.BuildStage.RunAsync(Request(context, KernelCommandSupport.Select(context)), context.Out.WriteLine).GetAwaiter().GetResult();
        var unavailable = outcome.Kernels.Unavailable.Count > 0;
        if (outcome.Index is null) return ExitCodes.Passed(unavailable);
        context.Out.WriteLine();
        context.Out.Write(BuildSummary.Format(outcome.Cells));
        context.Out.WriteLine($"build index: {outcome.Index}");
        return outcome.Failed ? ExitCodes.Failed : ExitCodes.Passed(unavailable);
    }

    /// <summary>The build verb's options as a Build stage request (fidelity builds each of its profiles with the same).</summary>
    internal static Pipeline.BuildRequest Request(CommandContext context, Pipeline.Selection selection) =>
        new(selection, context.Layout, context.Tree,
            context.Options.Get("source-date-epoch") is { } epoch ? SourceDate.Parse(epoch, "--source-date-epoch") : SourceDate.Resolve(context.Tree.Root))
        {
            Container = context.Options.Get("container"), Cache = context.Options.Get("cache"),
            Jobs = context.Options.Int("jobs", Environment.ProcessorCount), PlanOnly = context.Options.Flag("dryrun"),
        };
}
