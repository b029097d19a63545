/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the iterator programs of the smoke and fidelity suites: destroy
 * every socket whose local port is target_port (host byte order; the agent
 * sets it in .rodata before load, 0 matches no socket) and leave the outcome
 * in .bss: destroyed counts calls that returned 0, last_err keeps the last
 * non-zero result.
 */
#ifndef KFUNC_SOCK_DESTROY_BY_PORT_H
#define KFUNC_SOCK_DESTROY_BY_PORT_H

#include "sock_iter.h"

volatile const __u16 target_port;
__u64 destroyed;
int last_err;

static __always_inline void destroy(struct sock_common *skc)
{
	int err;

	if (!skc || skc->skc_num != target_port)
		return;
	err = bpf_sock_destroy(skc);
	if (err)
		last_err = err;
	else
		__sync_fetch_and_add(&destroyed, 1);
}

#endif
