using KfuncForge.Fidelity;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Fidelity;

/// <summary>
/// The fidelity judge on records as the agent writes them: one case on a backport kernel (6.1), a second
/// backport (6.12) and the native kernel (7.3), with and without a declared difference.
/// </summary>
public sealed class FidelityJudgeTests
{
    private static readonly DeclaredDifference NoIgn = new(new KernelRange(null, KernelVersion.Parse("6.2")),
        new SmokeExpectation(null, "type=scalar expected=fp"), "6.1's verifier predates __ign");

    private static FidelityCase Case(string name, long upstream, params DeclaredDifference[] differs) =>
        new(name, "bpf_strlen", new SmokeExpectation(upstream, null), differs, null);

    private static KfuncModule Module(params FidelityCase[] cases) =>
        new("kfunc_strings", "d", "GPL", "1", "/m", [], [], new LoadProfile([]))
        {
            Fidelity = new FidelitySuite("bpf/fidelity.bpf.c", cases, []),
        };

    private static string Loaded(string name, int retval) =>
        $$"""{"v":1,"type":"smoke","boot":"b","module":"kfunc_strings","name":"{{name}}","program":"{{name}}","section":"tc","loaded":true,"errno":0,"error":"","ran":true,"run_errno":0,"retval":{{(uint)retval}},"ns":5}""";

    private static string Rejected(string name, string log) =>
        $$"""{"v":1,"type":"smoke","boot":"b","module":"kfunc_strings","name":"{{name}}","loaded":false,"errno":13,"error":"Permission denied","verifier_log":"{{log}}","ns":5}""";

    /// <summary>A boot of one kernel that ran the given cases and reported the given records.</summary>
    private static BootVerdict Boot(string release, Verdict mode, IEnumerable<FidelityCase> cases, params string[] records)
    {
        var version = KernelVersion.Parse(release);
        var smoke = cases.Select(c => new GuestSmoke("kfunc_strings", c.Name, "/o/fidelity.bpf.o", c.Name, "tc", [c.Kfunc], c.ExpectOn(version)) { Declared = c.DifferenceOn(version) }).ToList();
        var plan = new BootPlan($"d/{release}", "d", new GuestKernel(release, "/k"), [], smoke,
            [new GuestLoad("kfunc_strings", "each_strlen", "bpf_strlen", "/o/l.o", "each_strlen", LoadDriver.TestRun, 1000)],
            [new KfuncCase("kfunc_strings", "bpf_strlen", mode, "")], []);
        var request = new BootRequest(plan.Id, "/k", "/i", new VmShape(Accelerator.Tcg), TimeSpan.FromSeconds(60), "/tmp/none");
        var all = records.Append("""{"v":1,"type":"done","boot":"b","ns":5,"tainted":0}""").Append("""{"v":1,"type":"exit","boot":"b","code":0}""");
        var result = new BootResult(request, BootOutcome.Completed, "", all.Select(GuestRecords.Parse).ToList(), [], 0, TimeSpan.FromSeconds(6), null, null, "");
        return SmokeJudge.Judge(plan, result);
    }

    private static string LoadRecord(long ns) =>
        $$"""{"v":1,"type":"load","boot":"b","module":"kfunc_strings","name":"each_strlen","driver":"test_run","loaded":true,"errno":0,"error":"","ran":true,"run_errno":0,"repeat":1000,"retval":5,"kernel_ns_per_call":{{ns}},"wall_ns":1,"ns":1}""";

