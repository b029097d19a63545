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

/// <summary>What fetch, build and bench-build share: the distro's workspace with its kernels fetched and their facts read.</summary>
internal static class KernelCommandSupport
{
    public static readonly string[] KernelOptions = ["distro", "module", "kernel", "container", "cache"];

    public static async Task<(Catalog Catalog, DistroProfile Distro, IReadOnlyList<KfuncModule> Modules, KernelWorkspace Workspace, FetchedKernels Kernels)>
        OpenAsync(CommandContext context, CancellationToken cancellation = default)
    {
        var catalog = Catalog.Load(context.Tree);
        var distro = catalog.Distro(context.Options.Get("distro", "debian12"));
        var modules = catalog.SelectModules(context.Options.Get("module"));
        void Log(string line) => context.Out.WriteLine(line);
        try
        {
            var workspace = await KernelWorkspace.OpenAsync(distro, context.Options.Get("container"), context.Options.Get("cache"), ProcessRunner.Instance, Log, cancellation);
            var kernels = await workspace.FetchAsync(context.Options.Get("kernel"), Log, cancellation);
            return (catalog, distro, modules, workspace, kernels);
        }
        catch (ProcessFailedException e)
        {
            throw new StageException(e.Message);
        }
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
        var (_, _, modules, _, kernels) = KernelCommandSupport.OpenAsync(context).GetAwaiter().GetResult();
        var names = modules.SelectMany(m => m.Kfuncs).Select(k => k.Name).ToList();
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
        var layout = new BuildLayout(context.ArtifactsDir);
        var distroId = context.Options.Get("distro", "debian12");
        using var output = BuildPipeline.LockOutput(layout, distroId);
        var (catalog, distro, modules, workspace, fetched) = KernelCommandSupport.OpenAsync(context).GetAwaiter().GetResult();
        var kernels = fetched.Entries;
        var facts = kernels.Select(k => k.ToFacts(distro.BpfLevel)).ToList();
        var plan = Planner.Make(distro, facts, modules);
        context.Out.Write(PlanPrinter.Format(plan));
        foreach (var u in fetched.Unavailable) context.Out.WriteLine($"{u.Kernel}: unavailable: {u.Reason}");
        if (context.Options.Flag("dryrun")) return ExitCodes.Passed(fetched.Unavailable.Count > 0);

        var date = context.Options.Get("source-date-epoch") is { } epoch ? SourceDate.Parse(epoch, "--source-date-epoch") : SourceDate.Resolve(context.Tree.Root);
        var renderer = new Renderer(TemplateSet.Load(context.Tree.Templates), date, Provenance.ProjectProvenance.Read(context.Tree.Root));
        var jobs = context.Options.Int("jobs", Environment.ProcessorCount);
        var results = BuildPipeline.RunAsync(plan, kernels.ToDictionary(k => k.Release), workspace, renderer, layout, jobs, context.Out.WriteLine)
            .GetAwaiter().GetResult();
        results = [.. results, .. fetched.Unavailable.SelectMany(u => CellResult.Unavailable(distro.Id, u, modules.Select(m => m.Name)))];
        // The hand-over to the smoke stage (docs/smoke.md): kernels, built modules and the kernels that could not be used.
        var index = Vm.BuildIndex.DefaultPath(context.ArtifactsDir, distro.Id);
        Vm.BuildIndex.FromBuild(kernels, results, fetched).Save(index);
        context.Out.WriteLine();
        context.Out.Write(BuildSummary.Format(results));
        context.Out.WriteLine($"build index: {index}");
        return results.Any(r => r.IsFailure) ? ExitCodes.Failed : ExitCodes.Passed(fetched.Unavailable.Count > 0);
    }
}
