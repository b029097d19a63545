using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Vm;

/// <summary>
/// The judge on records as the agent writes them (JSON lines), for every reason a check can fail.
/// The real boots in BootTests produce the same records; these cover the cases a boot cannot cheaply.
/// </summary>
public sealed class JudgeTests
{
    private const string Boot = "debian12/6.1.0-56-amd64";

    private static BootPlan Plan(params GuestSmoke[] smoke) => new(
        Boot, "debian12", new GuestKernel("6.1.0-56-amd64", "/k"),
        [new GuestModule("kfunc_strings", "/m.ko", GuestModuleKind.Built, ["bpf_strlen"])],
        smoke.Length > 0 ? smoke : [Positive],
        [new GuestLoad("kfunc_strings", "strlen", "bpf_strlen", "/o/load.bpf.o", "load", LoadDriver.TestRun, 1000)],
        [new KfuncCase("kfunc_strings", "bpf_strlen", Verdict.Backport, "variant 'copy'")],
        []);

    private static readonly GuestSmoke Positive = new("kfunc_strings", "strlen", "/o/smoke.bpf.o", "strlen_tc", "tc", ["bpf_strlen"], new SmokeExpectation(5, null));

    private static readonly GuestSmoke Negative = new("kfunc_strings", "strlen-xdp", "/o/smoke.bpf.o", "strlen_xdp", "xdp", ["bpf_strlen"],
        new SmokeExpectation(null, "calling kernel function bpf_strlen is not allowed"));

    private const string Hello = """{"v":1,"type":"hello","boot":"b","kernel":"6.1.0-56-amd64","boottime_ns":2000000000}""";
    private const string ModuleOk = """{"v":1,"type":"module","boot":"b","module":"kfunc_strings","kind":"built","ok":true,"errno":0,"error":"","ns":1000000,"btf":true,"kfuncs_in_btf":["bpf_strlen"],"kernel_log":[]}""";
    private const string SmokeOk = """{"v":1,"type":"smoke","boot":"b","module":"kfunc_strings","name":"strlen","program":"strlen_tc","section":"tc","prog_type":"sched_cls","loaded":true,"errno":0,"error":"","ran":true,"run_errno":0,"retval":5,"ns":5}""";
    private const string LoadOk = """{"v":1,"type":"load","boot":"b","module":"kfunc_strings","name":"strlen","driver":"test_run","loaded":true,"errno":0,"error":"","ran":true,"run_errno":0,"repeat":1000,"retval":5,"kernel_ns_per_call":70,"wall_ns":80000,"ns":90000}""";
    private const string Done = """{"v":1,"type":"done","boot":"b","ns":500000000,"tainted":12288}""";
    private const string Exit = """{"v":1,"type":"exit","boot":"b","code":0}""";

