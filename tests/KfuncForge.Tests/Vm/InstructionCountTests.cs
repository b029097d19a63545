using System.Text.Json.Nodes;
using KfuncForge.Fidelity;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Vm.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Vm;

/// <summary>
/// Instruction-count mode (issue 16): QEMU's -icount makes a load step's per-call figure a count of guest
/// instructions, so the same inputs give the same figure on every run, however busy the host is. Fidelity's
/// ratios are quotients of such figures, hence identical run to run as well.
/// </summary>
[Collection("qemu")]
public sealed class InstructionCountTests
{
    [Fact]
    public void Icount_forces_TCG_and_adds_the_one_instruction_per_nanosecond_clock()
    {
        var args = QemuCommand.Arguments(new VmShape(Accelerator.Kvm) { InstructionCount = true }, "k", "i", "c", "r").ToList();

        Assert.Equal("tcg", args[args.IndexOf("-accel") + 1]);
        Assert.Equal("shift=0,sleep=off", args[args.IndexOf("-icount") + 1]);
        Assert.DoesNotContain("-icount", QemuCommand.Arguments(new VmShape(Accelerator.Tcg), "k", "i", "c", "r"));
    }

    [VmFact]
    public async Task Two_boots_of_the_same_inputs_give_the_same_instruction_time_per_call()
    {
        var kernel = await TestKernel.GetAsync();
        FixtureModule[] modules = [new("kff_good")];
        var ko = await VmFixtures.BuildAsync(kernel, modules[0]);
        using var temp = TestTree.Temp();
        var tree = VmFixtures.WriteTree(temp.Combine("tree"), modules, loadRepeat: 20_000);
        var index = VmFixtures.WriteIndex(temp.Combine("build-index.json"), kernel, [(modules[0].Name, ko)]);

        double PerCall(string run)
        {
            var cli = TestTree.Run("smoke", $"--root={tree}", "--distro=debian12", "--kernel=6.12", $"--index={index}", $"--out={temp.Combine(run)}", $"--cache={TestKernel.CacheRoot}", "--icount=on");
            Assert.True(cli.ExitCode == 0, cli.Stdout + cli.Stderr);
            var results = JsonNode.Parse(File.ReadAllText(Path.Combine(temp.Combine(run), "smoke", "debian12", "results.json")))!;
            Assert.True((bool)results["instruction_count"]!);
            Assert.Equal("tcg", (string?)results["accelerator"]!["kind"]);
            var load = results["kernels"]![0]!["loads"]!.AsArray().Single(l => (string?)l!["module"] == "kff_good")!;
            return (double)load["ns_per_call"]!;
        }

        var first = PerCall("a");
        var second = PerCall("b");

        Assert.True(first > 0);
        Assert.Equal(first, second);
    }

    [Fact]
    public void A_backport_step_that_grew_past_the_threshold_against_the_previous_report_is_a_regression()
    {
        LoadMeasurement Load(string step, string kernel, Verdict verdict, double ns) =>
            new(kernel, "kfunc_strings", step, "bpf_" + step, verdict, LoadDriver.TestRun, 1000, true, ns, 1e9 / ns, null, 0, null, null, null);
        var it = new InstructionTime([Load("strlen", "6.1.0-57-amd64", Verdict.Backport, 1120), Load("strcmp", "6.1.0-57-amd64", Verdict.Backport, 1500),
            Load("strlen", "7.3.4+deb13-amd64", Verdict.Native, 2000), Load("strchr", "6.12.117+deb12-amd64", Verdict.Backport, 900)], [], []);
        var previous = new Dictionary<(string, string, string), double>
        {
            [("kfunc_strings", "strlen", "6.1.0-57-amd64")] = 1000,   // +12 %: over 10 %
            [("kfunc_strings", "strcmp", "6.1.0-57-amd64")] = 1400,   // +7 %: within
            [("kfunc_strings", "strlen", "7.3.4+deb13-amd64")] = 1000, // native: not the backport's doing
        };

        var regressions = FidelityJudge.Regressions(it, previous, 0.10);

        var r = Assert.Single(regressions);
        Assert.Equal(("strlen", "6.1.0-57-amd64", 1000.0, 1120.0), (r.Step, r.Kernel, r.PreviousNs, r.CurrentNs));

        // The previous figures are read back from a report as written.
        var report = FidelityReport.Json(new FidelityResult([], [], [], [], []) { InstructionTime = it });
        var read = FidelityReport.PreviousInstructionTimes(JsonNode.Parse(report.ToJsonString())!);
        Assert.Equal(1120, read[("kfunc_strings", "strlen", "6.1.0-57-amd64")]);
        Assert.Equal(4, read.Count);
    }
}
