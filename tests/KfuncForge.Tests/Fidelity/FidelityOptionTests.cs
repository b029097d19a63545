using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Fidelity;

/// <summary>--distros is checked whole before any profile is built: a typo in the last id costs no build of the first.</summary>
public sealed class FidelityOptionTests
{
    [Theory]
    [InlineData("--distros=debian12,debian99", "error: --distros: unknown distro id 'debian99'; known: debian11, debian12")]
    [InlineData("--distros=,", "error: --distros: names no distro; give a comma-separated list of profiles")]
    [InlineData("--upstream=/nonexistent/linux", "error: --upstream: fidelity with --upstream needs --ref=<tag or commit> of that tree")]
    [InlineData("--ref=v6.18", "error: --ref: --ref names a ref of the upstream tree; give the tree too (--upstream=<kernel repository>)")]
    public void Bad_distro_lists_stop_before_anything_is_built(string option, string expected)
    {
        using var temp = TestTree.Temp();
        var outDir = Path.Combine(temp.Path, "out");
        var r = TestTree.Run("fidelity", $"--root={TestTree.RepoRoot}", $"--out={outDir}", option);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.Stderr);
        Assert.DoesNotContain("building for", r.Stdout);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.False(Directory.Exists(outDir));
    }
}
