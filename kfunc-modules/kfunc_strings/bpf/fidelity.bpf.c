// SPDX-License-Identifier: GPL-2.0
/*
 * The fidelity suite of kfunc_strings (docs/fidelity.md): one tc program per
 * case, each returning the kfunc's result. module.yaml's fidelity.cases lists
 * every program with upstream's result and the differences declared for
 * kernels whose verifier cannot accept the case. The same object runs on the
 * native kfuncs (Linux 6.17+) and on the backport (this module), so the native
 * kernel's answers are the oracle.
 *
 * Pointer classes each kfunc is tried with:
 *   - strings on the BPF stack and in .data (accepted by every kernel);
 *   - NULL (accepted everywhere; upstream answers -ERANGE);
 *   - .rodata constants, a user-space address, a non-canonical address and an
 *     unmapped kernel address: upstream's verifier skips the type check of
 *     "__ign" arguments, so these load and the kfunc answers (-ERANGE for the
 *     first two kinds of bad address, -EFAULT for the unmapped one); 6.1's
 *     verifier has no "__ign" and rejects them at load (declared in module.yaml).
 */
#include "string_kfuncs.h"

char LICENSE[] SEC("license") = "GPL";

/* 65537 non-NUL bytes: no string in here ends within the limit. */
char no_nul[KF_STR_LIMIT + 1] = { [0 ... KF_STR_LIMIT] = 'a' };
/* The longest string the kfuncs accept: 65535 characters, then NUL. */
char longest[KF_STR_LIMIT] = { [0 ... KF_STR_LIMIT - 2] = 'a' };
/* As long, differing from it only in the last character. */
char longest_b[KF_STR_LIMIT] = { [0 ... KF_STR_LIMIT - 3] = 'a', [KF_STR_LIMIT - 2] = 'b' };
/* A constant: .rodata, read-only to programs. */
const char ro_hello[] = "hello";

/* A user-space address: refused before any read. */
#define USER_PTR ((const char *)1)
/* Not a canonical x86-64 address: refused before any read. */
#define NONCANONICAL_PTR ((const char *)0x8000000000000000UL)
/* The last byte of the kernel half: canonical, never mapped: the read faults. */
#define UNMAPPED_PTR ((const char *)-1L)

#define CASE(name) SEC("tc") int name(struct __sk_buff *skb)

/* ---- bpf_strcmp -------------------------------------------------- */

CASE(strcmp_equal) { char a[] = "hello", b[] = "hello"; return bpf_strcmp(a, b); }
CASE(strcmp_less) { char a[] = "abc", b[] = "abd"; return bpf_strcmp(a, b); }
CASE(strcmp_greater) { char a[] = "abd", b[] = "abc"; return bpf_strcmp(a, b); }
CASE(strcmp_prefix_first) { char a[] = "ab", b[] = "abc"; return bpf_strcmp(a, b); }
CASE(strcmp_prefix_second) { char a[] = "abc", b[] = "ab"; return bpf_strcmp(a, b); }
CASE(strcmp_both_empty) { char a[] = "", b[] = ""; return bpf_strcmp(a, b); }
CASE(strcmp_empty_first) { char a[] = "", b[] = "a"; return bpf_strcmp(a, b); }
CASE(strcmp_high_byte) { char a[] = "\x80", b[] = "a"; return bpf_strcmp(a, b); }
CASE(strcmp_high_vs_high) { char a[] = "\x80", b[] = "\xff"; return bpf_strcmp(a, b); }
CASE(strcmp_case_sensitive) { char a[] = "a", b[] = "A"; return bpf_strcmp(a, b); }
CASE(strcmp_null_second) { char a[] = "a"; return bpf_strcmp(a, (const char *)0); }
CASE(strcmp_too_long) { return bpf_strcmp(no_nul, no_nul); }
CASE(strcmp_longest_equal) { return bpf_strcmp(longest, longest); }
CASE(strcmp_longest_last_byte) { return bpf_strcmp(longest, longest_b); }
CASE(strcmp_unterminated_differs_early) { char b[] = "b"; return bpf_strcmp(no_nul, b); }
CASE(strcmp_null) { char b[] = "a"; return bpf_strcmp((const char *)0, b); }
CASE(strcmp_rodata) { char b[] = "hello"; return bpf_strcmp(ro_hello, b); }
CASE(strcmp_user_ptr) { char b[] = "a"; return bpf_strcmp(b, USER_PTR); }
CASE(strcmp_noncanonical) { char b[] = "a"; return bpf_strcmp(NONCANONICAL_PTR, b); }
CASE(strcmp_unmapped) { char b[] = "a"; return bpf_strcmp(b, UNMAPPED_PTR); }

