using KfuncForge.Tests.Upstream;

namespace KfuncForge.Tests.Fidelity;

/// <summary>
/// A kernel tree in the shape of upstream's BPF selftests, written for these tests (no upstream code): annotation
/// macros of our own that leave decl tags as bpf_misc.h's do, a program file calling bpf_sock_destroy that a
/// prog_tests file runs with RUN_TESTS, one that no RUN_TESTS names, and one that calls no kfunc of ours.
/// </summary>
internal static class SelftestFixture
{
    public const string Ref = "v6.99";
    private const string Progs = "tools/testing/selftests/bpf/progs/";

    public const string Misc = """
        /* Test annotations as decl tags on each program, numbered in the order written. */
        #define KFF_STR(x) #x
        #define KFF_XSTR(x) KFF_STR(x)
        #define __kff_tag(t) __attribute__((btf_decl_tag("comment:" KFF_XSTR(__COUNTER__) ":" t)))
        #define __success __kff_tag("test_expect_success")
        #define __failure __kff_tag("test_expect_failure")
        #define __msg(m) __kff_tag("test_expect_msg=" m)
        #define __retval(v) __kff_tag("test_retval=" KFF_XSTR(v))
        #define __xlated(m) __kff_tag("test_expect_xlated=" m)
        #define __auxiliary __kff_tag("test_auxiliary")
        #define __description(d) __kff_tag("test_description=" d)
        #define __retval_unpriv(v) __kff_tag("test_retval_unpriv=" KFF_XSTR(v))
        """;

    public const string SockDestroy = """
        // SPDX-License-Identifier: GPL-2.0
        #include "vmlinux.h"
        #include <bpf/bpf_helpers.h>
        #include <bpf/bpf_tracing.h>
        #include "kff_misc.h"

        char _license[] SEC("license") = "GPL";

        /* Loaded only (no __retval): an iterator may destroy what it visits. */
        SEC("iter/tcp") __success
        int iter_destroys(struct bpf_iter__tcp *ctx)
        {
        	struct sock_common *sk = ctx->sk_common;

        	if (sk)
        		bpf_sock_destroy(sk);
        	return 0;
        }

        /* Run once; upstream expects 7. */
        SEC("syscall") __success __retval(7) __retval_unpriv(3) __description("returns seven")
        int returns_seven(void *ctx)
        {
        	return 7;
        }

        /* A tc program may not call it, on any kernel. */
        SEC("tc") __failure __msg("calling kernel function") __msg("bpf_sock_destroy is not allowed")
        int tc_refused(struct __sk_buff *skb)
        {
        	struct bpf_sock *sk = skb->sk;

        	if (!sk)
        		return 0;
        	return bpf_sock_destroy((struct sock_common *)sk);
        }

        /* Upstream filters every tracing program but iterators; kernels before 6.5 cannot (declared in module.yaml). */
        SEC("fentry/tcp_close") __failure __msg("calling kernel function bpf_sock_destroy is not allowed")
        int BPF_PROG(fentry_refused, struct sock *sk, long timeout)
        {
        	bpf_sock_destroy(&sk->__sk_common);
        	return 0;
        }

        /* Checks the translated instructions, which the harness does not: listed as not run. */
        SEC("syscall") __success __xlated("r0 = 1")
        int xlated_checked(void *ctx)
        {
        	return 1;
        }

        /* A helper of the file, not a test. */
        SEC("syscall") __auxiliary
        int helper_only(void *ctx)
        {
        	return 0;
        }
        """;

    public const string Manual = """
        // SPDX-License-Identifier: GPL-2.0
        #include "vmlinux.h"
        #include <bpf/bpf_helpers.h>

        SEC("iter/tcp")
        int driven_by_hand(struct bpf_iter__tcp *ctx)
        {
        	if (ctx->sk_common)
        		bpf_sock_destroy(ctx->sk_common);
        	return 0;
        }
        char _license[] SEC("license") = "GPL";
        """;

    /// <summary>A repository with the fixture committed and tagged <see cref="Ref"/>.</summary>
    public static KernelRepoBuilder Create()
    {
        var repo = KernelRepoBuilder.Create();
        repo.Files["Makefile"] = "VERSION = 6\nPATCHLEVEL = 99\nSUBLEVEL = 0\n";
        repo.Files[Progs + "kff_misc.h"] = Misc;
        repo.Files[Progs + "kff_sock_destroy.c"] = SockDestroy;
        repo.Files[Progs + "kff_manual.c"] = Manual;
        repo.Files[Progs + "unrelated.c"] = "int bpf_other_kfunc(void);\n";
        repo.Files["tools/testing/selftests/bpf/prog_tests/kff_sock_destroy.c"] = "void test_kff_sock_destroy(void)\n{\n\tRUN_TESTS(kff_sock_destroy);\n}\n";
        repo.Files["tools/testing/selftests/bpf/kff_userspace.h"] = "/* a header of the selftests folder */\n";
        repo.Commit("selftests: kff fixture");
        repo.Tag(Ref);
        return repo;
    }
}
