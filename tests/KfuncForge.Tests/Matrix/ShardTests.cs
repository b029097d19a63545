using KfuncForge.Diagnostics;
using KfuncForge.Matrix;

namespace KfuncForge.Tests.Matrix;

public sealed class ShardTests
{
    [Theory]
    [InlineData("2/2", "shard indexes count from 0")]
    [InlineData("0/0", "between 1 and")]
    [InlineData("a/b", "is not a shard")]
    [InlineData("1/", "is not a shard")]
    [InlineData("-1/2", "is not a shard")]
    [InlineData("0/2/3", "is not a shard")]
    public void Malformed_shards_are_bad_input_saying_what_to_write(string text, string expected)
    {
        var e = Assert.Throws<InputException>(() => Shard.Parse(text));
        var problem = Assert.Single(e.Problems);
        Assert.Equal("--shard", problem.File);
        Assert.Contains(expected, problem.Message);
        Assert.Contains(text, problem.Message);
    }

    [Fact]
    public void A_shard_parses_to_its_index_and_count()
    {
        Assert.Equal(new Shard(1, 3), Shard.Parse("1/3"));
        Assert.Equal(Shard.Whole, Shard.Parse(null));
        Assert.Equal("1-of-3.json", Shard.Parse("1/3").FileName);
    }

    [Fact]
    public void The_partition_covers_every_cell_once_is_deterministic_and_balanced_by_cost()
    {
        // Costs as a real matrix has them: a few long smoke cells, cheap infeasible ones, free skipped ones.
        var costs = new Dictionary<string, double>(StringComparer.Ordinal);
        var random = new Random(7);
        for (var i = 0; i < 40; i++) costs[$"d{i % 5}/k{i % 3}/m{i}"] = i % 7 == 0 ? 0 : Math.Round(random.NextDouble() * 40 + 1, 1);
        foreach (var n in new[] { 1, 2, 3, 4, 7 })
        {
            var shards = ShardPlanner.Partition(costs, n);
            Assert.Equal(n, shards.Count);
            Assert.Equal(costs.Keys.Order(StringComparer.Ordinal), shards.SelectMany(s => s).Order(StringComparer.Ordinal));
            Assert.Equal(shards.Select(s => string.Join(",", s)), ShardPlanner.Partition(new Dictionary<string, double>(costs.Reverse()), n).Select(s => string.Join(",", s)));
            var loads = shards.Select(s => s.Sum(id => costs[id])).ToList();
            // Greedy longest-first: no shard exceeds the lightest by more than the largest single cell.
            Assert.True(loads.Max() - loads.Min() <= costs.Values.Max(), $"{n} shards: loads {string.Join(", ", loads)}");
        }
    }

    [Fact]
    public void Cost_comes_from_the_previous_duration_else_the_stage_model()
    {
        var previous = new Dictionary<string, CellRecord>(StringComparer.Ordinal)
        {
            ["a/1/m"] = new() { Id = "a/1/m", Distro = "a", Kernel = "1", Module = "m", Key = "", Status = CellStatus.Pass, Kfuncs = [], Stages = new CellStages(), Seconds = 42.04 },
        };
        Assert.Equal(42.0, ShardPlanner.Cost("a/1/m", false, MatrixStage.Package, previous));
        Assert.Equal(0, ShardPlanner.Cost("b/1/m", true, MatrixStage.Package, previous));
        Assert.Equal(9, ShardPlanner.Cost("b/1/m", false, MatrixStage.Build, previous));
        Assert.Equal(28, ShardPlanner.Cost("b/1/m", false, MatrixStage.Package, null));
    }
}
