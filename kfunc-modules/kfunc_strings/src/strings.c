// SPDX-License-Identifier: GPL-2.0
/*
 * Read-only string kfuncs for kernels that predate them (upstream: 6.17+).
 *
 * The BPF program hands us pointers we must not trust: a string may be
 * unterminated, may sit in unmapped memory, or may be a user address. So
 * every byte is fetched with __get_kernel_nofault() while page faults are
 * disabled, every walk stops after KF_STR_LIMIT bytes, and a pointer is
 * refused up front when the kernel would refuse to read it as kernel
 * memory. The results follow upstream's documented contract:
 *
 *   >= 0     an index, a length, or a comparison result (-1/0/1)
 *   -ENOENT  the character or substring is not there
 *   -EFAULT  reading one of the strings faulted
 *   -E2BIG   a string is longer than KF_STR_LIMIT
 *   -ERANGE  a pointer lies outside the kernel address space
 *
 * Characters are compared as unsigned char. Upstream gets that from
 * -funsigned-char (every kernel since 6.2); 6.1 builds with a signed char,
 * so the conversion is spelled out here to give the same answers on both.
 */
#include "kfuncforge_compat.h"

#include <linux/bitops.h>
#include <linux/ctype.h>
#include <linux/limits.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#ifdef CONFIG_X86_64
#include <asm/page.h>
#include <asm/processor.h>
#include <uapi/asm/vsyscall.h>
#endif

/*
 * The walkers below are __always_inline: each kfunc gets its own copy with its
 * mode, bound and case folding constant, and no call between the kfunc and the
 * byte loop (every call and return pays the kernel's return-thunk mitigations).
 */

/* Upstream bounds every walk by the largest extended attribute value. */
#define KF_STR_LIMIT XATTR_SIZE_MAX

/* What kf_chr() looks for. */
enum kf_chr_mode {
	KF_CHR_FIRST,		/* first match, -ENOENT at the terminator */
	KF_CHR_FIRST_OR_END,	/* first match, else the terminator's index */
	KF_CHR_LAST,		/* last match before the terminator */
};

/*
 * Fetches the byte at @p into @out without risking an oops. The caller
 * has called pagefault_disable(), so a missing page ends up at the label
 * instead of in the fault handler.
 */
static __always_inline int kf_byte(const char *p, unsigned char *out)
{
	__get_kernel_nofault(out, p, u8, fault);
	return 0;
fault:
	return -EFAULT;
}

/*
 * True when the kernel refuses to read @p as kernel memory (user space,
 * non-canonical, vsyscall page...): upstream asks
 * copy_from_kernel_nofault_allowed(), which is not exported to modules.
 *
 * x86-64: the same three tests as upstream's arch/x86/mm/maccess.c, inline
 * (user space with its guard page, the vsyscall page, non-canonical
 * addresses). Every string kfunc pays this once per string, so it matters:
 * the probe below costs two calls and a fault-guarded read.
 *
 * Elsewhere: the exported copy_from_kernel_nofault() consults the predicate
 * before anything else and reports a refusal as -ERANGE, which is all we
 * need to know. A fault on the probe itself is not an answer yet: the walk
 * will meet it again in order and report -EFAULT, or never reach it (e.g.
 * a zero count).
 */
#ifdef CONFIG_X86_64
static __always_inline bool kf_outside(const char *p)
{
	unsigned long vaddr = (unsigned long)p;

	if (vaddr < TASK_SIZE_MAX + PAGE_SIZE)
		return true;
	if ((vaddr & PAGE_MASK) == VSYSCALL_ADDR)
		return true;
	return !__is_canonical_address(vaddr, boot_cpu_data.x86_virt_bits);
}
#else
static bool kf_outside(const char *p)
{
	u8 probe;

	return copy_from_kernel_nofault(&probe, p, 1) == -ERANGE;
}
#endif