/* ---- bpf_strcasecmp ---------------------------------------------- */

CASE(strcasecmp_equal) { char a[] = "Hello", b[] = "hELLO"; return bpf_strcasecmp(a, b); }
CASE(strcasecmp_less) { char a[] = "abc", b[] = "ABD"; return bpf_strcasecmp(a, b); }
CASE(strcasecmp_greater) { char a[] = "B", b[] = "a"; return bpf_strcasecmp(a, b); }
CASE(strcasecmp_prefix) { char a[] = "AB", b[] = "abc"; return bpf_strcasecmp(a, b); }
CASE(strcasecmp_both_empty) { char a[] = "", b[] = ""; return bpf_strcasecmp(a, b); }
CASE(strcasecmp_non_letters) { char a[] = "a-1!", b[] = "A-1!"; return bpf_strcasecmp(a, b); }
CASE(strcasecmp_bracket_vs_upper) { char a[] = "[", b[] = "A"; return bpf_strcasecmp(a, b); }
CASE(strcasecmp_latin1_fold) { char a[] = "\xc0", b[] = "\xe0"; return bpf_strcasecmp(a, b); }
CASE(strcasecmp_high_byte) { char a[] = "\xf7", b[] = "\xd7"; return bpf_strcasecmp(a, b); }
CASE(strcasecmp_too_long) { return bpf_strcasecmp(no_nul, no_nul); }
CASE(strcasecmp_longest_equal) { return bpf_strcasecmp(longest, longest); }
CASE(strcasecmp_null) { char b[] = "a"; return bpf_strcasecmp((const char *)0, b); }
CASE(strcasecmp_rodata) { char b[] = "HELLO"; return bpf_strcasecmp(ro_hello, b); }
CASE(strcasecmp_user_ptr) { char b[] = "a"; return bpf_strcasecmp(b, USER_PTR); }
CASE(strcasecmp_noncanonical) { char b[] = "a"; return bpf_strcasecmp(NONCANONICAL_PTR, b); }
CASE(strcasecmp_unmapped) { char b[] = "a"; return bpf_strcasecmp(b, UNMAPPED_PTR); }

/* ---- bpf_strncasecmp --------------------------------------------- */

