#include "kfuncforge_compat.h"
#include <net/sock.h>

int demo_kill_init(void) { return 0; }
void demo_kill_exit(void) { }

__bpf_kfunc_start_defs();
__bpf_kfunc int bpf_demo_kill(struct sock_common *sock)
{
	return sock ? 0 : -EINVAL;
}
__bpf_kfunc_end_defs();
