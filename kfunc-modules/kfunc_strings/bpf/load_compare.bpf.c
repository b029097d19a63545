// SPDX-License-Identifier: GPL-2.0
/* Load profile, comparison family: run under BPF_PROG_TEST_RUN many times. */
#include "string_kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int load_compare(struct __sk_buff *skb)
{
	char a[] = "Content-Type: text/plain", b[] = "content-type: text/html";

	/* -1 + 1 + 0 = 0 when the kfuncs behave */
	return bpf_strcmp(a, b) + bpf_strcasecmp(a, b) + bpf_strncasecmp(a, b, 12);
}
