using System.Text.Json.Nodes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Support;
using KfuncForge.Tests.Vm.Infrastructure;

namespace KfuncForge.Tests.Fidelity;

/// <summary>
/// The fidelity verb end to end, at the size CI can afford: the repository's kfunc_sock_destroy on
/// debian12's two kernels, fetched and built by the engine itself (cached), booted in QEMU without the
/// load steps: 6.1 runs the backport, 6.12 the native kfunc (the oracle), with a fixture tree's upstream-style
/// selftests beside the cases. Then the same run with one declared difference removed must fail and name it.
/// </summary>
[Collection("qemu")]
public sealed class FidelityRunTests
{
    /// <summary>A source tree with the repository's profiles, templates and kfunc_sock_destroy (a backport on 6.1, native on 6.12).</summary>
    internal static string Tree(string root)
    {
        RealKernel.CopyDir(Path.Combine(TestTree.RepoRoot, "distros"), Path.Combine(root, "distros"));
        RealKernel.CopyDir(Path.Combine(TestTree.RepoRoot, "templates"), Path.Combine(root, "templates"));
        RealKernel.CopyDir(Path.Combine(TestTree.RepoRoot, "kfunc-modules", "kfunc_sock_destroy"), Path.Combine(root, "kfunc-modules", "kfunc_sock_destroy"));
        return root;
    }

