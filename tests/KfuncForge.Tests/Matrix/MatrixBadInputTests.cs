using KfuncForge.Matrix;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Matrix;

public sealed class MatrixBadInputTests
{
    [Theory]
    [InlineData("--shard=2/2", "--shard: '2/2': shard indexes count from 0")]
    [InlineData("--shard=0/0", "--shard: '0/0': the shard count must be between 1 and")]
    [InlineData("--shard=a/b", "--shard: 'a/b' is not a shard")]
    [InlineData("--distro=debian99", "--distro: unknown distro profile 'debian99'; known: debian11, debian12")]
    [InlineData("--module=nope", "--module: unknown module 'nope'; known: kfunc_fixture_broken, kfunc_fixture_ok")]
    [InlineData("--until=boot", "--until: 'boot' is not a stage; use one of plan, build, smoke, sign, package")]
    [InlineData("--threshold=-3", "--threshold: must be a percentage")]
    public void Bad_options_are_reported_with_exit_2_and_no_stack_trace(string option, string expected)
    {
        using var tree = new MatrixTree();
        var r = tree.Run(option);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.False(Directory.Exists(tree.ReportDir));
    }

    [Fact]
    public void A_corrupt_previous_report_is_named_and_kept()
    {
        using var tree = new MatrixTree();
        Directory.CreateDirectory(tree.ReportDir);
        var previous = Path.Combine(tree.ReportDir, "matrix.json");
        File.WriteAllText(previous, "{ \"schema\": \"kfuncforge-matrix/1\", \"run\": ");
        var r = tree.Run("--distro=debian12");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"error: {previous}:1:", r.Stderr);
        Assert.Contains("the previous report is not a valid matrix report", r.Stderr);
        Assert.Contains("--previous=<file>", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.Equal("{ \"schema\": \"kfuncforge-matrix/1\", \"run\": ", File.ReadAllText(previous));
    }

    [Fact]
    public void A_corrupt_cell_in_the_store_is_named_with_what_to_do_and_nothing_is_removed()
    {
        using var tree = new MatrixTree();
        var key = new string('c', 64);
        var damaged = Path.Combine(tree.Store, key);
        Directory.CreateDirectory(damaged);
        File.WriteAllText(Path.Combine(damaged, CellStore.RecordFile), "{\"id\": 12");
        File.WriteAllText(Path.Combine(damaged, "build.log"), "kept");
        var r = tree.Run("--distro=debian12");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"{Path.Combine(damaged, CellStore.RecordFile)}:1:", r.Stderr);
        Assert.Contains($"delete the folder {damaged} and run again", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.Equal("kept", File.ReadAllText(Path.Combine(damaged, "build.log")));
    }

    [IntegrationFact]
    public void An_unknown_kernel_names_the_kernels_the_profiles_have()
    {
        using var tree = new MatrixTree();
        var r = tree.Run("--distro=debian12", "--kernel=9.9", "--until=plan");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--kernel: debian12: kernel '9.9' is not a target of debian12", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void Merging_without_every_shard_is_bad_input()
    {
        using var tree = new MatrixTree();
        var r = TestTree.Run("matrix-merge", $"--out={tree.Out}");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("holds no shard results", r.Stderr);
    }
}
