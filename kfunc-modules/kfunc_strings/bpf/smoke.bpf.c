// SPDX-License-Identifier: GPL-2.0
/*
 * Smoke tests for kfunc_strings: one tc program per case, each
 * returning the kfunc's own result so the runner compares it with the value
 * upstream documents (module.yaml, smoke[].expect.retval; negative values
 * are the 32-bit return read as signed).
 *
 * Every string lives on the BPF stack or in .data. That is deliberate: on
 * 6.1 the verifier does not know the "__ign" suffix and checks each
 * "const char *" argument as one readable *and writable* byte, so string
 * literals in .rodata (read-only to programs) would be rejected there. A
 * NULL pointer passes that check on every kernel (and gets -ERANGE).
 * Cases that need __ign (arbitrary scalars as pointers) live in
 * smoke_unchecked.bpf.c.
 */
#include "string_kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

/* 65537 non-NUL bytes: no string in here ends within the limit. */
char no_nul[KF_STR_LIMIT + 1] = { [0 ... KF_STR_LIMIT] = 'a' };
/* The longest string the kfuncs accept: 65535 characters, then NUL. */
char longest[KF_STR_LIMIT] = { [0 ... KF_STR_LIMIT - 2] = 'a' };

#define SMOKE(name) SEC("tc") int name(struct __sk_buff *skb)

/* ---- comparison ---------------------------------------------------- */

SMOKE(strcmp_equal)
{
	char a[] = "hello", b[] = "hello";

	return bpf_strcmp(a, b);			/* 0 */
}

SMOKE(strcmp_less)
{
	char a[] = "abc", b[] = "abd";

	return bpf_strcmp(a, b);			/* -1 */
}

SMOKE(strcmp_greater)
{
	char a[] = "abd", b[] = "abc";

	return bpf_strcmp(a, b);			/* 1 */
}

SMOKE(strcmp_prefix)
{
	char a[] = "ab", b[] = "abc";

	return bpf_strcmp(a, b);			/* -1: the terminator sorts first */
}

SMOKE(strcmp_high_byte)
{
	char a[] = "\x80", b[] = "a";

	return bpf_strcmp(a, b);			/* 1: bytes compare unsigned */
}

SMOKE(strcmp_null)
{
	char b[] = "a";

	return bpf_strcmp((const char *)0, b);	/* -ERANGE */
}

SMOKE(strcmp_too_long)
{
	return bpf_strcmp(no_nul, no_nul);		/* -E2BIG */
}

SMOKE(strcasecmp_equal)
{
	char a[] = "Hello", b[] = "hELLO";

	return bpf_strcasecmp(a, b);			/* 0 */
}

SMOKE(strcasecmp_less)
{
	char a[] = "ABC", b[] = "abd";

	return bpf_strcasecmp(a, b);			/* -1 */
}

SMOKE(strncasecmp_prefix)
{
	char a[] = "HelloWorld", b[] = "helloKitty";

	return bpf_strncasecmp(a, b, 5);		/* 0 */
}

SMOKE(strncasecmp_differs)
{
	char a[] = "HelloWorld", b[] = "helloKitty";

	return bpf_strncasecmp(a, b, 6);		/* 1: 'w' > 'k' */
}

SMOKE(strncasecmp_zero_len)
{
	char a[] = "a", b[] = "b";

	return bpf_strncasecmp(a, b, 0);		/* 0 */
}

/* ---- character search ---------------------------------------------- */

SMOKE(strchr_found)
{
	char s[] = "hello";

	return bpf_strchr(s, 'l');			/* 2 */
}

SMOKE(strchr_missing)
{
	char s[] = "hello";

	return bpf_strchr(s, 'z');			/* -ENOENT */
}

SMOKE(strchr_terminator)
{
	char s[] = "hello";

	return bpf_strchr(s, '\0');			/* 5 */
}

SMOKE(strchrnul_found)
{
	char s[] = "hello";

	return bpf_strchrnul(s, 'e');			/* 1 */
}

