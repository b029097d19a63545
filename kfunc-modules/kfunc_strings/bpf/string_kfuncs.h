/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by the kfunc_strings BPF programs: the kfuncs as
 * __ksym externs (libbpf resolves them in vmlinux BTF first, then in module
 * BTF, so the same object runs against the native kfuncs on 6.17+ and
 * against this module on older kernels) and the errno values the tests
 * expect, so no kernel header is needed.
 *
 * The programs are tc (sched_cls) programs, run with BPF_PROG_TEST_RUN on
 * a dummy packet of at least 14 bytes: that type accepts "repeat" (the load
 * profile needs it) and works with "bpftool prog run". Syscall programs
 * would not: their test run rejects any repeat value, and bpftool always
 * sends repeat=1.
 */
#ifndef KFUNC_STRINGS_BPF_H
#define KFUNC_STRINGS_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef unsigned long size_t;

extern int bpf_strcmp(const char *s1__ign, const char *s2__ign) __ksym;
extern int bpf_strcasecmp(const char *s1__ign, const char *s2__ign) __ksym;
extern int bpf_strncasecmp(const char *s1__ign, const char *s2__ign, size_t len) __ksym;
extern int bpf_strchr(const char *s__ign, char c) __ksym;
extern int bpf_strchrnul(const char *s__ign, char c) __ksym;
extern int bpf_strnchr(const char *s__ign, size_t count, char c) __ksym;
extern int bpf_strrchr(const char *s__ign, int c) __ksym;
extern int bpf_strlen(const char *s__ign) __ksym;
extern int bpf_strnlen(const char *s__ign, size_t count) __ksym;
extern int bpf_strspn(const char *s__ign, const char *accept__ign) __ksym;
extern int bpf_strcspn(const char *s__ign, const char *reject__ign) __ksym;
extern int bpf_strstr(const char *s1__ign, const char *s2__ign) __ksym;
extern int bpf_strnstr(const char *s1__ign, const char *s2__ign, size_t len) __ksym;
extern int bpf_strcasestr(const char *s1__ign, const char *s2__ign) __ksym;
extern int bpf_strncasestr(const char *s1__ign, const char *s2__ign, size_t len) __ksym;

#define KF_ENOENT 2
#define KF_E2BIG 7
#define KF_EFAULT 14
#define KF_ERANGE 34

/* The kfuncs' upper bound on string length (XATTR_SIZE_MAX). */
#define KF_STR_LIMIT 65536

#endif
