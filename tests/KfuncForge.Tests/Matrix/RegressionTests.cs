using KfuncForge.Matrix;

namespace KfuncForge.Tests.Matrix;

public sealed class RegressionTests
{
    private static CellRecord Cell(string id, string status, double? ns = null, double? sps = null, string? reason = null) => new()
    {
        Id = id, Distro = id.Split('/')[0], Kernel = id.Split('/')[1], Module = id.Split('/')[2], Key = new string('a', 64), Status = status, Reason = reason,
        Kfuncs = [], Stages = new CellStages(),
        Loads = ns is null && sps is null ? [] : [new LoadFigure { Name = "loop", Kfunc = "bpf_x", Verdict = "backport", Passed = true, NsPerCall = ns, SocketsPerSecond = sps }],
    };

    [Fact]
    public void Newly_failing_fixed_and_slower_cells_are_named()
    {
        var before = new[] { Cell("d/1/a", "pass", ns: 100), Cell("d/1/b", "fail", reason: "build: x"), Cell("d/2/c", "pass", sps: 1000), Cell("d/3/gone", "pass") };
        var after = new[] { Cell("d/1/a", "fail", ns: 100, reason: "smoke: wrong_retval"), Cell("d/1/b", "pass"), Cell("d/2/c", "pass", sps: 700), Cell("d/4/new", "pass") };
        var r = RegressionCheck.Compare(before, after, 25, "matrix.json");
        Assert.True(r.HasRegression);
        Assert.Equal(["d/1/a"], r.NewlyFailing.Select(c => c.Id));
        Assert.Equal(["d/1/b"], r.Fixed.Select(c => c.Id));
        var slow = Assert.Single(r.SlowerLoads);
        Assert.Equal(("d/2/c", "sockets_per_second", 30.0), (slow.Id, slow.Figure, slow.WorsePercent));
        Assert.Equal(["d/3/gone"], r.Gone);
        Assert.Equal(["d/4/new"], r.New);
        Assert.Equal(["d/1/a", "d/2/c"], r.RegressedCells);
    }

    [Fact]
    public void A_figure_within_the_threshold_or_better_is_not_a_regression()
    {
        var before = new[] { Cell("d/1/a", "pass", ns: 100), Cell("d/1/b", "pass", ns: 100) };
        var after = new[] { Cell("d/1/a", "pass", ns: 124), Cell("d/1/b", "pass", ns: 60) };
        Assert.False(RegressionCheck.Compare(before, after, 25, null).HasRegression);
        Assert.True(RegressionCheck.Compare(before, after, 20, null).HasRegression);
    }

    [Fact]
    public void A_cell_that_already_failed_is_not_news()
    {
        var r = RegressionCheck.Compare([Cell("d/1/a", "fail")], [Cell("d/1/a", "fail")], 25, null);
        Assert.False(r.HasRegression);
    }
}
