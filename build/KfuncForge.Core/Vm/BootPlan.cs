using KfuncForge.Model;
using KfuncForge.Planning;

namespace KfuncForge.Vm;

/// <summary>
/// A target kernel as the VM stage needs it: the bootable image, a file carrying the kernel's own BTF
/// (an ELF vmlinux with .BTF; used to generate vmlinux.h for the BPF programs; extracted from the image
/// when absent), and the kernel's own module tree (for in-tree modules a built module depends on).
/// </summary>
public sealed record GuestKernel(string Release, string Image, string? Btf = null, string? ModulesDir = null)
{
    /// <summary>What QEMU boots: the ELF vmlinux through its PVH entry when the kernel has one (much faster under TCG), else Image.</summary>
    public string BootImage { get; init; } = Image;

    public bool IsPvh => BootImage != Image;
}

public enum GuestModuleKind { Built, Dependency }

/// <summary>A .ko to load in the guest. Built modules carry the kfuncs they must register; dependencies (in-tree modules) none.</summary>
public sealed record GuestModule(string Name, string KoPath, GuestModuleKind Kind, IReadOnlyList<string> Kfuncs)
{
    /// <summary>For a dependency: the built modules that need it (their cells fail when it does not load).</summary>
    public IReadOnlyList<string> RequiredBy { get; init; } = [];
}

/// <summary>One smoke program of a module, compiled for this kernel (Object), with its expectation.</summary>
public sealed record GuestSmoke(string Module, string Name, string Object, string Program, string Section, IReadOnlyList<string> Calls, SmokeExpectation Expect)
{
    /// <summary>The socket set-up of an iterator fidelity case; null: the agent's default (IPv4, established).</summary>
    public SocketScenario? Sockets { get; init; }

    /// <summary>A fidelity case: the declared difference that set Expect on this kernel, if any (Expect is then its alternative).</summary>
    public DeclaredDifference? Declared { get; init; }

    /// <summary>An upstream selftest program (docs/fidelity.md): judged by its annotations, not by Expect.</summary>
    public UpstreamSelftest? Selftest { get; init; }

    /// <summary>
    /// What the agent does: "retval" (load, run once; consecutive ones of an object share one load), "reject" (load
    /// alone, expecting a refusal; run if it loads), and for upstream selftests, which upstream loads each from a
    /// fresh object: "run" (load alone, run once: __retval) or "load" (load alone, never run, as upstream never runs
    /// a program without __retval or one it expects to be refused).
    /// </summary>
    public string Mode => Selftest is { Spec: var spec }
        ? spec.Runs ? "run" : "load"
        : Expect.VerifierRejects is null ? "retval" : "reject";
}

/// <summary>
/// What a boot runs: the modules' smoke programs and load profile (the SmokeTest stage), their fidelity
/// suites with the load profile and the suites' own load steps (Fidelity), the fidelity cases alone, or the
/// test_run load steps alone (FidelityInstructionTime: the boot that measures them in instruction time).
/// </summary>
public enum BootContent { Smoke, Fidelity, FidelityCasesOnly, FidelityInstructionTime }

/// <summary>One load step, compiled for this kernel. Program null: the object's only program.</summary>
public sealed record GuestLoad(string Module, string Name, string Kfunc, string Object, string? Program, LoadDriver Driver, long Count);

/// <summary>What the plan says about one kfunc on this kernel: backport (a module provides it), native, or infeasible.</summary>
public sealed record KfuncCase(string Module, string Kfunc, Verdict Verdict, string Reason);

/// <summary>Something planned for this kernel that will not run, and why. Failure null: skipped by design (an infeasible kfunc), not a failure.</summary>
public sealed record NotRun(string Module, string What, string Reason, FailureReason? Failure);

/// <summary>
/// Everything one boot does: one kernel, all modules planned for it, all their smoke and load programs.
/// </summary>
public sealed record BootPlan(
    string Id,
    string Distro,
    GuestKernel Kernel,
    IReadOnlyList<GuestModule> Modules,
    IReadOnlyList<GuestSmoke> Smoke,
    IReadOnlyList<GuestLoad> Loads,
    IReadOnlyList<KfuncCase> Kfuncs,
    IReadOnlyList<NotRun> NotRun)
{
    /// <summary>Modules of this boot's cells (module names with at least one kfunc case), in plan order.</summary>
    public IReadOnlyList<string> CellModules => Kfuncs.Select(k => k.Module).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Fault injection for the harness's own tests: the agent kills itself after the last step.</summary>
    public bool CrashAgentAtEnd { get; init; }
}

/// <summary>
/// An upstream selftest program planned on one kernel: its file (tools/testing/selftests/bpf/progs/&lt;stem&gt;.c),
/// upstream's annotations, and the differences module.yaml declares on this kernel for the kfuncs it calls.
/// </summary>
public sealed record UpstreamSelftest(string File, Fidelity.SelftestSpec Spec, IReadOnlyList<DeclaredDifference> Declared);
