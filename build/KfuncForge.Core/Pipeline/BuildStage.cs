using KfuncForge.Compilation;
using KfuncForge.Definitions;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Rendering;

namespace KfuncForge.Pipeline;

/// <summary>The distro's build environment and its target kernels, fetched (cached by checksum) with their facts read.</summary>
public static class FetchStage
{
    public static async Task<(KernelWorkspace Workspace, FetchedKernels Kernels)> RunAsync(Selection selection, string? container, string? cache, Action<string> log,
        CancellationToken cancellation = default)
    {
        // An RPM profile without repositories fails here, with what to give, before any environment is made.
        if (selection.Distro.PackageManager is "dnf" or "yum" && selection.KernelTree is null && selection.Repositories.Count == 0
            && selection.Distro.Kernels.Any(t => t.Tree is null))
            throw new StageException(RpmKernelFetcher.NoRepositories(selection.Distro));
        try
        {
            var workspace = await KernelWorkspace.OpenAsync(selection.Distro, container, cache, ProcessRunner.Instance, log, cancellation).ConfigureAwait(false);
            return (workspace, await workspace.FetchAsync(selection, log, cancellation).ConfigureAwait(false));
        }
        catch (ProcessFailedException e)
        {
            throw new StageException(e.Message);
        }
    }
}

/// <summary>One Build stage run: what to build with, and where.</summary>
public sealed record BuildRequest(Selection Selection, ArtifactsLayout Layout, SourceTree Tree, DateTimeOffset SourceDate)
{
    public string? Container { get; init; }
    public string? Cache { get; init; }
    public int Jobs { get; init; } = Environment.ProcessorCount;

    /// <summary>Fetch and plan only (--dryrun).</summary>
    public bool PlanOnly { get; init; }
}

/// <summary>What a Build stage run did: the plan with the kernels' real facts, each cell's result, and the build index it wrote.</summary>
public sealed record BuildOutcome(Plan Plan, FetchedKernels Kernels, IReadOnlyList<CellResult> Cells, string? Index)
{
    public bool Failed => Cells.Any(c => c.IsFailure);
}

/// <summary>
/// The Build stage, for the build verb and fidelity alike: fetch, plan with each kernel's real facts, render and
/// kbuild every cell (results reused from the store when their inputs are unchanged), and write the build index,
/// the hand-over to SmokeTest, Sign and Package (docs/smoke.md). Its output folder is locked for the run.
/// </summary>
public static class BuildStage
{
    public static async Task<BuildOutcome> RunAsync(BuildRequest request, Action<string> log, CancellationToken cancellation = default)
    {
        var layout = new BuildLayout(request.Layout.Root);
        var distro = request.Selection.Distro;
        using var output = BuildPipeline.LockOutput(layout, distro.Id);
        var (workspace, fetched) = await FetchStage.RunAsync(request.Selection, request.Container, request.Cache, log, cancellation).ConfigureAwait(false);
        var kernels = fetched.Entries;
        var plan = Planner.Make(distro, kernels.Select(k => k.ToFacts(distro.BpfLevel)).ToList(), request.Selection.Modules);
        log(PlanPrinter.Format(plan).TrimEnd('\n'));
        foreach (var u in fetched.Unavailable) log($"{u.Kernel}: unavailable: {u.Reason}");
        if (request.PlanOnly) return new BuildOutcome(plan, fetched, [], null);

        var renderer = new Renderer(TemplateSet.Load(request.Tree.Templates), request.SourceDate, Provenance.ProjectProvenance.Read(request.Tree.Root));
        var results = await BuildPipeline.RunAsync(plan, kernels.ToDictionary(k => k.Release), workspace, renderer, layout, request.Jobs, log, cancellation).ConfigureAwait(false);
        results = [.. results, .. fetched.Unavailable.SelectMany(u => CellResult.Unavailable(distro.Id, u, request.Selection.Modules.Select(m => m.Name)))];
        var index = request.Layout.BuildIndex(distro.Id);
        Vm.BuildIndex.FromBuild(kernels, results, fetched).Save(index);
        return new BuildOutcome(plan, fetched, results, index);
    }
}
