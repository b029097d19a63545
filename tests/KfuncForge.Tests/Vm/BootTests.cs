using System.Text.Json.Nodes;
using KfuncForge.Definitions;
using KfuncForge.Planning;
using KfuncForge.Processes;
using KfuncForge.Tests.Infrastructure;
using KfuncForge.Tests.Vm.Infrastructure;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Vm;

/// <summary>
/// Real boots of a real Debian 6.12 kernel under QEMU with real fixture modules and BPF programs.
/// Few on purpose (each boot costs seconds under TCG): one boot judges several modules at once.
/// </summary>
[Collection("qemu")]
public sealed class BootTests
{
    private static SmokeSession Session(string work, TimeSpan? timeout = null) =>
        new(Tools(), new QemuVmRunner(ProcessRunner.Instance), new SmokeOptions(work) { Timeout = timeout ?? TimeSpan.FromSeconds(240), Jobs = 1 });

    private static GuestTools Tools() => new(new ContentCache(TestKernel.CacheRoot), ProcessRunner.Instance);

    private static async Task<IReadOnlyList<BootPlan>> PlanAsync(string tree, string index)
    {
        var catalog = Catalog.Load(new SourceTree(tree));
        var distro = catalog.Distro("debian12");
        var plan = Planner.Make(distro, KernelSelection.Select(distro, "6.12"), catalog.Modules);
        return await new SmokePlanner(Tools()).MakeAsync(plan, BuildIndex.Load(index));
    }

