namespace KfuncForge.Tests.Upstream;

/// <summary>
/// The kernel-like repository most upstream tests share, built for real with LibGit2Sharp:
/// <code>
/// v6.15  initial tree: kernel/bpf/helpers.c (bpf_obj_thing), net/core/filter.c (bpf_sock_thing, with a filter),
///        kernel/panic.c (bpf_panic_thing, registered from helpers.c), drivers/hid/bpf (hid_bpf_thing), a selftest module under tools/
///        that registers its own bpf_strfoo (must be ignored)
///        sched: unrelated change
///        bpf: Add bpf_strfoo kfunc                        &lt;- Introduced
/// v6.16  net: unrelated change
///        bpf: Make bpf_strfoo sleepable and reject NULL  &lt;- Changed (body, flags, XDP registration)
/// v6.17  mm: unrelated change
///        bpf: Reword bpf_strfoo comments and reindent     &lt;- comments and white space only
/// v6.18-rc1
/// </code>
/// </summary>
public sealed class KernelHistory : IDisposable
{
    public KernelRepoBuilder Repo { get; }
    public string Introduced { get; }
    public string Changed { get; }
    public string Reformatted { get; }

    public string Path => Repo.Path;

    public KernelHistory()
    {
        Repo = KernelRepoBuilder.Create();
        var f = Repo.Files;
        // History before the kfuncs: a repository whose first commit already has a kfunc is a snapshot.
        f["Makefile"] = "VERSION = 6\nPATCHLEVEL = 14\n";
        Repo.Commit("Linux 6.14");
        f["Makefile"] = "VERSION = 6\nPATCHLEVEL = 15\n";
        f["kernel/sched/core.c"] = "int sched_thing;\n";
        f["kernel/panic.c"] = PanicC;
        f["net/core/filter.c"] = FilterC;
        f["mm/slab.c"] = "int slab_thing;\n";
        f["kernel/bpf/helpers.c"] = Helpers(strfoo: null, sleepable: false, xdp: false);
        f["tools/testing/selftests/bpf/bpf_testmod/bpf_testmod.c"] = TestmodC;
        f["drivers/hid/bpf/hid_bpf_dispatch.c"] = HidC;
        f["Documentation/bpf/kfuncs.rst"] = "BTF_ID_FLAGS(func, bpf_strfoo) is documented here.\n";
        Repo.Commit("Initial tree");
        Repo.Tag("v6.15");

        f["kernel/sched/core.c"] = "int sched_thing = 1;\n";
        Repo.Commit("sched: unrelated change");

        f["kernel/bpf/helpers.c"] = Helpers(StrfooV1, sleepable: false, xdp: false);
        Introduced = Repo.Commit("bpf: Add bpf_strfoo kfunc");

        f["net/core/filter.c"] = FilterC + "/* net change */\n";
        Repo.Commit("net: unrelated change");
        Repo.Tag("v6.16");

        f["kernel/bpf/helpers.c"] = Helpers(StrfooV2, sleepable: true, xdp: true);
        Changed = Repo.Commit("bpf: Make bpf_strfoo sleepable and reject NULL");
        Repo.Tag("v6.17");

        f["mm/slab.c"] = "int slab_thing = 2;\n";
        Repo.Commit("mm: unrelated change");

        f["kernel/bpf/helpers.c"] = Helpers(StrfooV2Reformatted, sleepable: true, xdp: true);
        Reformatted = Repo.Commit("bpf: Reword bpf_strfoo comments and reindent");
        Repo.Tag("v6.18-rc1");
    }

    public void Dispose() => Repo.Dispose();

    public const string StrfooV1 = """
        /**
         * bpf_strfoo - length of a string, at most @len bytes
         * @s__ign: the string ("__ign": any pointer is accepted)
         * @len: the most bytes to count
         */
        __bpf_kfunc int bpf_strfoo(const char *s__ign,
                                   u32 len /* in bytes */)
        {
        	int i;

        	for (i = 0; i < len && s__ign[i]; i++)
        		;
        	return i;
        }
        """;

    public const string StrfooV2 = """
        /**
         * bpf_strfoo - length of a string, at most @len bytes
         */
        __bpf_kfunc int bpf_strfoo(const char *s__ign, u32 len)
        {
        	int i;

        	if (!s__ign)
        		return -EINVAL;
        	for (i = 0; i < len && s__ign[i]; i++)
        		cond_resched();
        	return i;
        }
        """;

    public const string StrfooV2Reformatted = """
        /*
         * bpf_strfoo() - count the bytes of a string, stopping after @len bytes.
         */
        __bpf_kfunc int
        bpf_strfoo(const char *s__ign, u32 len)
        {
            int i;   /* the count */

            if (!s__ign)
                return -EINVAL;   // no string
            for (i = 0; i < len && s__ign[i]; i++)
                cond_resched();
            return i;
        }
        """;