CASE(strncasecmp_prefix) { char a[] = "Hello world", b[] = "HELLO there"; return bpf_strncasecmp(a, b, 5); }
CASE(strncasecmp_differs) { char a[] = "hello world", b[] = "HELLO KITTY"; return bpf_strncasecmp(a, b, 7); }
CASE(strncasecmp_zero_len) { char a[] = "a", b[] = "b"; return bpf_strncasecmp(a, b, 0); }
CASE(strncasecmp_len_one) { char a[] = "ab", b[] = "AC"; return bpf_strncasecmp(a, b, 1); }
CASE(strncasecmp_len_beyond_strings) { char a[] = "abc", b[] = "ABC"; return bpf_strncasecmp(a, b, 100); }
CASE(strncasecmp_shorter_within_len) { char a[] = "ab", b[] = "abc"; return bpf_strncasecmp(a, b, 3); }
CASE(strncasecmp_huge_len) { char a[] = "Same", b[] = "sAME"; return bpf_strncasecmp(a, b, (size_t)-1); }
CASE(strncasecmp_latin1_fold) { char a[] = "\xde!", b[] = "\xfe?"; return bpf_strncasecmp(a, b, 1); }
CASE(strncasecmp_unterminated_65535) { return bpf_strncasecmp(no_nul, no_nul, 65535); }
CASE(strncasecmp_unterminated_limit) { return bpf_strncasecmp(no_nul, no_nul, 65536); }
CASE(strncasecmp_unterminated_huge) { return bpf_strncasecmp(no_nul, no_nul, (size_t)-1); }
CASE(strncasecmp_null_zero_len) { char b[] = "a"; return bpf_strncasecmp((const char *)0, b, 0); }
CASE(strncasecmp_null) { char b[] = "a"; return bpf_strncasecmp(b, (const char *)0, 1); }
CASE(strncasecmp_rodata) { char b[] = "HELLO"; return bpf_strncasecmp(ro_hello, b, 5); }
CASE(strncasecmp_user_ptr) { char b[] = "a"; return bpf_strncasecmp(USER_PTR, b, 1); }
CASE(strncasecmp_noncanonical) { char b[] = "a"; return bpf_strncasecmp(b, NONCANONICAL_PTR, 1); }
CASE(strncasecmp_unmapped) { char b[] = "a"; return bpf_strncasecmp(b, UNMAPPED_PTR, 1); }

/* ---- bpf_strchr -------------------------------------------------- */

CASE(strchr_found) { char s[] = "hello"; return bpf_strchr(s, 'l'); }
CASE(strchr_first) { char s[] = "hello"; return bpf_strchr(s, 'h'); }
CASE(strchr_last) { char s[] = "hello"; return bpf_strchr(s, 'o'); }
CASE(strchr_missing) { char s[] = "hello"; return bpf_strchr(s, 'z'); }
CASE(strchr_terminator) { char s[] = "hello"; return bpf_strchr(s, '\0'); }
CASE(strchr_empty_terminator) { char s[] = ""; return bpf_strchr(s, '\0'); }
CASE(strchr_empty_missing) { char s[] = ""; return bpf_strchr(s, 'a'); }
CASE(strchr_high_byte) { char s[] = "a\xe9" "b"; return bpf_strchr(s, (char)0xe9); }
CASE(strchr_case_sensitive) { char s[] = "Hello"; return bpf_strchr(s, 'h'); }
CASE(strchr_too_long) { return bpf_strchr(no_nul, 'z'); }
CASE(strchr_unterminated_found) { return bpf_strchr(no_nul, 'a'); }
CASE(strchr_longest_terminator) { return bpf_strchr(longest, '\0'); }
CASE(strchr_null) { return bpf_strchr((const char *)0, 'a'); }
CASE(strchr_rodata) { return bpf_strchr(ro_hello, 'l'); }
CASE(strchr_user_ptr) { return bpf_strchr(USER_PTR, 'a'); }
CASE(strchr_noncanonical) { return bpf_strchr(NONCANONICAL_PTR, 'a'); }
CASE(strchr_unmapped) { return bpf_strchr(UNMAPPED_PTR, 'a'); }

/* ---- bpf_strchrnul ----------------------------------------------- */

