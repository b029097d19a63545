// SPDX-License-Identifier: GPL-2.0
/*
 * Cases that pass arbitrary scalars as string pointers. Upstream accepts
 * them because the arguments carry the "__ign" suffix (the verifier skips
 * their type check) and the kfunc's own checks answer -ERANGE or -EFAULT.
 *
 * Expected per kernel (why this file is not in module.yaml's smoke list yet:
 * a smoke entry has one expectation for every kernel):
 *   - 6.12 (module) and 6.17+ (native): load; results as commented below.
 *   - 6.1 (module): the verifier predates "__ign" and rejects every program
 *     here with "R<n> type=scalar expected=fp" (the pointer must be memory).
 */
#include "string_kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

/* A user-space address: refused before any read. */
#define USER_PTR ((const char *)1)
/* Canonical kernel-half address whose page is never mapped. */
#define UNMAPPED_KERNEL_PTR ((const char *)-1L)

SEC("tc")
int strlen_user_ptr(struct __sk_buff *skb)
{
	return bpf_strlen(USER_PTR);			/* -ERANGE */
}

SEC("tc")
int strlen_unmapped(struct __sk_buff *skb)
{
	return bpf_strlen(UNMAPPED_KERNEL_PTR);		/* -EFAULT */
}

SEC("tc")
int strcmp_unmapped(struct __sk_buff *skb)
{
	char s[] = "a";

	return bpf_strcmp(s, UNMAPPED_KERNEL_PTR);	/* -EFAULT */
}

SEC("tc")
int strstr_user_needle(struct __sk_buff *skb)
{
	char s[] = "abc";

	return bpf_strstr(s, USER_PTR);			/* -ERANGE */
}

SEC("tc")
int strspn_unmapped_set(struct __sk_buff *skb)
{
	char s[] = "abc";

	return bpf_strspn(s, UNMAPPED_KERNEL_PTR);	/* -EFAULT */
}

SEC("tc")
int strnlen_unmapped_zero_count(struct __sk_buff *skb)
{
	return bpf_strnlen(UNMAPPED_KERNEL_PTR, 0);	/* 0: nothing is read */
}
