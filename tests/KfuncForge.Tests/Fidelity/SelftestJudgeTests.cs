using KfuncForge.Fidelity;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Upstream;
using KfuncForge.Vm;

namespace KfuncForge.Tests.Fidelity;

/// <summary>The selftest judge on records as the agent writes them: what passes, what a declaration excuses, and what fails.</summary>
public sealed class SelftestJudgeTests
{
    private static readonly SelftestTree Tree = new("/upstream", "v6.99", "0123456789abcdef", "/work",
        [new SelftestFile("string_tests", "tools/testing/selftests/bpf/progs/string_tests.c", ["bpf_strlen"], null)]);

    private static readonly DeclaredDifference Rodata = new(new KernelRange(null, KernelVersion.Parse("6.2")),
        new SmokeExpectation(null, "write into map forbidden"), "6.1 checks .rodata strings as writable");

    private static readonly DeclaredDifference ReturnsZero = new(new KernelRange(null, KernelVersion.Parse("6.2")),
        new SmokeExpectation(0, null), "declared to return 0 before 6.2");

    private static SelftestSpec Spec(string program, bool failure = false, long? retval = null, params string[] messages) =>
        new(program, "syscall", failure, retval, messages, ["bpf_strlen"]);

    private static string Loaded(string name, bool ran = true, int retval = 0) =>
        $$"""{"v":1,"type":"smoke","boot":"b","module":"kfunc_strings","name":"{{name}}","program":"p","section":"syscall","loaded":true,"errno":0,"error":"","ran":{{(ran ? "true" : "false")}},"run_errno":{{(ran ? 0 : 22)}},"retval":{{(uint)retval}},"ns":5}""";

    private static string Rejected(string name, string log) =>
        $$"""{"v":1,"type":"smoke","boot":"b","module":"kfunc_strings","name":"{{name}}","loaded":false,"errno":13,"error":"Permission denied","verifier_log":"{{log}}","ns":5}""";

    private static string Name(SelftestSpec s) => $"{SmokePlanner.SelftestPrefix}string_tests.{s.Program}";

    private static SelftestResult Judge(SelftestSpec spec, string record, params DeclaredDifference[] declared)
    {
        var smoke = new GuestSmoke("kfunc_strings", Name(spec), "/o/string_tests.bpf.o", spec.Program, spec.Section, ["bpf_strlen"], new SmokeExpectation(0, null))
        {
            Selftest = new UpstreamSelftest("tools/testing/selftests/bpf/progs/string_tests.c", spec, declared),
        };
        var plan = new BootPlan("d/6.1.0-57-amd64", "d", new GuestKernel("6.1.0-57-amd64", "/k"), [], [smoke], [],
            [new KfuncCase("kfunc_strings", "bpf_strlen", Verdict.Backport, "")], []);
        var request = new BootRequest(plan.Id, "/k", "/i", new VmShape(Accelerator.Tcg), TimeSpan.FromSeconds(60), "/tmp/none");
        var all = new[] { record, """{"v":1,"type":"done","boot":"b","ns":5,"tainted":0}""", """{"v":1,"type":"exit","boot":"b","code":0}""" };
        var result = new BootResult(request, BootOutcome.Completed, "", all.Select(GuestRecords.Parse).ToList(), [], 0, TimeSpan.FromSeconds(6), null, null, "");
        return Assert.Single(SelftestJudge.Judge(Tree, [SmokeJudge.Judge(plan, result)]).Programs);
    }

    private static SelftestOnKernel On(SelftestSpec spec, string record, params DeclaredDifference[] declared) => Assert.Single(Judge(spec, record, declared).Kernels);

    [Fact]
    public void Retvals_compare_as_32_bit_ints_and_a_wrong_one_fails()
    {
        var minusOne = Spec("all_ones", retval: -1);
        Assert.Equal(SelftestStatus.Passed, On(minusOne, Loaded(Name(minusOne), retval: -1)).Status);
        var seven = Spec("seven", retval: 7);
        var wrong = On(seven, Loaded(Name(seven), retval: 8));
        Assert.Equal(SelftestStatus.Failed, wrong.Status);
        Assert.Equal("upstream expects returns 7, got returned 8", wrong.Message);
        Assert.Equal(SelftestStatus.Failed, On(seven, Loaded(Name(seven), ran: false)).Status);
        Assert.False(Judge(seven, Loaded(Name(seven), retval: 8)).Passed);
    }

    [Fact]
    public void Messages_must_all_appear_in_order()
    {
        var spec = Spec("refused", failure: true, retval: null, "first", "second");
        var inOrder = On(spec, Rejected(Name(spec), "0: first\\n1: then second\\n"));
        Assert.True(inOrder.Status == SelftestStatus.Passed, inOrder.Message + " / " + inOrder.Observed);
        Assert.Equal(SelftestStatus.Failed, On(spec, Rejected(Name(spec), "0: second\\n1: then first\\n")).Status);
        Assert.Equal(SelftestStatus.Failed, On(spec, Loaded(Name(spec))).Status);
    }

    [Fact]
    public void A_declaration_excuses_only_exactly_what_it_declares()
    {
        var spec = Spec("rodata", retval: 5);
        var declared = On(spec, Rejected(Name(spec), "R1 write into map forbidden"), Rodata);
        Assert.Equal(SelftestStatus.Declared, declared.Status);
        Assert.Equal(Rodata.Reason, declared.DeclaredReason);
        Assert.Equal(SelftestStatus.Failed, On(spec, Rejected(Name(spec), "R1 type=scalar expected=fp"), Rodata).Status);
        // A declared result needs a run that returned it: a failed run or another value is no match.
        Assert.Equal(SelftestStatus.Declared, On(spec, Loaded(Name(spec), retval: 0), ReturnsZero).Status);
        Assert.Equal(SelftestStatus.Failed, On(spec, Loaded(Name(spec), ran: false), ReturnsZero).Status);
        Assert.Equal(SelftestStatus.Failed, On(spec, Loaded(Name(spec), retval: 3), ReturnsZero).Status);
        // Upstream never runs a program it expects to be refused: for it, a declared result means it loads.
        var refused = Spec("filtered", failure: true, retval: null, "is not allowed");
        Assert.Equal(SelftestStatus.Declared, On(refused, Loaded(Name(refused), ran: false), ReturnsZero).Status);
        Assert.Equal(SelftestStatus.Failed, On(refused, Loaded(Name(refused), ran: false)).Status);
    }

    [Fact]
    public void A_program_upstream_only_loads_passes_when_it_loads()
    {
        var spec = Spec("loads");
        var on = On(spec, Loaded(Name(spec), ran: false));
        Assert.Equal(SelftestStatus.Passed, on.Status);
        Assert.Equal("loaded", on.Observed);
        Assert.Equal(Verdict.Backport, on.Mode);
    }
}
