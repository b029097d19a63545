// SPDX-License-Identifier: GPL-2.0
/* Load profile, span family. */
#include "string_kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int load_span(struct __sk_buff *skb)
{
	char s[] = "   192.168.100.200:8080 rest", digits[] = "0123456789. ", stop[] = ":";

	/* 18 + 18 = 36 when the kfuncs behave */
	return bpf_strspn(s, digits) + bpf_strcspn(s, stop);
}
