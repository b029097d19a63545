using KfuncForge.Definitions;
using KfuncForge.Kernels;
using KfuncForge.Model;
using KfuncForge.Planning;
using KfuncForge.Tests.Support;

namespace KfuncForge.Tests.Planning;

/// <summary>
/// The plan's feasibility rules (docs/plan.md): program-type hooks, KF_ flags and void pointers the verifier
/// would refuse, decided from each kernel's own facts before anything is built. The facts are read from the
/// real 6.1 and 6.12 kernels of debian12, so the rules are checked against what those kernels really have.
/// </summary>
[Collection(RealKernelCollection.Name)]
public sealed class FeasibilityTests(RealKernel k61, RealKernel612 k612)
{
    private static readonly KfuncVariant Everywhere = new("plain", "src/a.c", new KernelRange(new KernelVersion(6, 1, 0), new KernelVersion(7, 0, 0)),
        new Dictionary<string, ConfigState>(), [], new VariantHooks(null, null), null);

    /// <summary>bpf_copy_from_user_task_str's shape, with a name neither kernel has natively.</summary>
    private const string UserStr = "int kff_copy_str(void *dst, u32 dst__sz, const void *unsafe_ptr__ign, struct task_struct *tsk, u64 flags)";

    private static Kfunc Kfunc(string prototype, string[] types, string[]? flags = null) =>
        new(CPrototype.Parse(prototype).Name!, prototype, new UpstreamOrigin(new KernelVersion(6, 15, 0), "0123456789ab", null),
            flags ?? [], types.Select(t => ProgramType.Known[t]).ToList(), null, [Everywhere]);

    private static PlanEntry Decide(Kfunc kfunc, KernelEntry kernel) =>
        Planner.Decide(new KfuncModule("kfunc_trial", "d", "GPL", "1", "/nonexistent", [kfunc], [], new LoadProfile([])), kfunc, kernel.ToFacts(null));

    [IntegrationFact]
    public void The_kernels_facts_are_read_from_the_kernel()
    {
        var old = k61.Kernel.ToFacts(null).Verifier!;
        var newer = k612.Kernel.ToFacts(null).Verifier!;
        Assert.Equal(["STRUCT_OPS", "SYSCALL", "TC", "TRACING", "XDP"], old.KfuncHooks!.Order(StringComparer.Ordinal));
        Assert.Contains("COMMON", newer.KfuncHooks!);
        Assert.Contains("__sz", old.ArgSuffixes!);
        Assert.DoesNotContain("__ign", old.ArgSuffixes!);
        Assert.DoesNotContain("__str", old.ArgSuffixes!);
        Assert.Contains("__ign", newer.ArgSuffixes!);
        Assert.Contains("__str", newer.ArgSuffixes!);
        Assert.Contains("KF_SLEEPABLE", old.KfFlags!);
        Assert.DoesNotContain("KF_RCU", old.KfFlags!);
        Assert.Contains("KF_RCU", newer.KfFlags!);
    }

    [IntegrationFact]
    public void A_program_type_without_a_kfunc_hook_is_infeasible_on_that_kernel_only()
    {
        var kfunc = Kfunc("int kff_len(const char *s)", ["unspec"]);
        var on61 = Decide(kfunc, k61.Kernel);
        Assert.Equal(Verdict.Infeasible, on61.Verdict);
        Assert.Contains("registers for unspec programs, but the kernel has no BTF_KFUNC_HOOK_COMMON kfunc hook (its hooks: STRUCT_OPS, SYSCALL, TC, TRACING, XDP)", on61.Reason);
        Assert.Equal(Verdict.Backport, Decide(kfunc, k612.Kernel).Verdict);

        Assert.Equal(Verdict.Backport, Decide(Kfunc("int kff_len(const char *s)", ["tracing", "lsm", "syscall"]), k61.Kernel).Verdict);
        Assert.Contains("no BTF_KFUNC_HOOK_SCHED_ACT", Decide(Kfunc("int kff_len(const char *s)", ["syscall", "sched_act"]), k61.Kernel).Reason);
    }