CASE(strchrnul_found) { char s[] = "hello"; return bpf_strchrnul(s, 'e'); }
CASE(strchrnul_first) { char s[] = "hello"; return bpf_strchrnul(s, 'h'); }
CASE(strchrnul_missing) { char s[] = "hello"; return bpf_strchrnul(s, 'z'); }
CASE(strchrnul_terminator) { char s[] = "hello"; return bpf_strchrnul(s, '\0'); }
CASE(strchrnul_empty) { char s[] = ""; return bpf_strchrnul(s, 'a'); }
CASE(strchrnul_high_byte) { char s[] = "ab\xff"; return bpf_strchrnul(s, (char)0xff); }
CASE(strchrnul_case_sensitive) { char s[] = "aBc"; return bpf_strchrnul(s, 'b'); }
CASE(strchrnul_too_long) { return bpf_strchrnul(no_nul, 'z'); }
CASE(strchrnul_longest_missing) { return bpf_strchrnul(longest, 'z'); }
CASE(strchrnul_longest_last) { return bpf_strchrnul(longest_b, 'b'); }
CASE(strchrnul_null) { return bpf_strchrnul((const char *)0, 'a'); }
CASE(strchrnul_rodata) { return bpf_strchrnul(ro_hello, 'z'); }
CASE(strchrnul_user_ptr) { return bpf_strchrnul(USER_PTR, 'a'); }
CASE(strchrnul_noncanonical) { return bpf_strchrnul(NONCANONICAL_PTR, 'a'); }
CASE(strchrnul_unmapped) { return bpf_strchrnul(UNMAPPED_PTR, 'a'); }

/* ---- bpf_strnchr ------------------------------------------------- */

CASE(strnchr_found) { char s[] = "hello"; return bpf_strnchr(s, 5, 'o'); }
CASE(strnchr_beyond_count) { char s[] = "hello"; return bpf_strnchr(s, 3, 'o'); }
CASE(strnchr_count_zero) { char s[] = "hello"; return bpf_strnchr(s, 0, 'h'); }
CASE(strnchr_count_one) { char s[] = "hello"; return bpf_strnchr(s, 1, 'h'); }
CASE(strnchr_terminator_within) { char s[] = "hello"; return bpf_strnchr(s, 10, '\0'); }
CASE(strnchr_terminator_at_count) { char s[] = "hello"; return bpf_strnchr(s, 5, '\0'); }
CASE(strnchr_stops_at_nul) { char s[] = "ab\0c"; return bpf_strnchr(s, 4, 'c'); }
CASE(strnchr_huge_count) { char s[] = "hello"; return bpf_strnchr(s, (size_t)-1, 'o'); }
CASE(strnchr_high_byte) { char s[] = "a\x80"; return bpf_strnchr(s, 2, (char)0x80); }
CASE(strnchr_unterminated_limit) { return bpf_strnchr(no_nul, 65536, 'z'); }
CASE(strnchr_unterminated_65535) { return bpf_strnchr(no_nul, 65535, 'z'); }
CASE(strnchr_null_zero_count) { return bpf_strnchr((const char *)0, 0, 'a'); }
CASE(strnchr_unmapped_zero_count) { return bpf_strnchr(UNMAPPED_PTR, 0, 'a'); }
CASE(strnchr_null) { return bpf_strnchr((const char *)0, 5, 'a'); }
CASE(strnchr_rodata) { return bpf_strnchr(ro_hello, 5, 'o'); }
CASE(strnchr_user_ptr) { return bpf_strnchr(USER_PTR, 5, 'a'); }
CASE(strnchr_noncanonical) { return bpf_strnchr(NONCANONICAL_PTR, 5, 'a'); }
CASE(strnchr_unmapped) { return bpf_strnchr(UNMAPPED_PTR, 5, 'a'); }

/* ---- bpf_strrchr ------------------------------------------------- */

CASE(strrchr_found) { char s[] = "hello"; return bpf_strrchr(s, 'l'); }
CASE(strrchr_single) { char s[] = "hello"; return bpf_strrchr(s, 'h'); }
CASE(strrchr_missing) { char s[] = "hello"; return bpf_strrchr(s, 'z'); }
CASE(strrchr_terminator) { char s[] = "hello"; return bpf_strrchr(s, 0); }
CASE(strrchr_empty_terminator) { char s[] = ""; return bpf_strrchr(s, 0); }
CASE(strrchr_wide_int) { char s[] = "hello"; return bpf_strrchr(s, 'l' + 256); }
CASE(strrchr_high_byte) { char s[] = "a\xe9" "b\xe9" "c"; return bpf_strrchr(s, 0xe9); }
CASE(strrchr_negative_int) { char s[] = "a\xe9" "b"; return bpf_strrchr(s, -23); }
CASE(strrchr_too_long) { return bpf_strrchr(no_nul, 'a'); }
CASE(strrchr_longest_last) { return bpf_strrchr(longest, 'a'); }
CASE(strrchr_null) { return bpf_strrchr((const char *)0, 'a'); }
CASE(strrchr_rodata) { return bpf_strrchr(ro_hello, 'l'); }
CASE(strrchr_user_ptr) { return bpf_strrchr(USER_PTR, 'a'); }
CASE(strrchr_noncanonical) { return bpf_strrchr(NONCANONICAL_PTR, 'a'); }
CASE(strrchr_unmapped) { return bpf_strrchr(UNMAPPED_PTR, 'a'); }

