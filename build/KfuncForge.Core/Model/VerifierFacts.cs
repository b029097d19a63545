namespace KfuncForge.Model;

/// <summary>
/// What a kernel's kfunc registration and BPF verifier accept, read from the kernel itself (docs/kernels.md,
/// "Feasibility rules"): the kfunc hooks of its BTF (enum btf_kfunc_hook: a program type without one cannot
/// be registered), the argument-name suffixes its verifier knows (their names are strings in vmlinux's
/// .rodata) and the KF_* flags its include/linux/btf.h defines. Null sets: not known for this kernel, and
/// nothing is decided on them.
/// </summary>
public sealed record VerifierFacts(IReadOnlySet<string>? KfuncHooks, IReadOnlySet<string>? ArgSuffixes, IReadOnlySet<string>? KfFlags)
{
    /// <summary>Functions vmlinux has but a module cannot call: not exported (Module.symvers) and not defined by the headers.</summary>
    public IReadOnlySet<string>? Unexported { get; init; }
}

/// <summary>The kfunc argument-name suffixes the verifier gives a meaning (kernel/bpf/verifier.c), and how the planner reads a prototype's parameters.</summary>
public static class ArgSuffix
{
    /// <summary>The suffixes the verifier gives a meaning; none of them ends another, so the order does not matter.</summary>
    public static readonly IReadOnlyList<string> Known =
        ["__sz", "__szk", "__k", "__ign", "__str", "__uninit", "__alloc", "__opt", "__nullable", "__refcounted_kptr", "__map", "__prog", "__irq_flag"];

    /// <summary>Suffixes that make an argument the size of the memory the previous (pointer) argument points to.</summary>
    public static readonly IReadOnlyList<string> Size = ["__sz", "__szk"];

    /// <summary>The verifier suffix a parameter name ends with, or null.</summary>
    public static string? Of(string parameterName) =>
        Known.FirstOrDefault(s => parameterName.Length > s.Length && parameterName.EndsWith(s, StringComparison.Ordinal));
}