    [Fact]
    public void The_same_result_everywhere_passes_and_a_declared_difference_is_reported_as_such()
    {
        FidelityCase[] cases = [Case("strlen_basic", 5), Case("strlen_user_ptr", -34, NoIgn)];
        var result = FidelityJudge.Judge([Module(cases)],
        [
            Boot("7.3.4+deb13-amd64", Verdict.Native, cases, Loaded("strlen_basic", 5), Loaded("strlen_user_ptr", -34), LoadRecord(600)),
            Boot("6.1.0-56-amd64", Verdict.Backport, cases, Loaded("strlen_basic", 5), Rejected("strlen_user_ptr", "R1 type=scalar expected=fp, pkt"), LoadRecord(900)),
            Boot("6.12.117+deb12-amd64", Verdict.Backport, cases, Loaded("strlen_basic", 5), Loaded("strlen_user_ptr", -34), LoadRecord(1200)),
        ]);

        Assert.True(result.Passed, string.Join("\n", result.Cases.SelectMany(c => c.Kernels).Select(k => k.Message)));
        Assert.Equal(["6.1.0-56-amd64", "6.12.117+deb12-amd64", "7.3.4+deb13-amd64"], result.Kernels.Select(k => k.Release));
        var user = result.Cases.Single(c => c.Name == "strlen_user_ptr");
        Assert.Equal("7.3.4+deb13-amd64", user.OracleKernel);
        Assert.Equal([CaseStatus.Declared, CaseStatus.Same, CaseStatus.Same], user.Kernels.Select(k => k.Status));
        Assert.Equal(NoIgn.Reason, user.Kernels[0].DeclaredReason);
        // Load: backport ns/op over native ns/op, per backport kernel.
        Assert.Equal([1.5, 2.0], result.Ratios.Select(r => r.Ratio));
        Assert.All(result.Ratios, r => Assert.Equal("7.3.4+deb13-amd64", r.NativeKernel));
        Assert.All(result.Ratios, r => Assert.Null(r.Normalised));
    }

    [Fact]
    public void A_baseline_from_the_same_boot_cancels_a_slower_host()
    {
        static LoadMeasurement M(string kernel, string step, Verdict mode, double ns) =>
            new(kernel, "kfunc_strings", step, FidelitySuite.IsBaseline(step) ? "" : "bpf_strlen", mode, LoadDriver.TestRun, 1000, true, ns, 1e9 / ns, null, 0, null, null, null);

        // The 6.1 boot ran on a host twice as busy: its baseline doubled too, so the kfunc itself costs 1.25 times native.
        // The median of the three baseline runs ignores the one that hit a hiccup (900 ns).
        var ratios = FidelityJudge.Ratios(
        [
            M("7.3.4+deb13-amd64", "baseline#1", Verdict.Native, 100), M("7.3.4+deb13-amd64", "each_strlen", Verdict.Native, 200),
            M("7.3.4+deb13-amd64", "baseline#2", Verdict.Native, 900), M("7.3.4+deb13-amd64", "baseline#3", Verdict.Native, 90),
            M("6.1.0-56-amd64", "baseline#1", Verdict.Native, 200), M("6.1.0-56-amd64", "each_strlen", Verdict.Backport, 500),
            M("6.1.0-56-amd64", "baseline#2", Verdict.Native, 210), M("6.1.0-56-amd64", "baseline#3", Verdict.Native, 190),
        ]);

        var r = Assert.Single(ratios);
        Assert.Equal(2.5, r.Ratio);
        Assert.Equal(1.25, r.Normalised);
        Assert.Equal((100.0, 200.0), (r.NativeBaselineNs, r.BackportBaselineNs));
    }

    [Fact]
    public void An_undeclared_difference_on_a_backport_fails_and_names_the_native_result()
    {
        FidelityCase[] cases = [Case("strlen_basic", 5)];
        var result = FidelityJudge.Judge([Module(cases)],
        [
            Boot("7.3.4+deb13-amd64", Verdict.Native, cases, Loaded("strlen_basic", 5)),
            Boot("6.1.0-56-amd64", Verdict.Backport, cases, Loaded("strlen_basic", 4)),
        ]);

        Assert.False(result.Passed);
        var on61 = result.Cases.Single().Kernels.Single(k => k.Kernel == "6.1.0-56-amd64");
        Assert.Equal(CaseStatus.Differs, on61.Status);
        Assert.Contains("undeclared difference: 4, upstream gives 5 (native 7.3.4+deb13-amd64: 5)", on61.Message);
    }

    [Fact]
    public void A_declared_difference_that_does_not_happen_fails()
    {
        FidelityCase[] cases = [Case("strlen_user_ptr", -34, NoIgn)];
        var result = FidelityJudge.Judge([Module(cases)],
        [
            Boot("7.3.4+deb13-amd64", Verdict.Native, cases, Loaded("strlen_user_ptr", -34)),
            Boot("6.1.0-56-amd64", Verdict.Backport, cases, Loaded("strlen_user_ptr", -34)),
        ]);

        var on61 = result.Cases.Single().Kernels.Single(k => k.Kernel == "6.1.0-56-amd64");
        Assert.Equal(CaseStatus.Differs, on61.Status);
        Assert.Contains("the declared difference (rejected (\"type=scalar expected=fp\")) did not happen: got -34", on61.Message);
        Assert.False(result.Passed);
    }

