// SPDX-License-Identifier: GPL-2.0
/* Load profile, length family. */
#include "string_kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int load_length(struct __sk_buff *skb)
{
	char s[] = "kfuncforge load test: a plain string of modest length";

	/* 53 + 16 = 69 when the kfuncs behave */
	return bpf_strlen(s) + bpf_strnlen(s, 16);
}
