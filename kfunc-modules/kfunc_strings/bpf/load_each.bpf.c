// SPDX-License-Identifier: GPL-2.0
/*
 * Per-kfunc load profile of the fidelity run: one tc program per kfunc, each
 * calling only that kfunc on the same 24-character header line, run under
 * BPF_PROG_TEST_RUN many times on the native kernel and on the backports, so
 * the report can give backport ns/op divided by native ns/op for each kfunc.
 * Every program returns the kfunc's result, which is fixed by the inputs.
 * each_baseline builds the same line on the stack and calls nothing: run in
 * the same boot, it is the yardstick the report divides by (fidelity.md).
 */
#include "string_kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

#define LINE "Content-Type: text/plain"
#define EACH(name) SEC("tc") int name(struct __sk_buff *skb)

EACH(each_baseline) { volatile char s[] = LINE; return s[0] == 'C' ? 0 : 1; }
EACH(each_strcmp) { char a[] = LINE, b[] = "Content-Type: text/html"; return bpf_strcmp(a, b); }
EACH(each_strcasecmp) { char a[] = LINE, b[] = "content-type: TEXT/PLAIN"; return bpf_strcasecmp(a, b); }
EACH(each_strncasecmp) { char a[] = LINE, b[] = "content-type: TEXT/html"; return bpf_strncasecmp(a, b, 19); }
EACH(each_strchr) { char s[] = LINE; return bpf_strchr(s, 'x'); }
EACH(each_strchrnul) { char s[] = LINE; return bpf_strchrnul(s, '#'); }
EACH(each_strnchr) { char s[] = LINE; return bpf_strnchr(s, 24, 'p'); }
EACH(each_strrchr) { char s[] = LINE; return bpf_strrchr(s, 't'); }
EACH(each_strlen) { char s[] = LINE; return bpf_strlen(s); }
EACH(each_strnlen) { char s[] = LINE; return bpf_strnlen(s, 20); }
EACH(each_strspn) { char s[] = LINE, a[] = "CTeno-t"; return bpf_strspn(s, a); }
EACH(each_strcspn) { char s[] = LINE, r[] = "/"; return bpf_strcspn(s, r); }
EACH(each_strstr) { char s[] = LINE, n[] = "plain"; return bpf_strstr(s, n); }
EACH(each_strnstr) { char s[] = LINE, n[] = "plain"; return bpf_strnstr(s, n, 24); }
EACH(each_strcasestr) { char s[] = LINE, n[] = "PLAIN"; return bpf_strcasestr(s, n); }
EACH(each_strncasestr) { char s[] = LINE, n[] = "PLAIN"; return bpf_strncasestr(s, n, 24); }