    [IntegrationFact]
    public void A_void_pointer_the_verifier_cannot_size_is_infeasible()
    {
        var kfunc = Kfunc(UserStr, ["syscall"], ["KF_SLEEPABLE"]);
        var on61 = Decide(kfunc, k61.Kernel);
        Assert.Equal(Verdict.Infeasible, on61.Verdict);
        Assert.Contains("argument 3 'unsafe_ptr__ign' is a void pointer and the verifier does not know the __ign suffix, and no __sz size argument follows it", on61.Reason);
        Assert.Contains("refuses every call", on61.Reason);
        // 6.12 knows __ign; argument 1 is sized by dst__sz on both.
        Assert.Equal(Verdict.Backport, Decide(kfunc, k612.Kernel).Verdict);

        var unsized = Decide(Kfunc("int kff_hash(const void *data)", ["syscall"]), k612.Kernel);
        Assert.Equal(Verdict.Infeasible, unsized.Verdict);
        Assert.Contains("argument 1 'data' is a void pointer and it has no suffix", unsized.Reason);
        Assert.Equal(Verdict.Backport, Decide(Kfunc("int kff_hash(const void *data, u32 data__sz)", ["syscall"]), k61.Kernel).Verdict);
    }

    [IntegrationFact]
    public void Unknown_suffixes_on_scalar_pointers_load_and_the_plan_says_how_they_differ()
    {
        var kfunc = Kfunc("int kff_len(const char *s__ign)", ["syscall"]);
        var on61 = Decide(kfunc, k61.Kernel);
        Assert.Equal(Verdict.Backport, on61.Verdict);
        Assert.Contains("the verifier does not know __ign: it checks s__ign as plain pointers to memory", on61.Reason);
        Assert.DoesNotContain("does not know", Decide(kfunc, k612.Kernel).Reason);
    }

    [IntegrationFact]
    public void A_KF_flag_the_kernels_headers_lack_is_infeasible()
    {
        var kfunc = Kfunc("int kff_len(const char *s)", ["syscall"], ["KF_RCU"]);
        var on61 = Decide(kfunc, k61.Kernel);
        Assert.Equal(Verdict.Infeasible, on61.Verdict);
        Assert.Contains("registers with KF_RCU, which the kernel's include/linux/btf.h does not define", on61.Reason);
        Assert.Equal(Verdict.Backport, Decide(kfunc, k612.Kernel).Verdict);
        // A variant that registers without the flag fits again.
        var without = kfunc with { Variants = [Everywhere with { Flags = [] }] };
        Assert.Equal(Verdict.Backport, Decide(without, k61.Kernel).Verdict);
    }

    [IntegrationFact]
    public void A_variant_calling_what_the_kernel_does_not_export_is_infeasible()
    {
        var calls = Kfunc("int kff_len(const char *s)", ["syscall"]) with
        {
            Variants = [Everywhere with { Calls = new HashSet<string> { "copy_from_kernel_nofault_allowed", "copy_from_kernel_nofault", "pagefault_disable", "memset" } }],
        };
        foreach (var kernel in new[] { k61.Kernel, k612.Kernel })
        {
            var e = Decide(calls, kernel);
            Assert.Equal(Verdict.Infeasible, e.Verdict);
            Assert.Contains("src/a.c calls copy_from_kernel_nofault_allowed, which the kernel has but does not export to modules", e.Reason);
        }
        // Exported functions and what the headers define (pagefault_disable is inline, memset exported) are fine.
        var fine = calls with { Variants = [Everywhere with { Calls = new HashSet<string> { "copy_from_kernel_nofault", "pagefault_disable", "memset", "kff_local_helper" } }] };
        Assert.Equal(Verdict.Backport, Decide(fine, k61.Kernel).Verdict);
    }

    [IntegrationFact]
    public void The_facts_are_kept_beside_the_entry_and_a_damaged_copy_is_read_again()
    {
        var file = Path.Combine(k61.Kernel.Dir, VerifierFactsReader.FileName);
        var first = VerifierFactsReader.Read(k61.Kernel);
        Assert.True(File.Exists(file));
        var kept = File.ReadAllText(file);
        File.WriteAllText(file, "{ not json");
        var again = VerifierFactsReader.Read(k61.Kernel);
        Assert.Equal(first.KfuncHooks!.Order(), again.KfuncHooks!.Order());
        Assert.Equal(kept, File.ReadAllText(file));
    }
}
