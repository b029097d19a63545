using KfuncForge.Tests.Infrastructure;

namespace KfuncForge.Tests.Definitions;

/// <summary>
/// The one table of options (kfuncforge options) that build.cake passes options by, and the run verb the Package
/// target calls, which gives each stage only what that stage takes.
/// </summary>
public sealed class OptionTableTests
{
    private static string Base => Path.Combine(TestTree.Fixtures, "invalid", "_base");

    [Fact]
    public void The_table_lists_every_verb_with_exactly_the_options_it_takes()
    {
        var r = TestTree.Run("options");
        Assert.Equal(0, r.ExitCode);
        var table = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToDictionary(w => w[0], w => w[1..]);
        Assert.Equal(Cli.Cli.Commands.Select(c => c.Name).Order(StringComparer.Ordinal), table.Keys.Order(StringComparer.Ordinal));
        foreach (var command in Cli.Cli.Commands)
            Assert.Equal(Cli.Cli.CommonOptions.Concat(command.Accepts).Distinct().Order(StringComparer.Ordinal), table[command.Name]);
        // The run verb takes what its stages take (and --until), never an option of a verb it does not run.
        Assert.Contains("keys-dir", table["run"]);
        Assert.Contains("secure-boot", table["run"]);
        Assert.DoesNotContain("upstream", table["run"]);
    }

    [Theory]
    [InlineData("--until=install", "--until: must be one of validate, build, smoke, sign, package, not 'install'")]
    [InlineData("--upstream=/x", "'run' does not take --upstream")]
    public void The_run_verb_refuses_what_no_stage_takes(string option, string message)
    {
        var r = TestTree.Run("run", "--root", Base, option);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Stderr);
    }

    [Fact]
    public void The_run_verb_runs_its_stages_in_order_and_stops_at_the_first_failure()
    {
        // validate fails on a profile with an unknown key: exit 2, and no later stage starts.
        using var temp = TestTree.Temp();
        var tree = temp.Combine("tree");
        Support.RealKernel.CopyDir(Base, tree);
        var profile = Directory.GetFiles(Path.Combine(tree, "distros"), "*.yaml").Order(StringComparer.Ordinal).First();
        File.AppendAllText(profile, "no_such_key: 1\n");
        var bad = TestTree.Run("run", "--root", tree, $"--out={temp.Combine("bad-out")}", "--until=build");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("== validate", bad.Stdout);
        Assert.Contains("no_such_key", bad.Stderr);
        Assert.DoesNotContain("== build", bad.Stdout);

        var ok = TestTree.Run("run", "--root", Base, $"--out={temp.Path}", "--until=validate");
        Assert.True(ok.ExitCode == 0, ok.Stdout + ok.Stderr);
        Assert.Matches(@"(?m)^== validate: exit 0 in \d+\.\d\d s$", ok.Stdout);
    }

    /// <summary>The run verb's stages share one loaded catalog, but never a stale one: a change of the same length, made at once, is seen.</summary>
    [Fact]
    public void A_catalog_loaded_again_sees_every_change_to_the_definitions()
    {
        using var temp = TestTree.Temp();
        var tree = new KfuncForge.Definitions.SourceTree(temp.Combine("tree"));
        Support.RealKernel.CopyDir(Base, tree.Root);
        var first = KfuncForge.Definitions.Catalog.Load(tree);
        Assert.Same(first, KfuncForge.Definitions.Catalog.Load(tree));
        var profile = Path.Combine(tree.Distros, "debian12.yaml");
        File.WriteAllText(profile, File.ReadAllText(profile).Replace("Debian 12 (bookworm)", "Debian 12 (BOOKWORM)"));
        Assert.Equal("Debian 12 (BOOKWORM)", KfuncForge.Definitions.Catalog.Load(tree).Distro("debian12").Name);
    }
}