    [VmFact]
    public async Task One_boot_loads_every_module_and_judges_each_from_the_records()
    {
        var kernel = await TestKernel.GetAsync();
        FixtureModule[] modules = [new("kff_good"), new("kff_nobtf", WithBtf: false), new("kff_wrong", FixtureMode.WrongValue), new("kff_warn", FixtureMode.Warn)];
        var built = new List<(string, string)>();
        foreach (var m in modules) built.Add((m.Name, await VmFixtures.BuildAsync(kernel, m)));
        using var temp = TestTree.Temp();
        var tree = VmFixtures.WriteTree(temp.Combine("tree"), modules, withSocketDestroy: true);
        var index = VmFixtures.WriteIndex(temp.Combine("build-index.json"), kernel, built);

        var cli = TestTree.Run("smoke", $"--root={tree}", "--distro=debian12", "--kernel=6.12", $"--index={index}", $"--out={temp.Combine("out")}", $"--cache={TestKernel.CacheRoot}");

        var work = temp.Combine("out", "smoke", "debian12");
        var summary = File.ReadAllText(Path.Combine(work, "summary.txt"));
        Assert.True(cli.ExitCode == 1, $"three fixtures must fail, so the verb exits 1; got {cli.ExitCode}\n{cli.Stdout}\n{cli.Stderr}");
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(work, "results.json")))!;
        Assert.Equal("tcg", (string?)results["accelerator"]!["kind"]);
        Assert.Contains("KVM", (string?)results["accelerator"]!["reason"]);
        var k = results["kernels"]!.AsArray().Single()!;
        Assert.Equal(kernel.Release, (string?)k["release"]);
        Assert.Equal(kernel.Release, (string?)k["kernel_seen"]);
        Assert.Equal("completed", (string?)k["outcome"]);
        var fault = k["faults"]!.AsArray().Single()!;
        Assert.Equal("warning", (string?)fault["kind"]);
        Assert.Equal("kff_warn", (string?)fault["modules"]![0]);
        Assert.True(File.Exists(Path.Combine(work, (string)k["console_log"]!)), "the console log is kept for people");

        JsonNode Cell(string module) => k["cells"]!.AsArray().Single(c => (string?)c!["module"] == module)!;
        Assert.True((string?)Cell("kff_good")["status"] == "pass", summary);
        Assert.True((string?)Cell("kff_sockd")["status"] == "pass", summary);
        Assert.Equal("module_btf_missing", (string?)Cell("kff_nobtf")["reason"]);
        Assert.Equal("wrong_retval", (string?)Cell("kff_wrong")["reason"]);
        Assert.Contains("add_tc returned 43, expected 42", (string?)Cell("kff_wrong")["message"]);
        // A WARN splat fails the cell it names, although every test of that module passed.
        Assert.Equal("kernel_warning", (string?)Cell("kff_warn")["reason"]);
        Assert.All(Cell("kff_warn")["checks"]!.AsArray().Where(c => (string?)c!["kind"] != "kernel"), c => Assert.NotEqual("fail", (string?)c!["status"]));

        // The negative test passed for the good module because of the verifier, with its log as evidence.
        var xdp = Cell("kff_good")["checks"]!.AsArray().Single(c => (string?)c!["name"] == "xdp-rejected")!;
        Assert.Equal("pass", (string?)xdp["status"]);
        Assert.Contains("calling kernel function bpf_kff_good_add is not allowed", (string?)xdp["message"]);
        // A module without BTF cannot pass its negative test either: the kfunc never resolved.
        var nobtfXdp = Cell("kff_nobtf")["checks"]!.AsArray().Single(c => (string?)c!["name"] == "xdp-rejected")!;
        Assert.Equal("kfunc_unresolved", (string?)nobtfXdp["reason"]);
        var nobtfRegistration = Cell("kff_nobtf")["checks"]!.AsArray().Single(c => (string?)c!["kind"] == "registration")!;
        Assert.Equal("registration_unproven", (string?)nobtfRegistration["reason"]);
        // A wrong value still proves registration (the kfunc resolved and ran).
        Assert.Equal("pass", (string?)Cell("kff_wrong")["checks"]!.AsArray().Single(c => (string?)c!["kind"] == "registration")!["status"]);

        var loads = k["loads"]!.AsArray();
        var add = loads.Single(l => (string?)l!["module"] == "kff_good")!;
        Assert.True((double)add["ns_per_call"]! > 0, summary);
        foreach (var proto in new[] { "tcp", "udp" })
        {
            var sockets = loads.Single(l => (string?)l!["module"] == "kff_sockd" && (string?)l["proto"] == proto)!;
            Assert.True((bool)sockets["passed"]!, summary);
            Assert.Equal(256, (long)sockets["sockets_aborted"]!);
            Assert.True((double)sockets["sockets_per_second"]! > 0);
        }
        Assert.Single(File.ReadAllLines(Path.Combine(work, "results.jsonl")));
    }

    [VmFact]
    public async Task A_module_that_panics_the_kernel_fails_its_cell_with_the_panic()
    {
        var kernel = await TestKernel.GetAsync();
        var panic = new FixtureModule("kff_panic", FixtureMode.Panic);
        var ko = await VmFixtures.BuildAsync(kernel, panic);
        using var temp = TestTree.Temp();
        var boots = await PlanAsync(VmFixtures.WriteTree(temp.Combine("tree"), [panic]), VmFixtures.WriteIndex(temp.Combine("index.json"), kernel, [(panic.Name, ko)]));
        var events = new List<VmEvent>();

        var run = await Session(temp.Path).RunAsync(boots, events: e => { lock (events) events.Add(e); });

        var verdict = run.Verdicts.Single();
        Assert.Equal(BootOutcome.Panicked, verdict.Boot!.Outcome);
        Assert.Contains("kff_fixture: panicking in module_init on purpose", verdict.Boot.Detail);
        var cell = verdict.Cells.Single();
        Assert.False(cell.Passed);
        Assert.Equal(FailureReason.KernelPanic, cell.PrimaryFailure!.Reason);
        var fault = verdict.Boot.Faults.First(f => f.Kind == FaultKind.Panic);
        Assert.Contains("kff_panic", fault.Modules);
        Assert.Equal("kff_panic", verdict.Boot.UnfinishedStep?.Module);
        Assert.True(verdict.Boot.Wall < TimeSpan.FromSeconds(120), "a panic ends the VM at once (panic=-1, -no-reboot), not at the timeout");
        // Typed events, in order: start, console and records while it ran, the fault, the end.
        Assert.IsType<BootStarted>(events[0]);
        Assert.IsType<BootFinished>(events[^1]);
        Assert.Contains(events, e => e is ConsoleLine);
        Assert.Contains(events, e => e is RecordReceived { Record: BeginRecord { Module: "kff_panic" } });
        Assert.Contains(events, e => e is FaultDetected { Fault.Kind: FaultKind.Panic });
    }

    [VmFact]
    public async Task A_guest_that_hangs_is_killed_at_the_hard_timeout_and_reported()
    {
        var kernel = await TestKernel.GetAsync();
        var hang = new FixtureModule("kff_hang", FixtureMode.Hang);
        var ko = await VmFixtures.BuildAsync(kernel, hang);
        using var temp = TestTree.Temp();
        var boots = await PlanAsync(VmFixtures.WriteTree(temp.Combine("tree"), [hang]), VmFixtures.WriteIndex(temp.Combine("index.json"), kernel, [(hang.Name, ko)]));

        var run = await Session(temp.Path, TimeSpan.FromSeconds(30)).RunAsync(boots);

        var verdict = run.Verdicts.Single();
        Assert.Equal(BootOutcome.TimedOut, verdict.Boot!.Outcome);
        Assert.NotNull(verdict.Boot.Hello);
        var cell = verdict.Cells.Single();
        Assert.Equal(FailureReason.Timeout, cell.PrimaryFailure!.Reason);
        Assert.Contains("killed after 30 s (during module kff_hang/kff_hang)", cell.PrimaryFailure.Message);
        Assert.Contains(File.ReadLines(verdict.Boot.Request.ConsoleLog), l => l.Contains("hanging in module_init on purpose", StringComparison.Ordinal));
    }
}

[CollectionDefinition("qemu", DisableParallelization = true)]
public sealed class QemuCollection;