/* ---- bpf_strlen -------------------------------------------------- */

CASE(strlen_basic) { char s[] = "hello"; return bpf_strlen(s); }
CASE(strlen_empty) { char s[] = ""; return bpf_strlen(s); }
CASE(strlen_one) { char s[] = "x"; return bpf_strlen(s); }
CASE(strlen_high_bytes) { char s[] = "\xff\x80"; return bpf_strlen(s); }
CASE(strlen_embedded_nul) { char s[] = "ab\0cd"; return bpf_strlen(s); }
CASE(strlen_longest) { return bpf_strlen(longest); }
CASE(strlen_too_long) { return bpf_strlen(no_nul); }
CASE(strlen_null) { return bpf_strlen((const char *)0); }
CASE(strlen_rodata) { return bpf_strlen(ro_hello); }
CASE(strlen_user_ptr) { return bpf_strlen(USER_PTR); }
CASE(strlen_noncanonical) { return bpf_strlen(NONCANONICAL_PTR); }
CASE(strlen_unmapped) { return bpf_strlen(UNMAPPED_PTR); }

/* ---- bpf_strnlen ------------------------------------------------- */

CASE(strnlen_short) { char s[] = "hello"; return bpf_strnlen(s, 10); }
CASE(strnlen_limited) { char s[] = "hello"; return bpf_strnlen(s, 3); }
CASE(strnlen_exact) { char s[] = "hello"; return bpf_strnlen(s, 5); }
CASE(strnlen_zero) { char s[] = "hello"; return bpf_strnlen(s, 0); }
CASE(strnlen_empty) { char s[] = ""; return bpf_strnlen(s, 5); }
CASE(strnlen_huge_count) { char s[] = "hello"; return bpf_strnlen(s, (size_t)-1); }
CASE(strnlen_unterminated_65535) { return bpf_strnlen(no_nul, 65535); }
CASE(strnlen_unterminated_limit) { return bpf_strnlen(no_nul, 65536); }
CASE(strnlen_unterminated_huge) { return bpf_strnlen(no_nul, (size_t)-1); }
CASE(strnlen_longest_huge) { return bpf_strnlen(longest, (size_t)-1); }
CASE(strnlen_null_zero) { return bpf_strnlen((const char *)0, 0); }
CASE(strnlen_unmapped_zero) { return bpf_strnlen(UNMAPPED_PTR, 0); }
CASE(strnlen_null) { return bpf_strnlen((const char *)0, 5); }
CASE(strnlen_rodata) { return bpf_strnlen(ro_hello, 3); }
CASE(strnlen_user_ptr) { return bpf_strnlen(USER_PTR, 5); }
CASE(strnlen_noncanonical) { return bpf_strnlen(NONCANONICAL_PTR, 5); }
CASE(strnlen_unmapped) { return bpf_strnlen(UNMAPPED_PTR, 5); }

/* ---- bpf_strspn -------------------------------------------------- */

