using KfuncForge.Matrix;
using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Matrix;

/// <summary>Shard files that cannot make one report: each problem named, exit 2, nothing written.</summary>
public sealed class MatrixMergeInputTests
{
    private static void WriteShard(string dir, string shard, params string[] cells)
    {
        var doc = new MatrixDocument
        {
            Run = new MatrixRunInfo
            {
                Id = "r" + shard.Replace('/', '-'), StartedAt = "2026-11-25T00:00:00Z", FinishedAt = "2026-11-25T00:01:00Z", WallSeconds = 60, Engine = "e", Until = "plan",
                Shards = [shard], Universe = new SortedDictionary<string, double>(StringComparer.Ordinal) { ["d/k/a"] = 1, ["d/k/b"] = 1 },
            },
            Summary = new MatrixSummary(),
            Cells = cells.Select(id => new CellRecord { Id = id, Distro = "d", Kernel = "k", Module = id[^1..], Key = "", Status = CellStatus.Skipped, Kfuncs = [], Stages = new CellStages() }).ToList(),
        };
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, Shard.Parse(shard).FileName), MatrixJson.Serialize(doc));
    }

    [Fact]
    public void A_missing_shard_and_a_stale_split_are_named()
    {
        using var temp = TestTree.Temp();
        var shards = temp.Combine("matrix", "shards");
        WriteShard(shards, "0/2", "d/k/a");
        var missing = TestTree.Run("matrix-merge", $"--out={temp.Path}");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("shard 1/2 missing; run them (or restore their results) before merging", missing.Stderr);

        WriteShard(shards, "1/3", "d/k/b");
        var mixed = TestTree.Run("matrix-merge", $"--out={temp.Path}");
        Assert.Equal(2, mixed.ExitCode);
        Assert.Contains("the shard files come from different splits (0-of-2.json: 0/2, 1-of-3.json: 1/3)", mixed.Stderr);
        Assert.False(File.Exists(temp.Combine("matrix", "matrix.json")));
    }

    [Fact]
    public void Complete_shards_merge_into_one_report_in_cell_order()
    {
        using var temp = TestTree.Temp();
        var shards = temp.Combine("matrix", "shards");
        WriteShard(shards, "1/2", "d/k/b");
        WriteShard(shards, "0/2", "d/k/a");
        var r = TestTree.Run("matrix-merge", $"--out={temp.Path}");
        Assert.Equal(0, r.ExitCode);
        var doc = MatrixDocument.Load(temp.Combine("matrix", "matrix.json"), "report");
        Assert.Equal(["d/k/a", "d/k/b"], doc.Cells.Select(c => c.Id));
        Assert.Equal(["0/2", "1/2"], doc.Run.Shards);
        Assert.Null(doc.Run.Universe);
        Assert.Equal(2, doc.Summary.Skipped);
    }
}