static __always_inline int kf_compare(const char *a, const char *b, size_t max, bool fold)
{
	unsigned char ca, cb;
	size_t n;
	int ret;

	if (kf_outside(a) || kf_outside(b))
		return -ERANGE;

	pagefault_disable();
	for (n = 0;; n++) {
		if (n == KF_STR_LIMIT) {
			ret = -E2BIG;
			break;
		}
		if (n == max) {
			ret = 0;
			break;
		}
		if (kf_byte(a + n, &ca) || kf_byte(b + n, &cb)) {
			ret = -EFAULT;
			break;
		}
		if (fold) {
			ca = tolower(ca);
			cb = tolower(cb);
		}
		if (ca != cb) {
			ret = ca < cb ? -1 : 1;
			break;
		}
		if (!ca) {
			ret = 0;
			break;
		}
	}
	pagefault_enable();
	return ret;
}

/* @c is the character as an int in 0..255, or any other int for strrchr. */
static __always_inline int kf_chr(const char *s, size_t max, int c, enum kf_chr_mode mode)
{
	int last = -ENOENT;
	unsigned char sc;
	size_t n;
	int ret;

	if (kf_outside(s))
		return -ERANGE;

	pagefault_disable();
	for (n = 0;; n++) {
		if (n == KF_STR_LIMIT) {
			ret = -E2BIG;
			break;
		}
		if (n == max) {
			ret = -ENOENT;
			break;
		}
		if (kf_byte(s + n, &sc)) {
			ret = -EFAULT;
			break;
		}
		if (mode == KF_CHR_LAST) {
			if (sc == c)
				last = n;
			if (!sc) {
				ret = last;
				break;
			}
			continue;
		}
		/* The terminator counts as part of the string: c == 0 finds it. */
		if (sc == c) {
			ret = n;
			break;
		}
		if (!sc) {
			ret = mode == KF_CHR_FIRST_OR_END ? n : -ENOENT;
			break;
		}
	}
	pagefault_enable();
	return ret;
}

static __always_inline int kf_len(const char *s, size_t max)
{
	unsigned char sc;
	size_t n;
	int ret;

	if (kf_outside(s))
		return -ERANGE;

	pagefault_disable();
	for (n = 0;; n++) {
		if (n == KF_STR_LIMIT) {
			ret = -E2BIG;
			break;
		}
		if (n == max) {
			ret = n;
			break;
		}
		if (kf_byte(s + n, &sc)) {
			ret = -EFAULT;
			break;
		}
		if (!sc) {
			ret = n;
			break;
		}
	}
	pagefault_enable();
	return ret;
}

/*
 * Length of the leading run of @s whose characters are in @set (@inside)
 * or not in @set (!@inside). Both strings are bounded by KF_STR_LIMIT.
 *
 * Upstream walks @set from its start for every character of @s, up to the
 * first match or the terminator. Here @set is walked once, only as far as
 * one of those walks would reach, and every byte read is remembered in a
 * 256-bit map: a character already seen is a member without reading @set
 * again. The bytes read are a subset of upstream's (the same positions, in
 * the same order, each once), so the answers, the faults and -E2BIG are
 * the same; the cost per character of @s is one bit test instead of a walk.
 */
static __always_inline int kf_span(const char *s, const char *set, bool inside)
{
	unsigned long seen[256 / BITS_PER_LONG] = {};
	size_t n, scanned = 0;
	bool set_ended = false, member;
	unsigned char sc, mc;
	int ret;

	if (kf_outside(s) || kf_outside(set))
		return -ERANGE;

	pagefault_disable();
	for (n = 0;; n++) {
		if (n == KF_STR_LIMIT) {
			ret = -E2BIG;
			goto out;
		}
		if (kf_byte(s + n, &sc))
			goto fault;
		if (!sc) {
			ret = n;
			goto out;
		}
		/* Read on in the set only while sc has not been seen there yet. */
		member = test_bit(sc, seen);
		while (!member && !set_ended) {
			if (scanned == KF_STR_LIMIT) {
				ret = -E2BIG;
				goto out;
			}
			if (kf_byte(set + scanned, &mc))
				goto fault;
			scanned++;
			if (!mc) {
				set_ended = true;
			} else {
				__set_bit(mc, seen);
				member = mc == sc;
			}
		}
		if (inside != member) {
			ret = n;
			goto out;
		}
	}
fault:
	ret = -EFAULT;
out:
	pagefault_enable();
	return ret;
}

