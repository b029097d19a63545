using KfuncForge.Caching;
using KfuncForge.Diagnostics;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Rendering;

namespace KfuncForge.Compilation;

/// <summary>Where a build writes: &lt;out&gt;/render/ (the lead's renderer) and &lt;out&gt;/build/&lt;distro&gt;/&lt;release&gt;/&lt;module&gt;/ with a .log beside each.</summary>
public sealed record BuildLayout(string ArtifactsDir)
{
    private Pipeline.ArtifactsLayout Artifacts => new(ArtifactsDir);
    public string RenderRoot => Artifacts.Render;
    public string BuildRoot => Artifacts.Build;
    public string WorkDir(string distro, string release, string module) => Artifacts.BuildCell(distro, release, module);
    public string LogFile(string distro, string release, string module) => Artifacts.BuildLog(distro, release, module);
    public string RunLock(string distro) => Path.Combine(BuildRoot, $".{distro}.lock");
}

/// <summary>Plan → render → kbuild for every cell, cells in parallel; cells with nothing to build report why.</summary>
public static class BuildPipeline
{
    /// <summary>Takes the output folder for this distro, or fails at once when another run is writing there.</summary>
    public static FileLock LockOutput(BuildLayout layout, string distro) =>
        FileLock.TryAcquire(layout.RunLock(distro))
        ?? throw new StageException($"another kfuncforge build is writing to {Path.Combine(layout.BuildRoot, distro)} right now; wait for it to finish, or pass --out=<another dir> (the kernel cache is shared safely; only this output folder is not)");

    public static async Task<IReadOnlyList<CellResult>> RunAsync(Plan plan, IReadOnlyDictionary<string, KernelEntry> kernels, KernelWorkspace workspace,
        Renderer renderer, BuildLayout layout, int jobs, Action<string> log, CancellationToken cancellation = default)
    {
        var builder = new KbuildBuilder(workspace.Container);
        var cells = new List<CellScheduler.Cell>();
        foreach (var cell in plan.Cells)
        {
            var release = cell.Kernel.Release;
            if (!cell.NeedsModule)
            {
                var (outcome, reason) = NothingToBuild(cell);
                var result = new CellResult(plan.Distro.Id, release, cell.Module.Name, outcome, reason, TimeSpan.Zero);
                cells.Add(new CellScheduler.Cell(plan.Distro.Id, release, cell.Module.Name, _ => Task.FromResult(result)));
                continue;
            }
            var entry = kernels[release];
            cells.Add(new CellScheduler.Cell(plan.Distro.Id, release, cell.Module.Name, async ct =>
            {
                RenderedCell rendered;
                try
                {
                    rendered = renderer.Render(cell, layout.RenderRoot);
                }
                catch (Exception e) when (e is InputException or StageException or IOException or InvalidOperationException)
                {
                    return new CellResult(plan.Distro.Id, release, cell.Module.Name, CellOutcome.Failed, $"render failed: {e.Message}", TimeSpan.Zero);
                }
                return await builder.BuildAsync(new KbuildRequest(plan.Distro, entry, cell.Module.Name, rendered.Directory,
                    layout.WorkDir(plan.Distro.Id, release, cell.Module.Name), layout.LogFile(plan.Distro.Id, release, cell.Module.Name),
                    cell.Backports.Select(b => b.Kfunc).ToList()) { SourceDate = renderer.SourceDate, Store = Pipeline.StageStore.In(layout.ArtifactsDir) }, ct);
            }));
        }
        return await CellScheduler.RunAsync(cells, jobs, r =>
        {
            if (r.Outcome is CellOutcome.Built or CellOutcome.Failed)
                log($"{r.Outcome.ToString().ToLowerInvariant(),-7} {r.Kernel}/{r.Module} in {r.Duration.TotalSeconds:0.0} s{(r.IsFailure ? ": " + r.Reason : "")}{(r.Log is null ? "" : $" (log: {r.Log})")}");
        }, cancellation);
    }

    /// <summary>A cell whose kfuncs are all native is done; otherwise it is infeasible, with the planner's reasons.</summary>
    public static (CellOutcome, string) NothingToBuild(BuildCell cell)
    {
        var infeasible = cell.Entries.Where(e => e.Verdict == Verdict.Infeasible).ToList();
        if (infeasible.Count == 0)
            return (CellOutcome.Native, $"the kernel already has {string.Join(", ", cell.Entries.Select(e => e.Kfunc))}");
        var native = cell.Entries.Where(e => e.Verdict == Verdict.Native).Select(e => e.Kfunc).ToList();
        var reasons = infeasible.GroupBy(e => e.Reason).Select(g => $"{string.Join(", ", g.Select(e => e.Kfunc))}: {g.Key}");
        return (CellOutcome.Infeasible, string.Join("; ", reasons) + (native.Count > 0 ? $"; native: {string.Join(", ", native)}" : ""));
    }
}