    public static string Helpers(string? strfoo, bool sleepable, bool xdp) => $$"""
        // SPDX-License-Identifier: GPL-2.0-only
        #include <linux/bpf.h>
        #include <linux/btf_ids.h>

        __bpf_kfunc_start_defs();

        __bpf_kfunc void *bpf_obj_thing(u64 local_type_id__k, void *meta__ign)
        {
        	return bpf_mem_alloc(&bpf_global_ma, local_type_id__k);
        }

        {{strfoo ?? ""}}

        __bpf_kfunc_end_defs();

        BTF_KFUNCS_START(generic_btf_ids)
        BTF_ID_FLAGS(func, bpf_obj_thing, KF_ACQUIRE | KF_RET_NULL)
        {{(strfoo is null ? "" : sleepable ? "BTF_ID_FLAGS(func, bpf_strfoo, KF_RCU | KF_SLEEPABLE)" : "BTF_ID_FLAGS(func, bpf_strfoo, KF_RCU)")}}
        #ifdef CONFIG_PANIC_KFUNC
        BTF_ID_FLAGS(func, bpf_panic_thing, KF_DESTRUCTIVE)
        #endif
        BTF_KFUNCS_END(generic_btf_ids)

        static const struct btf_kfunc_id_set generic_kfunc_set = {
        	.owner = THIS_MODULE,
        	.set   = &generic_btf_ids,
        };

        static int __init kfunc_init(void)
        {
        	int ret;

        	ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING, &generic_kfunc_set);
        {{(xdp ? "\tret = ret ?: register_btf_kfunc_id_set(BPF_PROG_TYPE_XDP, &generic_kfunc_set);" : "")}}
        	return ret ?: register_btf_kfunc_id_set(BPF_PROG_TYPE_SCHED_CLS,
        						&generic_kfunc_set);
        }

        late_initcall(kfunc_init);
        """;

    public const string PanicC = """
        // SPDX-License-Identifier: GPL-2.0-only
        #include <linux/kernel.h>

        void bpf_panic_thing(const char *msg)
        {
        	panic("%s", msg);
        }
        """;

    public const string FilterC = """
        // SPDX-License-Identifier: GPL-2.0-only
        #include <linux/filter.h>

        __bpf_kfunc int bpf_sock_thing(struct sock_common *sock)
        {
        	return sock ? 0 : -EINVAL;
        }

        BTF_KFUNCS_START(bpf_sk_iter_kfunc_ids)
        BTF_ID_FLAGS(func, bpf_sock_thing, KF_TRUSTED_ARGS)
        BTF_KFUNCS_END(bpf_sk_iter_kfunc_ids)

        static int tracing_iter_filter(const struct bpf_prog *prog, u32 kfunc_id)
        {
        	if (btf_id_set8_contains(&bpf_sk_iter_kfunc_ids, kfunc_id) &&
        	    prog->expected_attach_type != BPF_TRACE_ITER)
        		return -EACCES;
        	return 0;
        }

        static const struct btf_kfunc_id_set bpf_sk_iter_kfunc_set = {
        	.owner = THIS_MODULE,
        	.set   = &bpf_sk_iter_kfunc_ids,
        	.filter = tracing_iter_filter,
        };

        static int init_subsystem(void)
        {
        	return register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING, &bpf_sk_iter_kfunc_set);
        }
        """;

    public const string HidC = """
        // SPDX-License-Identifier: GPL-2.0-only
        __bpf_kfunc struct hid_bpf_ctx *
        hid_bpf_thing(unsigned int hid_id)
        {
        	return NULL;
        }

        BTF_KFUNCS_START(hid_bpf_syscall_kfunc_ids)
        BTF_ID_FLAGS(func, hid_bpf_thing, KF_ACQUIRE | KF_RET_NULL | KF_SLEEPABLE)
        BTF_KFUNCS_END(hid_bpf_syscall_kfunc_ids)

        static const struct btf_kfunc_id_set hid_bpf_syscall_kfunc_set = {
        	.owner = THIS_MODULE,
        	.set   = &hid_bpf_syscall_kfunc_ids,
        };

        static int __init hid_bpf_init(void)
        {
        	return register_btf_kfunc_id_set(BPF_PROG_TYPE_SYSCALL, &hid_bpf_syscall_kfunc_set);
        }
        """;

    public const string TestmodC = """
        // A selftest module: registers a kfunc of the same name for another program type. Import must not see it.
        __bpf_kfunc int bpf_strfoo(void)
        {
        	return 42;
        }

        BTF_KFUNCS_START(bpf_testmod_kfunc_ids)
        BTF_ID_FLAGS(func, bpf_strfoo, KF_DESTRUCTIVE)
        BTF_KFUNCS_END(bpf_testmod_kfunc_ids)

        static const struct btf_kfunc_id_set bpf_testmod_kfunc_set = {
        	.set = &bpf_testmod_kfunc_ids,
        };

        static int bpf_testmod_init(void)
        {
        	return register_btf_kfunc_id_set(BPF_PROG_TYPE_SYSCALL, &bpf_testmod_kfunc_set);
        }
        """;
}
