namespace KfuncForge.Definitions;

/// <summary>The KF_* flags of include/linux/btf.h that a kfunc definition may carry.</summary>
public static class KfuncFlags
{
    public static readonly IReadOnlySet<string> Known = new HashSet<string>(StringComparer.Ordinal)
    {
        "KF_ACQUIRE", "KF_RELEASE", "KF_RET_NULL", "KF_KPTR_GET", "KF_TRUSTED_ARGS", "KF_SLEEPABLE",
        "KF_DESTRUCTIVE", "KF_RCU", "KF_ITER_NEW", "KF_ITER_NEXT", "KF_ITER_DESTROY", "KF_RCU_PROTECTED",
        "KF_FASTCALL", "KF_ARENA_RET", "KF_ARENA_ARG1", "KF_ARENA_ARG2",
    };
}
