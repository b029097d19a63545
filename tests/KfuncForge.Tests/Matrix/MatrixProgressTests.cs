using KfuncForge.Matrix;

namespace KfuncForge.Tests.Matrix;

public sealed class MatrixProgressTests
{
    private static CellRecord Done(string id, double seconds, string status = CellStatus.Pass) => new()
    {
        Id = id, Distro = "d", Kernel = "k", Module = id, Key = new string('a', 64), Status = status, Kfuncs = [], Stages = new CellStages(), Seconds = seconds,
    };

    [Fact]
    public void Plain_progress_is_one_line_per_event_without_terminal_codes()
    {
        var w = new StringWriter { NewLine = "\n" };
        using (var p = new MatrixProgress(w, live: false, jobs: 1))
        {
            p.Planned(2, 1, 1, new Dictionary<string, double> { ["b"] = 10 });
            p.Finished(Done("a", 5), reused: true);
            p.Started("b");
            p.Finished(Done("b", 12, CellStatus.Fail) with { Reason = "build: kbuild failed" }, reused: false);
        }
        var lines = w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("matrix: 2 cells in this shard: 1 reused from the store, 1 to run", lines[0]);
        Assert.Equal("pass       a (reused)", lines[1]);
        Assert.Equal("start   b", lines[2]);
        Assert.Equal("fail       b (12.0 s): build: kbuild failed", lines[3]);
        Assert.DoesNotContain('\u001b', w.ToString());
    }

    [Fact]
    public void The_live_view_keeps_a_status_line_with_an_eta_corrected_by_the_cells_already_done()
    {
        var w = new StringWriter();
        using var p = new MatrixProgress(w, live: true, jobs: 2);
        p.Planned(3, 0, 3, new Dictionary<string, double> { ["a"] = 10, ["b"] = 30, ["c"] = 10 });
        Assert.Equal(25, p.EtaSeconds());   // 50 s of work, two at a time
        p.Started("a");
        p.Started("b");
        Assert.Contains("running 2 · queued 1", w.ToString());
        p.Finished(Done("a", 20), reused: false);   // took twice as long as expected
        Assert.Equal(40, p.EtaSeconds());           // (30 + 10) × 2 / 2
        var text = w.ToString();
        Assert.Contains("\r\u001b[2K", text);
        Assert.Contains("[1/3]", text);
        Assert.Contains("ETA 40s", text);
    }
}