CASE(strspn_basic) { char s[] = "aaab", a[] = "a"; return bpf_strspn(s, a); }
CASE(strspn_all) { char s[] = "abcabc", a[] = "cba"; return bpf_strspn(s, a); }
CASE(strspn_none) { char s[] = "xyz", a[] = "abc"; return bpf_strspn(s, a); }
CASE(strspn_empty_s) { char s[] = "", a[] = "abc"; return bpf_strspn(s, a); }
CASE(strspn_empty_accept) { char s[] = "abc", a[] = ""; return bpf_strspn(s, a); }
CASE(strspn_high_bytes) { char s[] = "\xe9\xe9x", a[] = "\xe9"; return bpf_strspn(s, a); }
CASE(strspn_repeated_accept) { char s[] = "aab", a[] = "aaaa"; return bpf_strspn(s, a); }
CASE(strspn_case_sensitive) { char s[] = "aA", a[] = "a"; return bpf_strspn(s, a); }
CASE(strspn_accept_unterminated_unused) { char s[] = "a"; return bpf_strspn(s, no_nul); }
CASE(strspn_accept_too_long) { char s[] = "x"; return bpf_strspn(s, no_nul); }
CASE(strspn_s_too_long) { char a[] = "a"; return bpf_strspn(no_nul, a); }
CASE(strspn_null) { char a[] = "a"; return bpf_strspn(a, (const char *)0); }
CASE(strspn_rodata) { char a[] = "leh"; return bpf_strspn(ro_hello, a); }
CASE(strspn_user_ptr) { char a[] = "a"; return bpf_strspn(USER_PTR, a); }
CASE(strspn_noncanonical) { char a[] = "a"; return bpf_strspn(a, NONCANONICAL_PTR); }
CASE(strspn_unmapped) { char a[] = "a"; return bpf_strspn(a, UNMAPPED_PTR); }

/* ---- bpf_strcspn ------------------------------------------------- */

CASE(strcspn_basic) { char s[] = "hello", r[] = "l"; return bpf_strcspn(s, r); }
CASE(strcspn_none) { char s[] = "hello", r[] = "xyz"; return bpf_strcspn(s, r); }
CASE(strcspn_first) { char s[] = "hello", r[] = "h"; return bpf_strcspn(s, r); }
CASE(strcspn_empty_reject) { char s[] = "hello", r[] = ""; return bpf_strcspn(s, r); }
CASE(strcspn_empty_s) { char s[] = "", r[] = "abc"; return bpf_strcspn(s, r); }
CASE(strcspn_multi) { char s[] = "hello world", r[] = " o"; return bpf_strcspn(s, r); }
CASE(strcspn_high_byte) { char s[] = "ab\xe9", r[] = "\xe9"; return bpf_strcspn(s, r); }
CASE(strcspn_reject_too_long) { char s[] = "x"; return bpf_strcspn(s, no_nul); }
CASE(strcspn_empty_s_reject_unterminated) { char s[] = ""; return bpf_strcspn(s, no_nul); }
CASE(strcspn_s_too_long) { char r[] = "b"; return bpf_strcspn(no_nul, r); }
CASE(strcspn_null) { char r[] = "a"; return bpf_strcspn((const char *)0, r); }
CASE(strcspn_rodata) { char r[] = "l"; return bpf_strcspn(ro_hello, r); }
CASE(strcspn_user_ptr) { char r[] = "a"; return bpf_strcspn(r, USER_PTR); }
CASE(strcspn_noncanonical) { char r[] = "a"; return bpf_strcspn(NONCANONICAL_PTR, r); }
CASE(strcspn_unmapped) { char r[] = "a"; return bpf_strcspn(UNMAPPED_PTR, r); }

/* ---- bpf_strstr -------------------------------------------------- */

