namespace KfuncForge.Model;

/// <summary>One out-of-tree kernel module: a group of kfuncs with their tests, read from kfunc-modules/&lt;name&gt;/module.yaml.</summary>
public sealed record KfuncModule(
    string Name,
    string Description,
    string License,
    string Version,
    string Directory,
    IReadOnlyList<Kfunc> Kfuncs,
    IReadOnlyList<SmokeProgram> Smoke,
    LoadProfile Load)
{
    /// <summary>The fidelity suite (YAML `fidelity`): one set of cases run on native and backport kernels alike; null when the module has none.</summary>
    public FidelitySuite? Fidelity { get; init; }

    /// <summary>Every C file any variant points at, relative to the module folder, sorted and distinct.</summary>
    public IReadOnlyList<string> AllVariantFiles =>
        Kfuncs.SelectMany(k => k.Variants).Select(v => v.File).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
}

public sealed record Kfunc(
    string Name,
    string Prototype,
    UpstreamOrigin Upstream,
    IReadOnlyList<string> Flags,
    IReadOnlyList<ProgramType> ProgramTypes,
    AttachRestriction? AttachRestriction,
    IReadOnlyList<KfuncVariant> Variants);

/// <summary>
/// Where upstream introduced the kfunc: the release it first shipped in and the commit. The rest is
/// what `kfuncforge import` recorded for drift checks (null or empty when never imported): the ref
/// it read, the SHA-256 of the definition's body (comments and white space normalised away), the
/// BTF kfunc sets that list it and the filter functions of the id sets that register it.
/// </summary>
public sealed record UpstreamOrigin(
    KernelVersion Release,
    string Commit,
    string? Path,
    string? Ref = null,
    string? BodySha256 = null,
    IReadOnlyList<string>? BtfSets = null,
    IReadOnlyList<string>? Filters = null);

/// <summary>Upstream restricts some kfuncs to certain attach points with a kfunc-set filter (e.g. bpf_sock_destroy: iter/tcp, iter/udp).</summary>
public sealed record AttachRestriction(ProgramType ProgramType, IReadOnlyList<string> AttachTo, string Reason);

/// <summary>One implementation of a kfunc, chosen for kernels in a version range that satisfy its config and symbol requirements.</summary>
public sealed record KfuncVariant(
    string Id,
    string File,
    KernelRange Kernels,
    IReadOnlyDictionary<string, ConfigState> RequiresConfig,
    IReadOnlyList<string> RequiresSymbols,
    VariantHooks Hooks,
    string? Notes)
{
    /// <summary>Program types the backport registers for, when they differ from upstream's (null: upstream's).</summary>
    public IReadOnlyList<ProgramType>? ProgramTypes { get; init; }

    /// <summary>KF_* flags the backport registers with, when they differ from upstream's (null: upstream's).</summary>
    public IReadOnlyList<string>? Flags { get; init; }

    /// <summary>The functions the variant's C file calls (read when the definitions are loaded); the plan checks them against what each kernel exports.</summary>
    public IReadOnlySet<string> Calls { get; init; } = new HashSet<string>();
}

/// <summary>Functions a variant's C file defines for module_init / module_exit to call (e.g. to set up or flush a workqueue).</summary>
public sealed record VariantHooks(string? Init, string? Exit);

public enum ConfigState { Builtin, Module, Enabled, Disabled }

/// <summary>A BPF program run in the guest that calls the module's kfuncs and checks the result.</summary>
public sealed record SmokeProgram(
    string Name,
    string Source,
    ProgramType ProgramType,
    string Section,
    IReadOnlyList<string> Calls,
    KernelRange Kernels,
    SmokeExpectation Expect)
{
    /// <summary>The BPF function's name in Source (YAML `program`): the agent loads exactly this program.</summary>
    public string Program { get; init; } = Name;
}

/// <summary>Either a return value the program must produce, or a verifier rejection (negative test) whose log must match.</summary>
public sealed record SmokeExpectation(long? Retval, string? VerifierRejects);

