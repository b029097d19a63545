// SPDX-License-Identifier: GPL-2.0
/* Load profile, substring family. */
#include "string_kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int load_substring(struct __sk_buff *skb)
{
	char s[] = "GET /index.html HTTP/1.1 Host: example", n[] = "http/", m[] = "HTTP/";

	/* 16 + 16 + 16 + 16 = 64 when the kfuncs behave */
	return bpf_strstr(s, m) + bpf_strnstr(s, m, 24) + bpf_strcasestr(s, n) +
	       bpf_strncasestr(s, n, 24);
}
