using KfuncForge.Matrix;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Matrix;

/// <summary>
/// The real matrix on a small real subset: debian12's two current kernels × the two fixture modules,
/// plan and build stages (kbuild in the sandbox), so each cell does real work in a few seconds.
/// </summary>
public sealed class MatrixResumeTests
{
    private static readonly string[] Subset = ["--distro=debian12", "--until=build", "--jobs=1"];

    [IntegrationFact]
    public async Task A_killed_run_resumes_without_redoing_finished_cells()
    {
        using var tree = new MatrixTree();
        using (var first = MatrixTree.Start(tree.Args(Subset)))
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
            while (tree.StoredRecords().Count == 0 && !first.HasExited && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.False(first.HasExited, "the run ended before a cell was recorded; the kill would test nothing");
            first.Kill(entireProcessTree: true);   // SIGKILL: no handler runs
            await first.WaitForExitAsync();
        }
        var beforeKill = tree.StoredRecords();
        Assert.InRange(beforeKill.Count, 1, 3);
        Assert.False(File.Exists(Path.Combine(tree.ReportDir, "matrix.json")), "a killed run must not have written a report");
        // Every cell folder is whole: its record reads back (CellStore.LoadAll throws on a damaged one).
        Assert.Equal(beforeKill.Count, new CellStore(tree.Store).LoadAll().Count);

        var second = tree.Run(Subset);
        Assert.True(second.ExitCode == 1, second.Stdout + second.Stderr);   // the broken fixture fails its build: a first run reports it
        var report = tree.Report();
        Assert.Equal(4, report.Cells.Count);
        var reused = report.Cells.Where(c => c.Reused == true).Select(c => c.Key).Order().ToList();
        Assert.Equal(beforeKill.Keys.Order(), reused);
        foreach (var (key, bytes) in beforeKill)
            Assert.Equal(bytes, tree.StoredRecords()[key]);   // not redone, not rewritten
        Assert.Equal(4 - beforeKill.Count, report.Summary.Ran);
        // Named by whatever 6.1 release is newest and complete in today's index.
        var broken61 = report.Cells.Single(c => c.Module == "kfunc_fixture_broken" && c.Kernel.StartsWith("6.1.", StringComparison.Ordinal));
        Assert.Contains(broken61.Id, second.Stderr);
        Assert.All(report.Cells.Where(c => c.Module == "kfunc_fixture_ok"), c => Assert.Equal(CellStatus.Pass, c.Status));
        Assert.All(report.Cells.Where(c => c.Module == "kfunc_fixture_broken"), c => Assert.StartsWith("build: kbuild failed", c.Reason));

        // A third run reuses everything, and the report's cells are the same bytes apart from the reuse flag.
        var third = tree.Run(Subset);
        Assert.Equal(0, third.ExitCode);   // compared with the previous report: no regression
        Assert.Equal(4, tree.Report().Summary.Reused);
        Assert.Equal(MatrixTree.Outcomes(report), MatrixTree.Outcomes(tree.Report()));
    }

    [IntegrationFact]
    public void Two_shards_merged_give_the_cells_of_one_unsharded_run()
    {
        using var whole = new MatrixTree();
        Assert.Equal(1, whole.Run(Subset).ExitCode);
        var expected = MatrixTree.Outcomes(whole.Report()).ToList();

        using var sharded = new MatrixTree();
        var s0 = sharded.Run([.. Subset, "--shard=0/2"]);
        var s1 = sharded.Run([.. Subset, "--shard=1/2"]);
        Assert.True(s0.ExitCode == 0 && s1.ExitCode == 0, s0.Stderr + s1.Stderr);
        var part0 = MatrixDocument.Load(Path.Combine(sharded.ReportDir, "shards", "0-of-2.json"), "shard");
        var part1 = MatrixDocument.Load(Path.Combine(sharded.ReportDir, "shards", "1-of-2.json"), "shard");
        Assert.Equal(2, part0.Cells.Count);   // four cells of equal modelled cost: two each
        Assert.Equal(2, part1.Cells.Count);
        Assert.Empty(part0.Cells.Select(c => c.Id).Intersect(part1.Cells.Select(c => c.Id)));

        var merge = KfuncForge.Tests.Infrastructure.TestTree.Run("matrix-merge", $"--out={sharded.Out}");
        Assert.Equal(1, merge.ExitCode);   // the broken fixture's cells fail, and there is no previous report
        var merged = sharded.Report();
        Assert.Equal(["0/2", "1/2"], merged.Run.Shards);
        Assert.Equal(expected, MatrixTree.Outcomes(merged));
        Assert.True(File.Exists(Path.Combine(sharded.ReportDir, "matrix.html")) && File.Exists(Path.Combine(sharded.ReportDir, "matrix.md")));

        // Against a previous report in which every cell passed, the same merge is a regression naming the broken fixture's cells.
        var previous = sharded.Temp.Combine("previous.json");
        File.WriteAllText(previous, MatrixJson.Serialize(merged with { Cells = merged.Cells.Select(c => c with { Status = CellStatus.Pass, Reason = null }).ToList() }));
        var broken = merged.Cells.Where(c => c.Module == "kfunc_fixture_broken").Select(c => c.Id).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, broken.Count);
        var summary = sharded.Temp.Combine("step-summary.md");
        KfuncForge.Tests.Infrastructure.CliResult again;
        lock (StepSummary)
        {
            Environment.SetEnvironmentVariable("GITHUB_STEP_SUMMARY", summary);
            try { again = KfuncForge.Tests.Infrastructure.TestTree.Run("matrix-merge", $"--out={sharded.Out}", $"--previous={previous}"); }
            finally { Environment.SetEnvironmentVariable("GITHUB_STEP_SUMMARY", null); }
        }
        Assert.Equal(1, again.ExitCode);
        Assert.Contains($"error: regression since previous.json: {string.Join(", ", broken)}", again.Stderr);
        var regressions = sharded.Report().Regressions!;
        Assert.Equal(broken, regressions.NewlyFailing.Select(c => c.Id));
        Assert.Contains("**newly failing**", File.ReadAllText(summary));
    }

    private static readonly object StepSummary = new();
}