/*
 * Index of the first place where all of @needle occurs inside the first
 * @max characters of @hay. An empty needle is found at 0.
 */
static __always_inline int kf_find(const char *hay, const char *needle, size_t max, bool fold)
{
	unsigned char hc, nc;
	size_t at, k;
	int ret;

	if (kf_outside(hay) || kf_outside(needle))
		return -ERANGE;

	pagefault_disable();
	for (at = 0; at < KF_STR_LIMIT; at++) {
		for (k = 0;; k++) {
			if (k == KF_STR_LIMIT) {
				ret = -E2BIG;
				goto out;
			}
			if (kf_byte(needle + k, &nc))
				goto fault;
			if (!nc) {
				ret = at;	/* every needle byte matched */
				goto out;
			}
			/* The next needle byte would fall beyond the window. */
			if (at + k == max) {
				ret = -ENOENT;
				goto out;
			}
			if (kf_byte(hay + at + k, &hc))
				goto fault;
			if (fold) {
				hc = tolower(hc);
				nc = tolower(nc);
			}
			if (!hc) {
				ret = -ENOENT;	/* hay ended before the needle */
				goto out;
			}
			if (hc != nc)
				break;
		}
	}
	ret = -E2BIG;
	goto out;
fault:
	ret = -EFAULT;
out:
	pagefault_enable();
	return ret;
}

__bpf_kfunc_start_defs();

__bpf_kfunc int bpf_strcmp(const char *s1__ign, const char *s2__ign)
{
	return kf_compare(s1__ign, s2__ign, KF_STR_LIMIT, false);
}

__bpf_kfunc int bpf_strcasecmp(const char *s1__ign, const char *s2__ign)
{
	return kf_compare(s1__ign, s2__ign, KF_STR_LIMIT, true);
}

__bpf_kfunc int bpf_strncasecmp(const char *s1__ign, const char *s2__ign, size_t len)
{
	return kf_compare(s1__ign, s2__ign, len, true);
}

__bpf_kfunc int bpf_strnchr(const char *s__ign, size_t count, char c)
{
	return kf_chr(s__ign, count, (unsigned char)c, KF_CHR_FIRST);
}

__bpf_kfunc int bpf_strchr(const char *s__ign, char c)
{
	return kf_chr(s__ign, KF_STR_LIMIT, (unsigned char)c, KF_CHR_FIRST);
}

__bpf_kfunc int bpf_strchrnul(const char *s__ign, char c)
{
	return kf_chr(s__ign, KF_STR_LIMIT, (unsigned char)c, KF_CHR_FIRST_OR_END);
}

/* Takes an int like upstream: values outside 0..255 never match. */
__bpf_kfunc int bpf_strrchr(const char *s__ign, int c)
{
	return kf_chr(s__ign, KF_STR_LIMIT, c, KF_CHR_LAST);
}

__bpf_kfunc int bpf_strnlen(const char *s__ign, size_t count)
{
	return kf_len(s__ign, count);
}

__bpf_kfunc int bpf_strlen(const char *s__ign)
{
	return kf_len(s__ign, KF_STR_LIMIT);
}

__bpf_kfunc int bpf_strspn(const char *s__ign, const char *accept__ign)
{
	return kf_span(s__ign, accept__ign, true);
}

__bpf_kfunc int bpf_strcspn(const char *s__ign, const char *reject__ign)
{
	return kf_span(s__ign, reject__ign, false);
}

__bpf_kfunc int bpf_strnstr(const char *s1__ign, const char *s2__ign, size_t len)
{
	return kf_find(s1__ign, s2__ign, len, false);
}

__bpf_kfunc int bpf_strstr(const char *s1__ign, const char *s2__ign)
{
	return kf_find(s1__ign, s2__ign, KF_STR_LIMIT, false);
}

__bpf_kfunc int bpf_strncasestr(const char *s1__ign, const char *s2__ign, size_t len)
{
	return kf_find(s1__ign, s2__ign, len, true);
}

__bpf_kfunc int bpf_strcasestr(const char *s1__ign, const char *s2__ign)
{
	return kf_find(s1__ign, s2__ign, KF_STR_LIMIT, true);
}

__bpf_kfunc_end_defs();
