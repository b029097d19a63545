using KfuncForge.Matrix;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Matrix;

/// <summary>
/// A profile target the index cannot supply (an explicit release that does not exist) is a cell state:
/// the other cells run, all three reports are written, and the next run tries that cell again.
/// </summary>
public sealed class MatrixUnavailableTests
{
    private static readonly string[] Subset = ["--distro=debian12", "--module=kfunc_fixture_ok", "--until=build", "--jobs=2"];

    [IntegrationFact]
    public void An_unresolvable_kernel_is_an_unavailable_cell_and_the_reports_are_written()
    {
        using var tree = new MatrixTree();
        var profile = Path.Combine(tree.Source, "distros", "debian12.yaml");
        var text = File.ReadAllText(profile);
        Assert.Contains("kernels:\n", text);
        File.WriteAllText(profile, text.Replace("kernels:\n", "kernels:\n  - release: \"6.1.0-999-amd64\"\n"));

        var first = tree.Run(Subset);
        Assert.True(first.ExitCode == 3, first.Stdout + first.Stderr);
        foreach (var file in new[] { "matrix.json", "matrix.md", "matrix.html" })
            Assert.True(File.Exists(Path.Combine(tree.ReportDir, file)), $"{file} was not written");
        var report = tree.Report();
        var gone = Assert.Single(report.Cells, c => c.Status == CellStatus.Unavailable);
        Assert.Equal("debian12/6.1.0-999-amd64/kfunc_fixture_ok", gone.Id);
        Assert.Contains("linux-headers-6.1.0-999-amd64 is not in", gone.Reason);
        Assert.Equal(1, report.Summary.Unavailable);
        var others = report.Cells.Where(c => c.Id != gone.Id).ToList();
        Assert.Equal(2, others.Count);   // 6.1 and 6.12, resolved from the live index and built
        Assert.All(others, c => Assert.True(c.Status == CellStatus.Pass, $"{c.Id}: {c.Status} {c.Reason}"));
        Assert.Contains("| `debian12/6.1.0-999-amd64/kfunc_fixture_ok` | unavailable |", File.ReadAllText(Path.Combine(tree.ReportDir, "matrix.md")));
        Assert.Contains("<span class=\"st unavailable\">unavailable</span>", File.ReadAllText(Path.Combine(tree.ReportDir, "matrix.html")));
        Assert.Contains("unavailable (tried again on the next run)", first.Stderr);

        var second = tree.Run(Subset);
        Assert.True(second.ExitCode == 3, second.Stdout + second.Stderr);
        var again = tree.Report();
        Assert.All(again.Cells.Where(c => c.Status == CellStatus.Pass), c => Assert.True(c.Reused == true, $"{c.Id} was not reused"));
        Assert.NotEqual(true, again.Cells.Single(c => c.Status == CellStatus.Unavailable).Reused);
        Assert.DoesNotContain(new CellStore(tree.Store).LoadAll().Values, r => r.Status == CellStatus.Unavailable && r.Transient != true);
    }
}
