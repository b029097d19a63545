/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel types the kfunc_sock_destroy programs touch, declared
 * locally with preserve_access_index so libbpf relocates every field
 * against the running kernel's BTF (CO-RE); no vmlinux.h is needed and
 * the same object loads on 6.1 (module) and on 6.5+ (native kfunc).
 */
#ifndef KFUNC_SOCK_DESTROY_BPF_H
#define KFUNC_SOCK_DESTROY_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define KF_CORE __attribute__((preserve_access_index))

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} KF_CORE;

struct sock_common {
	union {
		struct {
			__be32 skc_daddr;
			__be32 skc_rcv_saddr;
		};
	};
	union {
		struct {
			__be16 skc_dport;
			__u16 skc_num;
		};
	};
	unsigned short skc_family;
	volatile unsigned char skc_state;
} KF_CORE;

struct sock {
	struct sock_common __sk_common;
} KF_CORE;

struct inet_sock {
	struct sock sk;
} KF_CORE;

struct udp_sock {
	struct inet_sock inet;
} KF_CORE;

/* Context of SEC("iter/tcp") programs. */
struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
	__u32 uid;
} KF_CORE;

/* Context of SEC("iter/udp") programs. */
struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
	__u32 uid;
	int bucket;
} KF_CORE;

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

#define KF_ENOENT 2
#define KF_EOPNOTSUPP 95

#endif