public sealed record LoadProfile(IReadOnlyList<LoadStep> Steps);

/// <summary>One load measurement: run Program Repeat times (BPF_PROG_TEST_RUN), or drive a socket workload of Sockets sockets.</summary>
public sealed record LoadStep(string Name, string Kfunc, string Program, LoadDriver Driver, long Repeat, long Sockets)
{
    /// <summary>The BPF function to run when Program holds several (YAML `entry`); null: the file's only program.</summary>
    public string? Entry { get; init; }
}

public enum LoadDriver { TestRun, SocketIterator }

/// <summary>
/// The module's fidelity suite (docs/fidelity.md): every case is a program in one BPF source, run on
/// every reference kernel, native or backport, with upstream's expectation. Load: steps the fidelity run
/// adds to the module's load profile (per-kfunc figures, the 10,000-socket run): too heavy for every smoke run.
/// </summary>
public sealed record FidelitySuite(string Source, IReadOnlyList<FidelityCase> Cases, IReadOnlyList<LoadStep> Load)
{
    /// <summary>The suite's baseline (YAML `baseline`) runs as the load steps baseline#1, #2, #3: before, amid and after the others.</summary>
    public const string BaselineStep = "baseline";

    public static bool IsBaseline(string stepName) => stepName.StartsWith(BaselineStep + "#", StringComparison.Ordinal);

    /// <summary>The load steps of a fidelity boot: the baseline three times around the module's own and the suite's steps (the report takes its median).</summary>
    public IReadOnlyList<LoadStep> StepsAround(IReadOnlyList<LoadStep> moduleSteps)
    {
        IReadOnlyList<LoadStep> all = [.. moduleSteps, .. Load];
        if (Baseline is not { } b) return all;
        LoadStep Nth(int n) => b with { Name = $"{BaselineStep}#{n}" };
        var half = all.Count / 2;
        return [Nth(1), .. all.Take(half), Nth(2), .. all.Skip(half), Nth(3)];
    }

    /// <summary>
    /// A test_run program that calls no kfunc, run in the same boot as the load steps: the report divides
    /// each kernel's ns/op by it, so a host that was busier during one boot than another does not pass for a
    /// slower kfunc (TCG time is host time). Null: ratios are raw only.
    /// </summary>
    public LoadStep? Baseline { get; init; }
}

/// <summary>
/// One fidelity case: the program (named like the case) calls Kfunc; Expect is upstream's result;
/// Differs lists the kernels where the result is known in advance to differ, with what and why.
/// Sockets: the socket set-up an iterator case runs over (null: none, or the default).
/// </summary>
public sealed record FidelityCase(string Name, string Kfunc, SmokeExpectation Expect, IReadOnlyList<DeclaredDifference> Differs, SocketScenario? Sockets)
{
    /// <summary>What this kernel must show: the declared alternative when a difference covers it, else upstream's result.</summary>
    public SmokeExpectation ExpectOn(KernelVersion kernel) => DifferenceOn(kernel)?.Expect ?? Expect;

    public DeclaredDifference? DifferenceOn(KernelVersion kernel) => Differs.FirstOrDefault(d => d.Kernels.Contains(kernel));
}

/// <summary>A difference from upstream declared in advance: on Kernels the case gives Expect instead, for Reason.</summary>
public sealed record DeclaredDifference(KernelRange Kernels, SmokeExpectation Expect, string Reason);

/// <summary>The sockets an iterator fidelity case runs over: address family and what state they are in when the iterator runs.</summary>
public sealed record SocketScenario(SocketFamily Family, SocketState State);

public enum SocketFamily { Ipv4, Ipv6 }

/// <summary>Established: connected pairs (TCP) or bound sockets (UDP). Listening: a TCP listener alone. Closing: TCP connections whose client already shut down its side (server end in CLOSE_WAIT).</summary>
public enum SocketState { Established, Listening, Closing }
