// SPDX-License-Identifier: GPL-2.0
/*
 * Smoke tests: the kfunc is callable from the two program kinds upstream
 * allows, iter/tcp and iter/udp. Loading proves registration (the verifier
 * rejects an unknown or unregistered kfunc); reading the iterator runs the
 * program once per socket and must complete with every call returning 0.
 *
 * Only sockets whose local port equals target_port are destroyed (host
 * byte order; the runner sets it in .rodata before load, 0 matches no
 * socket). The outcome is left in .bss for the runner: destroyed counts
 * calls that returned 0, last_err keeps the last non-zero result.
 */
#include "destroy_by_port.h"

char LICENSE[] SEC("license") = "GPL";

SEC("iter/tcp")
int iter_tcp_destroy(struct bpf_iter__tcp *ctx)
{
	destroy(ctx->sk_common);
	return 0;
}

SEC("iter/udp")
int iter_udp_destroy(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	destroy(udp ? &udp->inet.sk.__sk_common : 0);
	return 0;
}
