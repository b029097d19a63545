namespace KfuncForge.Model;

/// <summary>
/// BPF program types a kfunc set is registered for, by their libbpf/YAML names. Hooks: the kernel's kfunc hooks
/// (enum btf_kfunc_hook, without the BTF_KFUNC_HOOK_ prefix) that register_btf_kfunc_id_set maps the type to,
/// under each name a kernel has used for it; a kernel whose BTF has none of them refuses the registration
/// (-EINVAL) and the module does not load.
/// </summary>
public sealed record ProgramType(string Name, string KernelEnum, params string[] Hooks)
{
    public const string HookPrefix = "BTF_KFUNC_HOOK_";

    /// <summary>The names users write in YAML, mapped to the kernel's enum bpf_prog_type constant.</summary>
    public static readonly IReadOnlyDictionary<string, ProgramType> Known = new[]
    {
        new ProgramType("unspec", "BPF_PROG_TYPE_UNSPEC", "COMMON"),
        new ProgramType("socket_filter", "BPF_PROG_TYPE_SOCKET_FILTER", "SOCKET_FILTER"),
        new ProgramType("sched_cls", "BPF_PROG_TYPE_SCHED_CLS", "TC"),
        new ProgramType("sched_act", "BPF_PROG_TYPE_SCHED_ACT", "SCHED_ACT"),
        new ProgramType("xdp", "BPF_PROG_TYPE_XDP", "XDP"),
        new ProgramType("cgroup_skb", "BPF_PROG_TYPE_CGROUP_SKB", "CGROUP", "CGROUP_SKB"),
        new ProgramType("lwt_in", "BPF_PROG_TYPE_LWT_IN", "LWT"),
        new ProgramType("lwt_out", "BPF_PROG_TYPE_LWT_OUT", "LWT"),
        new ProgramType("lwt_xmit", "BPF_PROG_TYPE_LWT_XMIT", "LWT"),
        new ProgramType("sk_skb", "BPF_PROG_TYPE_SK_SKB", "SK_SKB"),
        new ProgramType("tracing", "BPF_PROG_TYPE_TRACING", "TRACING"),
        new ProgramType("struct_ops", "BPF_PROG_TYPE_STRUCT_OPS", "STRUCT_OPS"),
        new ProgramType("lsm", "BPF_PROG_TYPE_LSM", "TRACING"),
        new ProgramType("syscall", "BPF_PROG_TYPE_SYSCALL", "SYSCALL"),
        new ProgramType("netfilter", "BPF_PROG_TYPE_NETFILTER", "NETFILTER"),
    }.ToDictionary(p => p.Name, StringComparer.Ordinal);
}
