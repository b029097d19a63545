// SPDX-License-Identifier: GPL-2.0
/*
 * Negative smoke test: a tc (sched_cls) program must not call
 * bpf_sock_destroy. Upstream registers the kfunc for tracing programs only
 * (and filters those to iterators); the module registers it for tracing
 * only too, so every kernel rejects this program at load time with
 * "calling kernel function bpf_sock_destroy is not allowed".
 */
#include <linux/bpf.h>
#include "sock_iter.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int tc_destroy_forbidden(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return 0;
	return bpf_sock_destroy((struct sock_common *)sk);
}
