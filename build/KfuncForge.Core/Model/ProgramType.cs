namespace KfuncForge.Model;

/// <summary>BPF program types a kfunc set is registered for, by their libbpf/YAML names.</summary>
public sealed record ProgramType(string Name, string KernelEnum)
{
    /// <summary>The names users write in YAML, mapped to the kernel's enum bpf_prog_type constant.</summary>
    public static readonly IReadOnlyDictionary<string, ProgramType> Known = new[]
    {
        new ProgramType("unspec", "BPF_PROG_TYPE_UNSPEC"),
        new ProgramType("socket_filter", "BPF_PROG_TYPE_SOCKET_FILTER"),
        new ProgramType("sched_cls", "BPF_PROG_TYPE_SCHED_CLS"),
        new ProgramType("sched_act", "BPF_PROG_TYPE_SCHED_ACT"),
        new ProgramType("xdp", "BPF_PROG_TYPE_XDP"),
        new ProgramType("cgroup_skb", "BPF_PROG_TYPE_CGROUP_SKB"),
        new ProgramType("lwt_in", "BPF_PROG_TYPE_LWT_IN"),
        new ProgramType("lwt_out", "BPF_PROG_TYPE_LWT_OUT"),
        new ProgramType("lwt_xmit", "BPF_PROG_TYPE_LWT_XMIT"),
        new ProgramType("sk_skb", "BPF_PROG_TYPE_SK_SKB"),
        new ProgramType("tracing", "BPF_PROG_TYPE_TRACING"),
        new ProgramType("struct_ops", "BPF_PROG_TYPE_STRUCT_OPS"),
        new ProgramType("lsm", "BPF_PROG_TYPE_LSM"),
        new ProgramType("syscall", "BPF_PROG_TYPE_SYSCALL"),
        new ProgramType("netfilter", "BPF_PROG_TYPE_NETFILTER"),
    }.ToDictionary(p => p.Name, StringComparer.Ordinal);
}