    [FidelityFact]
    public async Task Sock_destroy_matches_the_native_kernel_except_where_declared_and_an_undeclared_difference_fails()
    {
        await Task.Yield();
        using var temp = TestTree.Temp();
        var tree = Tree(temp.Combine("src"));
        var outDir = temp.Combine("out");
        using var upstream = SelftestFixture.Create();
        string[] common = [$"--root={tree}", $"--out={outDir}", "--distros=debian12", "--skip-load", "--container=bwrap", "--jobs=1", $"--cache={TestKernel.CacheRoot}",
            $"--upstream={upstream.Path}", $"--ref={SelftestFixture.Ref}"];

        var run = TestTree.Run(["fidelity", .. common]);

        var work = Path.Combine(outDir, "fidelity");
        Assert.True(run.ExitCode == 0, $"{run.Stdout}\n{run.Stderr}\n{ReadIfThere(Path.Combine(work, "fidelity.md"))}");
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(work, "fidelity.json")))!;
        var kernels = report["kernels"]!.AsArray().Select(k => (string)k!["release"]!).ToList();
        Assert.Equal(2, kernels.Count);
        Assert.StartsWith("6.1.", kernels[0]);
        Assert.StartsWith("6.12.", kernels[1]);
        var cases = report["cases"]!.AsArray();
        Assert.Equal(10, cases.Count);
        foreach (var c in cases)
        {
            var on = c!["kernels"]!.AsArray();
            Assert.Equal("backport", (string?)on[0]!["mode"]);
            Assert.Equal("native", (string?)on[1]!["mode"]);
            Assert.Equal(kernels[1], (string?)c["oracle"]);
            Assert.Equal("same", (string?)on[1]!["status"]);
            // Only the fentry program is declared to differ on 6.1 (no kfunc filter before 6.5).
            Assert.Equal((string?)c["case"] == "fentry_not_filtered" ? "declared" : "same", (string?)on[0]!["status"]);
        }
        // IPv6, a listener and half-closed connections really ran, on both kernels.
        var listening = cases.Single(c => (string?)c!["case"] == "tcp6_listening")!["kernels"]!.AsArray();
        Assert.All(listening, k => Assert.Equal("1 of 1 tcp ipv6/listening aborted", (string?)k!["observed"]!["detail"]));
        var markdown = File.ReadAllText(Path.Combine(work, "fidelity.md"));
        Assert.Contains("| fentry_not_filtered | bpf_sock_destroy | rejected (\"calling kernel function bpf_sock_destroy is not allowed\") | D1 0 | ✓ rejected |", markdown);

        // The fixture tree's selftests, judged by their own annotations on the backport (6.1) and the native kernel (6.12).
        var selftests = report["upstream_selftests"]!;
        Assert.Equal(upstream.Master, (string?)selftests["commit"]);
        Assert.True((bool)selftests["passed"]!);
        var programs = selftests["programs"]!.AsArray().ToDictionary(p => (string)p!["program"]!, p => p!["kernels"]!.AsArray());
        Assert.Equal(["*", "fentry_refused", "iter_destroys", "returns_seven", "tc_refused", "xlated_checked"], programs.Keys.Order(StringComparer.Ordinal));
        string Status(string program, int kernel) => (string)programs[program][kernel]!["status"]!;
        foreach (var p in new[] { "iter_destroys", "returns_seven", "tc_refused" })
            Assert.True(Status(p, 0) == "passed" && Status(p, 1) == "passed", $"{p}: {programs[p].ToJsonString()}");
        Assert.Equal("backport", (string?)programs["iter_destroys"][0]!["mode"]);
        Assert.Equal("native", (string?)programs["iter_destroys"][1]!["mode"]);
        Assert.Equal("loaded", (string?)programs["iter_destroys"][0]!["observed"]);
        Assert.Equal("returned 7", (string?)programs["returns_seven"][1]!["observed"]);
        Assert.Equal("declared", Status("fentry_refused", 0));
        Assert.Contains("no kfunc-set filter", (string?)programs["fentry_refused"][0]!["declared_reason"]);
        Assert.Equal("passed", Status("fentry_refused", 1));
        Assert.All(programs["xlated_checked"], k => Assert.Equal("uses test_expect_xlated=r0 = 1, which this harness does not check", (string?)k!["message"]));
        Assert.All(programs["*"], k => Assert.Contains("no RUN_TESTS(kff_manual)", (string?)k!["message"]));
        Assert.Contains("## Upstream selftests", markdown);

        // Drop the declared difference: 6.1 still loads the fentry program, which is now an undeclared difference.
        var yaml = Path.Combine(tree, "kfunc-modules", "kfunc_sock_destroy", "module.yaml");
        var text = File.ReadAllText(yaml);
        var start = text.IndexOf("      differs:", StringComparison.Ordinal);
        var end = text.IndexOf("  load:", start, StringComparison.Ordinal);
        File.WriteAllText(yaml, text[..start] + text[end..]);

        var rerun = TestTree.Run(["fidelity", .. common, "--skip-build"]);

        Assert.True(rerun.ExitCode == 1, $"{rerun.Stdout}\n{rerun.Stderr}");
        Assert.Contains($"FAIL kfunc_sock_destroy/fentry_not_filtered on {kernels[0]}: undeclared difference: 0, upstream gives rejected", rerun.Stdout);
        var again = JsonNode.Parse(File.ReadAllText(Path.Combine(work, "fidelity.json")))!;
        Assert.False((bool)again["passed"]!);
        Assert.Equal(1, (int)again["totals"]![kernels[0]]!["differs"]!);
        // Without the declaration, the selftest the backport cannot refuse fails too, and says why.
        Assert.Contains($"FAIL upstream selftest kfunc_sock_destroy kff_sock_destroy.c fentry_refused on {kernels[0]}: upstream expects rejected", rerun.Stdout);
        Assert.Equal(1, (int)again["upstream_selftests"]!["totals"]![kernels[0]]!["failed"]!);
    }

    private static string ReadIfThere(string path) => File.Exists(path) ? File.ReadAllText(path) : "(no report)";
}

/// <summary>Needs what the integration tests need (fetch and build with bwrap) and what the VM tests need (QEMU on x86-64 Debian).</summary>
public sealed class FidelityFactAttribute : FactAttribute
{
    public FidelityFactAttribute()
    {
        if ((RealKernel.SkipReason ?? TestKernel.Unsupported()) is { } why) Skip = why;
        Timeout = 1_500_000;
    }
}