CASE(strstr_found) { char s[] = "hello world", n[] = "world"; return bpf_strstr(s, n); }
CASE(strstr_at_start) { char s[] = "hello", n[] = "he"; return bpf_strstr(s, n); }
CASE(strstr_at_end) { char s[] = "hello", n[] = "lo"; return bpf_strstr(s, n); }
CASE(strstr_missing) { char s[] = "hello", n[] = "xyz"; return bpf_strstr(s, n); }
CASE(strstr_empty_needle) { char s[] = "hello", n[] = ""; return bpf_strstr(s, n); }
CASE(strstr_both_empty) { char s[] = "", n[] = ""; return bpf_strstr(s, n); }
CASE(strstr_empty_haystack) { char s[] = "", n[] = "a"; return bpf_strstr(s, n); }
CASE(strstr_needle_longer) { char s[] = "ab", n[] = "abc"; return bpf_strstr(s, n); }
CASE(strstr_overlap) { char s[] = "aaab", n[] = "aab"; return bpf_strstr(s, n); }
CASE(strstr_case_sensitive) { char s[] = "Hello", n[] = "hello"; return bpf_strstr(s, n); }
CASE(strstr_haystack_too_long) { char n[] = "b"; return bpf_strstr(no_nul, n); }
CASE(strstr_needle_unterminated) { char s[] = "aaa"; return bpf_strstr(s, no_nul); }
CASE(strstr_needle_too_long) { return bpf_strstr(no_nul, no_nul); }
CASE(strstr_null) { char s[] = "a"; return bpf_strstr(s, (const char *)0); }
CASE(strstr_rodata) { char n[] = "llo"; return bpf_strstr(ro_hello, n); }
CASE(strstr_user_ptr) { char s[] = "a"; return bpf_strstr(s, USER_PTR); }
CASE(strstr_noncanonical) { char n[] = "a"; return bpf_strstr(NONCANONICAL_PTR, n); }
CASE(strstr_unmapped) { char s[] = "a"; return bpf_strstr(s, UNMAPPED_PTR); }

/* ---- bpf_strnstr ------------------------------------------------- */

CASE(strnstr_ends_at_len) { char s[] = "hello world", n[] = "world"; return bpf_strnstr(s, n, 11); }
CASE(strnstr_cut_by_len) { char s[] = "hello world", n[] = "world"; return bpf_strnstr(s, n, 10); }
CASE(strnstr_len_zero) { char s[] = "hello", n[] = "he"; return bpf_strnstr(s, n, 0); }
CASE(strnstr_len_zero_empty_needle) { char s[] = "hello", n[] = ""; return bpf_strnstr(s, n, 0); }
CASE(strnstr_len_one) { char s[] = "hello", n[] = "h"; return bpf_strnstr(s, n, 1); }
CASE(strnstr_huge_len) { char s[] = "hello world", n[] = "world"; return bpf_strnstr(s, n, (size_t)-1); }
CASE(strnstr_needle_longer_than_len) { char s[] = "abc", n[] = "abc"; return bpf_strnstr(s, n, 2); }
CASE(strnstr_empty_needle) { char s[] = "abc", n[] = ""; return bpf_strnstr(s, n, 2); }
CASE(strnstr_len_beyond_haystack) { char s[] = "abc", n[] = "c"; return bpf_strnstr(s, n, 100); }
CASE(strnstr_overlap) { char s[] = "aaab", n[] = "aab"; return bpf_strnstr(s, n, 4); }
CASE(strnstr_too_long) { char n[] = "b"; return bpf_strnstr(no_nul, n, (size_t)-1); }
CASE(strnstr_null) { char s[] = "a"; return bpf_strnstr((const char *)0, s, 1); }
CASE(strnstr_rodata) { char n[] = "llo"; return bpf_strnstr(ro_hello, n, 5); }
CASE(strnstr_user_ptr) { char s[] = "a"; return bpf_strnstr(s, USER_PTR, 1); }
CASE(strnstr_noncanonical) { char s[] = "a"; return bpf_strnstr(NONCANONICAL_PTR, s, 1); }
CASE(strnstr_unmapped) { char s[] = "a"; return bpf_strnstr(UNMAPPED_PTR, s, 1); }

/* ---- bpf_strcasestr ---------------------------------------------- */

