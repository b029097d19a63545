using KfuncForge.Compilation;
using KfuncForge.Diagnostics;
using KfuncForge.Planning;
using KfuncForge.Rendering;

namespace KfuncForge.Cli.Commands;

/// <summary>Times the engine's build of one module on one kernel against the bare `make M=` in the same environment, same run.</summary>
public sealed class BenchBuildCommand : ICommand
{
    public string Name => "bench-build";
    public string Summary => "benchmark: engine build time of one module on one kernel vs bare make M= (warm cache), with the ratio";
    public IReadOnlyCollection<string> Accepts => ["distro", "module", "kernel", "container", "cache", "repeat", "dkms"];

    public int Run(CommandContext context)
    {
        var (selection, workspace, fetched) = KernelCommandSupport.OpenAsync(context).GetAwaiter().GetResult();
        var (distro, modules) = (selection.Distro, selection.Modules);
        var kernels = fetched.Entries;
        var plan = Planner.Make(distro, kernels.Select(k => k.ToFacts(distro.BpfLevel)).ToList(), modules);
        var cell = plan.Cells.FirstOrDefault(c => c.NeedsModule)
                   ?? throw new StageException($"nothing to build for {distro.Id} with the selected modules and kernels (all native or infeasible); pick another --module or --kernel");
        var kernel = kernels.First(k => k.Release == cell.Kernel.Release);
        var renderer = new Renderer(TemplateSet.Load(context.Tree.Templates), DateTimeOffset.UnixEpoch, Provenance.ProjectProvenance.Read(context.Tree.Root));
        var layout = new BuildLayout(context.ArtifactsDir);
        using var output = BuildPipeline.LockOutput(layout, distro.Id);
        // The dkms baseline needs dkms in the build environment: a second rootfs (bwrap only), made once and cached.
        DkmsBaseline? dkms = null;
        if (context.Options.OnOff("dkms", true) && workspace.Container is Containers.BwrapRunner)
        {
            dkms = new DkmsBaseline(workspace.Container, distro);
            dkms.PrepareAsync(context.Out.WriteLine).GetAwaiter().GetResult();
        }
        var samples = BuildBenchmark.RunAsync(cell, kernel, workspace.Container, renderer, layout, context.Options.Int("repeat", 5), context.Out.WriteLine, dkms: dkms)
            .GetAwaiter().GetResult();
        context.Out.Write(BuildBenchmark.Report(samples, $"{cell.Module.Name} on {kernel.Release} ({workspace.Container.Name})"));
        return ExitCodes.Ok;
    }
}
