// SPDX-License-Identifier: GPL-2.0
/*
 * Load profile, UDP: destroy every UDP socket bound to target_port or
 * connected to it (host byte order, set by the runner in .rodata). The
 * UDP iterator calls the program with the hash bucket locked, which is
 * why the abort has to be deferred on kernels before 6.5.
 */
#include "sock_iter.h"

char LICENSE[] SEC("license") = "GPL";

volatile const __u16 target_port;
__u64 queued, refused;

SEC("iter/udp")
int load_iter_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct sock_common *skc;

	if (!udp)
		return 0;
	skc = &udp->inet.sk.__sk_common;
	if (skc->skc_num != target_port && skc->skc_dport != __builtin_bswap16(target_port))
		return 0;
	if (bpf_sock_destroy(skc))
		__sync_fetch_and_add(&refused, 1);
	else
		__sync_fetch_and_add(&queued, 1);
	return 0;
}
