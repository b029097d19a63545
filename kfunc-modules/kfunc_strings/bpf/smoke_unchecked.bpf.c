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
 *     here with "R1 type=scalar expected=fp" (the pointer must be memory).
 */
#include "string_kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

/* A user-space address: refused before any read. */
#define USER_PTR ((const char *)1)
/* Canonical kernel-half address whose page is never mapped. */
#define UNMAPPED_KERNEL_PTR ((const char *)-1L)

SEC("syscall")
int strlen_user_ptr(void *ctx)
{
	return bpf_strlen(USER_PTR);			/* -ERANGE */
}

SEC("syscall")
int strlen_unmapped(void *ctx)
{
	return bpf_strlen(UNMAPPED_KERNEL_PTR);		/* -EFAULT */
}

SEC("syscall")
int strcmp_unmapped(void *ctx)
{
	char s[] = "a";

	return bpf_strcmp(s, UNMAPPED_KERNEL_PTR);	/* -EFAULT */
}

SEC("syscall")
int strstr_user_needle(void *ctx)
{
	char s[] = "abc";

	return bpf_strstr(s, USER_PTR);			/* -ERANGE */
}

SEC("syscall")
int strspn_unmapped_set(void *ctx)
{
	char s[] = "abc";

	return bpf_strspn(s, UNMAPPED_KERNEL_PTR);	/* -EFAULT */
}

SEC("syscall")
int strnlen_unmapped_zero_count(void *ctx)
{
	return bpf_strnlen(UNMAPPED_KERNEL_PTR, 0);	/* 0: nothing is read */
}
