// SPDX-License-Identifier: GPL-2.0
/* Load profile, character-search family. */
#include "string_kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int load_search(struct __sk_buff *skb)
{
	char s[] = "/usr/lib/modules/6.1.0-56-amd64/extra";

	/* 0 + 5 + 31 + 37 = 73 when the kfuncs behave */
	return bpf_strchr(s, '/') + bpf_strnchr(s, 8, 'l') + bpf_strrchr(s, '/') +
	       bpf_strchrnul(s, '#');
}