    [Fact]
    public void The_native_kernel_contradicting_the_expectation_fails_every_kernel_that_agrees_with_it()
    {
        FidelityCase[] cases = [Case("strnlen_null_zero", -34)];
        var result = FidelityJudge.Judge([Module(cases)],
        [
            Boot("7.3.4+deb13-amd64", Verdict.Native, cases, Loaded("strnlen_null_zero", 0)),
            Boot("6.1.0-56-amd64", Verdict.Backport, cases, Loaded("strnlen_null_zero", 0)),
        ]);

        var kernels = result.Cases.Single().Kernels;
        Assert.Contains("the native kernel gives 0, not upstream's -34", kernels.Single(k => k.Mode == Verdict.Native).Message);
        Assert.Contains("gives 0 like the native kernel, but the definition expects -34", kernels.Single(k => k.Mode == Verdict.Backport).Message);
        Assert.False(result.Passed);
    }

    [Fact]
    public void A_run_without_a_native_kernel_has_no_oracle_and_fails()
    {
        FidelityCase[] cases = [Case("strlen_basic", 5)];
        var result = FidelityJudge.Judge([Module(cases)], [Boot("6.1.0-56-amd64", Verdict.Backport, cases, Loaded("strlen_basic", 5))]);

        Assert.Null(result.Cases.Single().OracleKernel);
        Assert.False(result.Passed);
        Assert.Contains("no native kernel ran this case", FidelityReport.Markdown(result));
    }

    [Fact]
    public void A_missing_record_is_an_error_on_that_kernel()
    {
        FidelityCase[] cases = [Case("strlen_basic", 5), Case("strlen_empty", 0)];
        var result = FidelityJudge.Judge([Module(cases)],
        [
            Boot("7.3.4+deb13-amd64", Verdict.Native, cases, Loaded("strlen_basic", 5), Loaded("strlen_empty", 0)),
            Boot("6.1.0-56-amd64", Verdict.Backport, cases, Loaded("strlen_basic", 5)),
        ]);

        var missing = result.Cases.Single(c => c.Name == "strlen_empty").Kernels.Single(k => k.Kernel == "6.1.0-56-amd64");
        Assert.Equal(CaseStatus.Differs, missing.Status);
        Assert.Equal(ObservedKind.Missing, missing.Observed!.Kind);
        Assert.False(result.Passed);
    }

    [Fact]
    public void The_report_lists_every_case_on_every_kernel_with_the_declared_reasons_and_is_deterministic()
    {
        FidelityCase[] cases = [Case("strlen_basic", 5), Case("strlen_user_ptr", -34, NoIgn)];
        BootVerdict[] boots =
        [
            Boot("6.1.0-56-amd64", Verdict.Backport, cases, Loaded("strlen_basic", 5), Rejected("strlen_user_ptr", "R1 type=scalar expected=fp, pkt"), LoadRecord(900)),
            Boot("7.3.4+deb13-amd64", Verdict.Native, cases, Loaded("strlen_basic", 5), Loaded("strlen_user_ptr", -34), LoadRecord(600)),
        ];
        var first = FidelityJudge.Judge([Module(cases)], boots);
        var second = FidelityJudge.Judge([Module(cases)], boots.Reverse().ToList());

        Assert.True(first.Passed);
        var markdown = FidelityReport.Markdown(first);
        Assert.Equal(markdown, FidelityReport.Markdown(second));
        Assert.Equal(SmokeReport.Json(FidelityReport.Json(first)), SmokeReport.Json(FidelityReport.Json(second)));
        Assert.Contains("| strlen_user_ptr | bpf_strlen | -34 | D1 rejected | ✓ -34 |", markdown);
        Assert.Contains("- **D1** (1 cases on 6.1.0-56-amd64): 6.1's verifier predates __ign", markdown);
        Assert.Contains("| 6.1.0-56-amd64 | d | 1 | 1 | 0 | 0 | 0 | pass | 0 | n/a | n/a |", markdown);
        var json = FidelityReport.Json(first);
        Assert.Equal(1, (int)json["totals"]!["6.1.0-56-amd64"]!["declared"]!);
        Assert.Equal("declared", (string)json["cases"]![1]!["kernels"]![0]!["status"]!);
    }

