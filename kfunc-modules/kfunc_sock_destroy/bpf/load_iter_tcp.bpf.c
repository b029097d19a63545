// SPDX-License-Identifier: GPL-2.0
/*
 * Load profile, TCP: destroy every TCP socket with target_port as its local
 * or remote port (host byte order, set by the runner in .rodata). The
 * runner opens the sockets, reads the iterator, then waits for each one to
 * report ECONNABORTED (the module aborts asynchronously, shortly after the
 * read). .bss counts what the program saw.
 */
#include "sock_iter.h"

char LICENSE[] SEC("license") = "GPL";

volatile const __u16 target_port;
__u64 queued, refused;

SEC("iter/tcp")
int load_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;

	if (!skc)
		return 0;
	if (skc->skc_num != target_port && skc->skc_dport != __builtin_bswap16(target_port))
		return 0;
	if (bpf_sock_destroy(skc))
		__sync_fetch_and_add(&refused, 1);
	else
		__sync_fetch_and_add(&queued, 1);
	return 0;
}
