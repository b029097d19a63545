namespace KfuncForge.Model;

/// <summary>
/// What the engine knows about one target kernel. After Fetch, everything is read from the kernel's
/// own packages (config, base BTF, System.map). Before that (Render on its own, or profiles whose
/// kernels cannot be fetched here) only the version line is known: Config, NativeKfuncs and Symbols
/// are null, and every decision based on them says so.
/// </summary>
public sealed record KernelFacts(
    string Release,
    KernelVersion Version,
    string? Flavour,
    IReadOnlyDictionary<string, string>? Config,
    IReadOnlySet<string>? NativeKfuncs,
    IReadOnlySet<string>? Symbols,
    KernelVersion? BpfLevel = null)
{
    /// <summary>The version the plan compares with: the distro's declared BPF level when it is above the kernel's own version (RHEL backports).</summary>
    public KernelVersion Effective => BpfLevel is { } level && level > Version ? level : Version;

    public bool IsResolved => Config is not null;

    /// <summary>What the kernel's kfunc registration and verifier accept (null until the kernel is fetched).</summary>
    public VerifierFacts? Verifier { get; init; }

    /// <summary>Where a kernel given as a build tree lies in the build environment (null: the kernel packaging's headers_dir).</summary>
    public string? TreeDir { get; init; }

    /// <summary>Facts for a kernel known only by its line (e.g. 6.1): what Render can use before Fetch.</summary>
    public static KernelFacts Nominal(KernelTarget target, KernelVersion? bpfLevel = null) =>
        new(target.Release ?? $"{target.Line}-{target.Flavour}", target.Release is null ? target.Line : KernelVersion.Parse(target.Release), target.Flavour, null, null, null, bpfLevel);

    /// <summary>CONFIG_X's value: "y", "m", a string, or null when unset (or not known).</summary>
    public string? ConfigValue(string option) => Config is not null && Config.TryGetValue(option, out var v) ? v : null;
}