    [Fact]
    public void A_socket_run_reports_its_evidence_and_a_leak_fails_it()
    {
        static BootVerdict SocketBoot(string release, Verdict mode, long inuseAfter, long inuseOpen = 20002)
        {
            var plan = new BootPlan($"d/{release}", "d", new GuestKernel(release, "/k"), [], [],
                [new GuestLoad("kfunc_sock_destroy", "tcp_10k", "bpf_sock_destroy", "/o/l.o", "load_iter_tcp", LoadDriver.SocketIterator, 10000)],
                [new KfuncCase("kfunc_sock_destroy", "bpf_sock_destroy", mode, "")], []);
            var record = $$"""{"v":1,"type":"load","boot":"b","module":"kfunc_sock_destroy","name":"tcp_10k","driver":"socket_iterator","loaded":true,"errno":0,"error":"","ran":true,"run_errno":0,"proto":"tcp","sockets":10000,"opened":10000,"aborted":10000,"still_open":0,"other_errors":0,"local_aborted":6000,"peers_aborted":4000,"peers_reset":6000,"inuse_before":1,"inuse_open":{{inuseOpen}},"inuse_after":{{inuseAfter}},"setup_ns":5000000000,"iter_ns":2000000000,"complete_ns":2500000000,"ns":1}""";
            var request = new BootRequest(plan.Id, "/k", "/i", new VmShape(Accelerator.Tcg), TimeSpan.FromSeconds(60), "/tmp/none");
            var result = new BootResult(request, BootOutcome.Completed, "", new[] { record, """{"v":1,"type":"done","boot":"b","ns":5,"tainted":0}""", """{"v":1,"type":"exit","boot":"b","code":0}""" }.Select(GuestRecords.Parse).ToList(), [], 0, TimeSpan.FromSeconds(6), null, null, "");
            return SmokeJudge.Judge(plan, result);
        }

        var module = new KfuncModule("kfunc_sock_destroy", "d", "GPL", "1", "/m", [], [], new LoadProfile([]))
        {
            Fidelity = new FidelitySuite("bpf/fidelity.bpf.c", [new FidelityCase("tcp4_established", "bpf_sock_destroy", new SmokeExpectation(0, null), [], null)], []),
        };
        var result = FidelityJudge.Judge([module], [SocketBoot("6.1.0-56-amd64", Verdict.Backport, 1), SocketBoot("7.3.4+deb13-amd64", Verdict.Native, 3)]);

        var on61 = result.SocketRuns.First();
        Assert.Equal(("6.1.0-56-amd64", 10000L, 1L, 1L, true), (on61.Kernel, on61.Aborted, on61.InuseBefore, on61.InuseAfter, on61.Passed));
        Assert.Equal(2.5, on61.CompleteSeconds);
        var leaked = result.SocketRuns.Last();
        Assert.False(leaked.Passed);
        var failure = Assert.Single(result.BootFailures);
        Assert.Equal(("7.3.4+deb13-amd64", "sockets_leaked"), (failure.Kernel, failure.Reason));
        Assert.Contains("2 tcp sockets were still in use after closing everything (1 before the set-up, 3 after", failure.Message);
        Assert.Contains("| kfunc_sock_destroy | tcp_10k | 6.1.0-56-amd64 | backport | 10000 | 10000 | 6000 / 4000 / 6000 | 1 → 20002 → 1 | 5.00 s | 2.00 s | 2.50 s | yes |", FidelityReport.Markdown(result));

        // A counter that does not see the sockets cannot prove that none leaked.
        var blind = FidelityJudge.Judge([module], [SocketBoot("6.1.0-56-amd64", Verdict.Backport, 0, inuseOpen: 0)]);
        Assert.Contains("the leak check proves nothing", Assert.Single(blind.BootFailures).Message);
    }
}