SMOKE(strchrnul_missing)
{
	char s[] = "hello";

	return bpf_strchrnul(s, 'z');			/* 5 */
}

SMOKE(strnchr_found)
{
	char s[] = "hello";

	return bpf_strnchr(s, 5, 'o');			/* 4 */
}

SMOKE(strnchr_beyond_count)
{
	char s[] = "hello";

	return bpf_strnchr(s, 3, 'o');			/* -ENOENT */
}

SMOKE(strrchr_found)
{
	char s[] = "hello";

	return bpf_strrchr(s, 'l');			/* 3 */
}

SMOKE(strrchr_missing)
{
	char s[] = "hello";

	return bpf_strrchr(s, 'z');			/* -ENOENT */
}

SMOKE(strrchr_wide_int)
{
	char s[] = "hello";

	return bpf_strrchr(s, 'l' + 256);		/* -ENOENT: c is not truncated */
}

SMOKE(strchr_too_long)
{
	return bpf_strchr(no_nul, 'z');			/* -E2BIG */
}

/* ---- length -------------------------------------------------------- */

SMOKE(strlen_basic)
{
	char s[] = "hello";

	return bpf_strlen(s);				/* 5 */
}

SMOKE(strlen_empty)
{
	char s[] = "";

	return bpf_strlen(s);				/* 0 */
}

SMOKE(strlen_null)
{
	return bpf_strlen((const char *)0);		/* -ERANGE */
}

SMOKE(strlen_too_long)
{
	return bpf_strlen(no_nul);			/* -E2BIG */
}

SMOKE(strlen_longest)
{
	return bpf_strlen(longest);			/* 65535 */
}

SMOKE(strnlen_limited)
{
	char s[] = "hello";

	return bpf_strnlen(s, 3);			/* 3 */
}

SMOKE(strnlen_short)
{
	char s[] = "hello";

	return bpf_strnlen(s, 10);			/* 5 */
}

/* ---- spans --------------------------------------------------------- */

SMOKE(strspn_basic)
{
	char s[] = "aabbcd", set[] = "ab";

	return bpf_strspn(s, set);			/* 4 */
}

SMOKE(strspn_none)
{
	char s[] = "xyz", set[] = "ab";

	return bpf_strspn(s, set);			/* 0 */
}

SMOKE(strcspn_basic)
{
	char s[] = "hello world", set[] = " ";

	return bpf_strcspn(s, set);			/* 5 */
}

SMOKE(strcspn_none)
{
	char s[] = "hello", set[] = "xyz";

	return bpf_strcspn(s, set);			/* 5 */
}

/* ---- substrings ---------------------------------------------------- */

SMOKE(strstr_found)
{
	char s[] = "hello world", n[] = "world";

	return bpf_strstr(s, n);			/* 6 */
}

SMOKE(strstr_missing)
{
	char s[] = "hello", n[] = "worlds";

	return bpf_strstr(s, n);			/* -ENOENT */
}

SMOKE(strstr_empty_needle)
{
	char s[] = "hello", n[] = "";

	return bpf_strstr(s, n);			/* 0 */
}

SMOKE(strnstr_ends_at_len)
{
	char s[] = "hello world", n[] = "wor";

	return bpf_strnstr(s, n, 9);			/* 6: ends exactly at len */
}

SMOKE(strnstr_cut_by_len)
{
	char s[] = "hello world", n[] = "world";

	return bpf_strnstr(s, n, 9);			/* -ENOENT */
}

SMOKE(strcasestr_found)
{
	char s[] = "Hello World", n[] = "WORLD";

	return bpf_strcasestr(s, n);			/* 6 */
}

SMOKE(strncasestr_ends_at_len)
{
	char s[] = "Hello World", n[] = "WOR";

	return bpf_strncasestr(s, n, 9);		/* 6 */
}

SMOKE(strncasestr_cut_by_len)
{
	char s[] = "Hello World", n[] = "WORLD";

	return bpf_strncasestr(s, n, 10);		/* -ENOENT */
}