    private static BootResult Result(BootOutcome outcome, IEnumerable<string> records, IEnumerable<string>? console = null, string detail = "")
    {
        var scanner = new ConsoleFaultScanner();
        foreach (var l in console ?? []) scanner.Add(l);
        var request = new BootRequest(Boot, "/k", "/i", new VmShape(Accelerator.Tcg), TimeSpan.FromSeconds(60), "/tmp/none");
        return new BootResult(request, outcome, detail, records.Select(GuestRecords.Parse).ToList(), scanner.Faults, 0, TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5), "");
    }

    private static CellVerdict Judge(BootPlan plan, BootOutcome outcome, IEnumerable<string> records, IEnumerable<string>? console = null) =>
        SmokeJudge.Judge(plan, Result(outcome, records, console)).Cells.Single();

    [Fact]
    public void All_records_as_expected_pass_and_registration_is_proven_by_the_call()
    {
        var verdict = SmokeJudge.Judge(Plan(), Result(BootOutcome.Completed, [Hello, ModuleOk, SmokeOk, LoadOk, Done, Exit]));

        var cell = verdict.Cells.Single();
        Assert.True(cell.Passed, string.Join("\n", cell.Checks));
        Assert.Contains(cell.Checks, c => c is { Kind: "registration", Status: CheckStatus.Pass } && c.Message.Contains("ran from BPF (strlen)"));
        var load = verdict.Loads.Single();
        Assert.Equal(70, load.NsPerCall);
        Assert.Equal(2.0, verdict.Timings!.GuestBootSeconds);
        Assert.Equal(0.001, verdict.Timings.LoadSeconds);
    }

    [Fact]
    public void A_module_without_btf_fails_as_such_and_never_counts_as_registered()
    {
        var noBtf = ModuleOk.Replace("\"btf\":true", "\"btf\":false").Replace("[\"bpf_strlen\"],\"kernel_log\":[]", "[],\"kernel_log\":[\"missing module BTF, cannot register kfunc\"]");
        var unresolved = """{"v":1,"type":"smoke","boot":"b","module":"kfunc_strings","name":"strlen","loaded":false,"errno":22,"error":"Invalid argument","verifier_log":"","loader_log":"libbpf: extern (func ksym) 'bpf_strlen': not found in kernel or module BTFs\n","ns":1}""";

        var cell = Judge(Plan(), BootOutcome.Completed, [Hello, noBtf, unresolved, LoadOk, Done, Exit]);

        Assert.Equal(FailureReason.ModuleBtfMissing, cell.PrimaryFailure!.Reason);
        Assert.Contains("/sys/kernel/btf/kfunc_strings is missing", cell.PrimaryFailure.Message);
        Assert.Equal("missing module BTF, cannot register kfunc", cell.PrimaryFailure.Evidence);
        Assert.Contains(cell.Checks, c => c.Reason == FailureReason.KfuncUnresolved);
        Assert.Contains(cell.Checks, c => c.Reason == FailureReason.RegistrationUnproven);
    }

    [Fact]
    public void A_wrong_value_fails_the_smoke_check_but_not_registration()
    {
        var cell = Judge(Plan(), BootOutcome.Completed, [Hello, ModuleOk, SmokeOk.Replace("\"retval\":5", "\"retval\":6"), LoadOk, Done, Exit]);

        Assert.Equal(FailureReason.WrongRetval, cell.PrimaryFailure!.Reason);
        Assert.Equal("strlen_tc returned 6, expected 5", cell.PrimaryFailure.Message);
        Assert.Contains(cell.Checks, c => c is { Kind: "registration", Status: CheckStatus.Pass });
    }

    [Fact]
    public void Negative_values_compare_as_the_programs_32_bit_return()
    {
        var plan = Plan(Positive with { Expect = new SmokeExpectation(-22, null) });
        var cell = Judge(plan, BootOutcome.Completed, [Hello, ModuleOk, SmokeOk.Replace("\"retval\":5", "\"retval\":4294967274"), LoadOk, Done, Exit]);
        Assert.True(cell.Passed, string.Join("\n", cell.Checks));
    }

    [Fact]
    public void Insmod_failure_is_reported_with_the_kernels_lines()
    {
        var failed = """{"v":1,"type":"module","boot":"b","module":"kfunc_strings","kind":"built","ok":false,"errno":8,"error":"Exec format error","ns":1,"btf":false,"kfuncs_in_btf":[],"kernel_log":["kfunc_strings: disagrees about version of symbol module_layout"]}""";
        var cell = Judge(Plan(), BootOutcome.Completed, [Hello, failed, Done, Exit]);

        Assert.Equal(FailureReason.InsmodFailed, cell.PrimaryFailure!.Reason);
        Assert.Equal("insmod kfunc_strings.ko failed: Exec format error (errno 8); kernel: kfunc_strings: disagrees about version of symbol module_layout", cell.PrimaryFailure.Message);
    }

    [Fact]
    public void Verifier_rejection_of_a_positive_test_carries_the_verifier_log()
    {
        var rejected = """{"v":1,"type":"smoke","boot":"b","module":"kfunc_strings","name":"strlen","loaded":false,"errno":13,"error":"Permission denied","verifier_log":"0: R1=ctx()\n1: (85) call bpf_strlen#1234\narg#0 pointer type STRUCT sk_buff must point to scalar\nprocessed 2 insns (limit 1000000)\n","loader_log":"libbpf: prog 'strlen_tc': failed to load\n","ns":1}""";
        var cell = Judge(Plan(), BootOutcome.Completed, [Hello, ModuleOk, rejected, LoadOk, Done, Exit]);

        var check = cell.Checks.Single(c => c.Kind == "smoke");
        Assert.Equal(FailureReason.VerifierRejected, check.Reason);
        Assert.EndsWith("verifier: arg#0 pointer type STRUCT sk_buff must point to scalar", check.Message);
        Assert.Contains("call bpf_strlen#1234", check.Evidence);
    }

    [Theory]
    [InlineData(false, "calling kernel function bpf_strlen is not allowed", null)]
    [InlineData(true, "", FailureReason.NotRejected)]
    [InlineData(false, "R1 invalid mem access 'scalar'", FailureReason.RejectedForOtherReason)]
    public void A_negative_test_passes_only_when_the_verifier_refuses_the_call_for_the_expected_reason(bool loaded, string log, FailureReason? expected)
    {
        var record = $$"""{"v":1,"type":"smoke","boot":"b","module":"kfunc_strings","name":"strlen-xdp","loaded":{{(loaded ? "true" : "false")}},"errno":13,"error":"Permission denied","verifier_log":"{{log}}","ran":{{(loaded ? "true" : "false")}},"retval":0,"ns":1}""";
        var cell = Judge(Plan(Positive, Negative), BootOutcome.Completed, [Hello, ModuleOk, SmokeOk, record, LoadOk, Done, Exit]);

        var check = cell.Checks.Single(c => c.Name == "strlen-xdp");
        Assert.Equal(expected, check.Reason);
        Assert.Equal(expected is null ? CheckStatus.Pass : CheckStatus.Fail, check.Status);
    }

    [Fact]
    public void Without_a_positive_smoke_program_registration_is_unproven()
    {
        var cell = Judge(Plan(Negative), BootOutcome.Completed, [Hello, ModuleOk,
            """{"v":1,"type":"smoke","boot":"b","module":"kfunc_strings","name":"strlen-xdp","loaded":false,"errno":13,"error":"","verifier_log":"calling kernel function bpf_strlen is not allowed","ns":1}""",
            LoadOk, Done, Exit]);

        Assert.Equal(FailureReason.RegistrationUnproven, cell.PrimaryFailure!.Reason);
        Assert.Equal("no smoke program calls bpf_strlen and expects it to run: its registration is unproven", cell.PrimaryFailure.Message);
    }

    [Fact]
    public void A_timeout_names_the_step_that_never_finished_and_what_was_not_reached()
    {
        var begin = """{"v":1,"type":"begin","boot":"b","step":"smoke","module":"kfunc_strings","name":"strlen"}""";
        var cell = Judge(Plan(), BootOutcome.TimedOut, [Hello, ModuleOk, begin]);

        Assert.Equal(FailureReason.Timeout, cell.PrimaryFailure!.Reason);
        Assert.Equal("the VM was killed after 60 s (during smoke kfunc_strings/strlen) while this smoke was running", cell.PrimaryFailure.Message);
        Assert.Contains(cell.Checks, c => c is { Kind: "load", Reason: FailureReason.NotReached });
    }

    [Fact]
    public void An_agent_crash_is_reported_with_its_signal()
    {
        var crash = """{"v":1,"type":"exit","boot":"b","signal":11,"signal_name":"Segmentation fault"}""";
        var cell = Judge(Plan(), BootOutcome.Completed, [Hello, ModuleOk, SmokeOk, crash]);

        Assert.Equal(FailureReason.AgentCrashed, cell.PrimaryFailure!.Reason);
        Assert.Contains("killed by signal 11 (Segmentation fault)", cell.PrimaryFailure.Message);
    }

    [Fact]
    public void A_warning_fails_the_cell_it_names_even_when_every_test_passed()
    {
        var cell = Judge(Plan(), BootOutcome.Completed, [Hello, ModuleOk, SmokeOk, LoadOk, Done, Exit],
            ["[    3.6] WARNING: CPU: 0 PID: 132 at lib/string.c:64 bpf_strlen+0x15/0x40 [kfunc_strings]"]);

        Assert.False(cell.Passed);
        Assert.Equal(FailureReason.KernelWarning, cell.PrimaryFailure!.Reason);
    }

    [Fact]
    public void A_fault_naming_another_module_does_not_fail_this_one()
    {
        var plan = Plan() with { Kfuncs = [.. Plan().Kfuncs, new KfuncCase("kfunc_other", "bpf_other", Verdict.Native, "native")] };
        var verdict = SmokeJudge.Judge(plan, Result(BootOutcome.Completed, [Hello, ModuleOk, SmokeOk, LoadOk, Done, Exit],
            ["[    3.6] WARNING: CPU: 0 PID: 132 at x.c:1 f+0x1/0x2 [kfunc_other]"]));

        Assert.True(verdict.Cells.Single(c => c.Module == "kfunc_strings").Passed);
        Assert.False(verdict.Cells.Single(c => c.Module == "kfunc_other").Passed);
    }

    [Fact]
    public void Socket_workloads_pass_only_when_every_socket_saw_econnaborted()
    {
        var plan = Plan() with { Loads = [new GuestLoad("kfunc_strings", "destroy:tcp", "bpf_strlen", "/o/sd.bpf.o", "destroy_tcp", LoadDriver.SocketIterator, 100)] };
        var partial = """{"v":1,"type":"load","boot":"b","module":"kfunc_strings","name":"destroy:tcp","driver":"socket_iterator","loaded":true,"errno":0,"error":"","ran":true,"run_errno":0,"proto":"tcp","sockets":100,"opened":100,"aborted":97,"still_open":3,"other_errors":0,"first_errno":0,"setup_errno":0,"port_set":true,"globals":{"queued":100,"refused":0},"setup_ns":1,"iter_ns":1000000,"complete_ns":2000000,"ns":5}""";

        var verdict = SmokeJudge.Judge(plan, Result(BootOutcome.Completed, [Hello, ModuleOk, SmokeOk, partial, Done, Exit]));

        var check = verdict.Cells.Single().Checks.Single(c => c.Kind == "load");
        Assert.Equal(FailureReason.SocketsNotAborted, check.Reason);
        Assert.StartsWith("97 of 100 tcp connections saw ECONNABORTED (opened 100, 3 still open", check.Message);
        Assert.EndsWith("(queued=100, refused=0)", check.Message);
        Assert.Equal(48500, verdict.Loads.Single().SocketsPerSecond);
    }

    [Fact]
    public void Plans_that_could_not_boot_fail_their_cells_with_the_reason_but_skip_infeasible_ones()
    {
        var plan = new BootPlan("debian12/6.1-amd64", "debian12", new GuestKernel("6.1-amd64", ""), [], [], [],
            [new KfuncCase("kfunc_strings", "bpf_strlen", Verdict.Backport, "v"), new KfuncCase("kfunc_old", "bpf_x", Verdict.Infeasible, "too old")],
            [new NotRun("kfunc_strings", "kernel", "kernel 6.1-amd64 was not fetched", FailureReason.KernelMissing), new NotRun("kfunc_old", "smoke s", "bpf_x is infeasible", null)]);

        var verdict = SmokeJudge.Unbooted(plan);

        Assert.Null(verdict.Boot);
        Assert.Equal(FailureReason.KernelMissing, verdict.Cells.Single(c => c.Module == "kfunc_strings").PrimaryFailure!.Reason);
        Assert.Equal("infeasible", SmokeReport.CellStatus(verdict.Cells.Single(c => c.Module == "kfunc_old")));
    }

    [Theory]
    [InlineData("""{"v":1,"type":"module","boot":"b","module":"m","ok":tr""", "not valid JSON")]
    [InlineData("""{"v":2,"type":"hello"}""", "protocol version is not 1")]
    [InlineData("""{"v":1,"type":"party"}""", "unknown record type 'party'")]
    [InlineData("""[1,2]""", "not a JSON object")]
    public void Broken_record_lines_become_bad_records_with_the_problem(string line, string problem)
    {
        var record = Assert.IsType<BadRecord>(GuestRecords.Parse(line));
        Assert.Contains(problem, record.Problem);
    }
}
