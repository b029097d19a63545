// SPDX-License-Identifier: GPL-2.0
/*
 * A tracing program that is not an iterator. Upstream's kfunc filter
 * (6.5+) rejects it: "calling kernel function bpf_sock_destroy is not
 * allowed". Kernels before 6.5 have no kfunc filter, so with the module
 * this program LOADS (the module cannot tell an fentry program from an
 * iterator at registration time). Running it is harmless with the deferred
 * variant: the socket being closed is aborted later in a worker, which
 * finds it closed and does nothing more.
 *
 * Not in module.yaml's smoke list: the expectation differs by kernel
 * (verifier_rejects on 6.5+, loads on 6.1); docs/modules.md records it.
 */
#include "sock_iter.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("fentry/tcp_close")
int BPF_PROG(fentry_destroy_not_filtered, struct sock *sk, long timeout)
{
	bpf_sock_destroy(&sk->__sk_common);
	return 0;
}
