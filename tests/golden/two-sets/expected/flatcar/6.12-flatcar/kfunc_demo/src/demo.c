#include "kfuncforge_compat.h"
#include "demo.h"

__bpf_kfunc_start_defs();
__bpf_kfunc int bpf_demo_add(int a, int b)
{
	return demo_sum(a, b);
}
__bpf_kfunc_end_defs();
