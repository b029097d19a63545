// SPDX-License-Identifier: GPL-2.0
/*
 * The fidelity suite of kfunc_sock_destroy (docs/fidelity.md). One program per
 * case; module.yaml's fidelity.cases says which sockets the agent sets up for
 * each iterator case (family and state) and what upstream gives.
 *
 * Iterator cases destroy every socket whose local port is target_port (host
 * byte order, set by the agent in .rodata): the listener and the accepted
 * ends of TCP connections, or the bound UDP sockets. The agent then checks
 * each connection (one end ECONNABORTED, the other aborted or reset), each UDP
 * socket (ECONNABORTED), or the listener alone (SO_ERROR ECONNABORTED), and
 * reports how many were NOT aborted: 0 is upstream's result.
 *
 * The tc and fentry programs are negative cases: upstream registers the kfunc
 * for tracing programs only and filters it to iterators (6.5+).
 */
#include "destroy_by_port.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define TCP_CASE(name) \
	SEC("iter/tcp") int name(struct bpf_iter__tcp *ctx) { destroy(ctx->sk_common); return 0; }
#define UDP_CASE(name) \
	SEC("iter/udp") int name(struct bpf_iter__udp *ctx) \
	{ \
		struct udp_sock *udp = ctx->udp_sk; \
		destroy(udp ? &udp->inet.sk.__sk_common : 0); \
		return 0; \
	}

TCP_CASE(tcp4_established)
TCP_CASE(tcp6_established)
TCP_CASE(tcp4_listening)
TCP_CASE(tcp6_listening)
TCP_CASE(tcp4_closing)
TCP_CASE(tcp6_closing)
UDP_CASE(udp4_bound)
UDP_CASE(udp6_bound)

/* A packet program: outside the kfunc's registration on every kernel. */
SEC("tc")
int tc_forbidden(struct __sk_buff *skb)
{
	return bpf_sock_destroy((struct sock_common *)0);
}

/* A tracing program that is not an iterator: upstream's filter refuses it. */
SEC("fentry/tcp_close")
int BPF_PROG(fentry_not_filtered, struct sock *sk, long timeout)
{
	bpf_sock_destroy(&sk->__sk_common);
	return 0;
}
