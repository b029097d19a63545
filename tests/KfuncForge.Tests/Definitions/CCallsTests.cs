using KfuncForge.Definitions;

namespace KfuncForge.Tests.Definitions;

public sealed class CCallsTests
{
    [Fact]
    public void Calls_in_bodies_without_member_calls_definitions_comments_or_strings()
    {
        var calls = CCalls.Of("""
            #include "kfuncforge_compat.h"
            #define KFF_MAX(a, b) ((a) > (b) ? (a) : (b))

            static int helper(int a)
            {
            	return clamp_val(a, 0, 9);
            }

            BTF_ID_FLAGS(func, bpf_thing, KF_SLEEPABLE)

            __bpf_kfunc int bpf_thing(struct sock *sk)
            {
            	/* tcp_abort(sk) is in a comment */
            	pr_info("not_a_call(%d)", helper(1));
            	sk->sk_prot->diag_destroy(sk, 0);
            	ops.run (sk);
            	return copy_from_kernel_nofault_allowed (sk, 1);
            }

            #if 0
            __bpf_kfunc int upstream_body(void)
            {
            #ifdef CONFIG_X
            	return copy_remote_vm_str(0);
            #endif
            	return access_process_vm(0);
            }
            #endif
            """);

        Assert.Equal(["clamp_val", "copy_from_kernel_nofault_allowed", "pr_info"], calls);
    }
}