CASE(strcasestr_found) { char s[] = "Hello World", n[] = "WORLD"; return bpf_strcasestr(s, n); }
CASE(strcasestr_at_start) { char s[] = "HeLLo", n[] = "hello"; return bpf_strcasestr(s, n); }
CASE(strcasestr_missing) { char s[] = "hello", n[] = "xyz"; return bpf_strcasestr(s, n); }
CASE(strcasestr_empty_needle) { char s[] = "abc", n[] = ""; return bpf_strcasestr(s, n); }
CASE(strcasestr_empty_haystack) { char s[] = "", n[] = "A"; return bpf_strcasestr(s, n); }
CASE(strcasestr_overlap) { char s[] = "AaAB", n[] = "aab"; return bpf_strcasestr(s, n); }
CASE(strcasestr_latin1_fold) { char s[] = "x\xc0y", n[] = "\xe0"; return bpf_strcasestr(s, n); }
CASE(strcasestr_no_fold_symbols) { char s[] = "a[b", n[] = "{"; return bpf_strcasestr(s, n); }
CASE(strcasestr_haystack_too_long) { char n[] = "B"; return bpf_strcasestr(no_nul, n); }
CASE(strcasestr_needle_too_long) { return bpf_strcasestr(no_nul, no_nul); }
CASE(strcasestr_null) { char s[] = "a"; return bpf_strcasestr(s, (const char *)0); }
CASE(strcasestr_rodata) { char n[] = "LLO"; return bpf_strcasestr(ro_hello, n); }
CASE(strcasestr_user_ptr) { char s[] = "a"; return bpf_strcasestr(USER_PTR, s); }
CASE(strcasestr_noncanonical) { char s[] = "a"; return bpf_strcasestr(s, NONCANONICAL_PTR); }
CASE(strcasestr_unmapped) { char s[] = "a"; return bpf_strcasestr(UNMAPPED_PTR, s); }

/* ---- bpf_strncasestr --------------------------------------------- */

CASE(strncasestr_ends_at_len) { char s[] = "Hello World", n[] = "world"; return bpf_strncasestr(s, n, 11); }
CASE(strncasestr_cut_by_len) { char s[] = "Hello World", n[] = "world"; return bpf_strncasestr(s, n, 10); }
CASE(strncasestr_len_zero) { char s[] = "hello", n[] = "H"; return bpf_strncasestr(s, n, 0); }
CASE(strncasestr_len_zero_empty_needle) { char s[] = "hello", n[] = ""; return bpf_strncasestr(s, n, 0); }
CASE(strncasestr_len_one) { char s[] = "Hello", n[] = "h"; return bpf_strncasestr(s, n, 1); }
CASE(strncasestr_huge_len) { char s[] = "ABC", n[] = "c"; return bpf_strncasestr(s, n, (size_t)-1); }
CASE(strncasestr_needle_longer_than_len) { char s[] = "abc", n[] = "ABC"; return bpf_strncasestr(s, n, 2); }
CASE(strncasestr_overlap) { char s[] = "AAAB", n[] = "aab"; return bpf_strncasestr(s, n, 4); }
CASE(strncasestr_latin1_fold) { char s[] = "\xc0", n[] = "\xe0"; return bpf_strncasestr(s, n, 1); }
CASE(strncasestr_too_long) { char n[] = "B"; return bpf_strncasestr(no_nul, n, (size_t)-1); }
CASE(strncasestr_null) { char s[] = "a"; return bpf_strncasestr((const char *)0, s, 1); }
CASE(strncasestr_rodata) { char n[] = "LLO"; return bpf_strncasestr(ro_hello, n, 5); }
CASE(strncasestr_user_ptr) { char s[] = "a"; return bpf_strncasestr(s, USER_PTR, 1); }
CASE(strncasestr_noncanonical) { char s[] = "a"; return bpf_strncasestr(s, NONCANONICAL_PTR, 1); }
CASE(strncasestr_unmapped) { char s[] = "a"; return bpf_strncasestr(s, UNMAPPED_PTR, 1); }
