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
    SmokeExpectation Expect);

/// <summary>Either a return value the program must produce, or a verifier rejection (negative test) whose log must match.</summary>
public sealed record SmokeExpectation(long? Retval, string? VerifierRejects);

public sealed record LoadProfile(IReadOnlyList<LoadStep> Steps);

/// <summary>One load measurement: run Program Repeat times (BPF_PROG_TEST_RUN), or drive a socket workload of Sockets sockets.</summary>
public sealed record LoadStep(string Name, string Kfunc, string Program, LoadDriver Driver, long Repeat, long Sockets);

public enum LoadDriver { TestRun, SocketIterator }
