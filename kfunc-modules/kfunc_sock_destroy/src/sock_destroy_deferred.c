// SPDX-License-Identifier: GPL-2.0
/*
 * bpf_sock_destroy for kernels before 6.5, with the abort deferred.
 *
 * Upstream (6.5) calls sk->sk_prot->diag_destroy(sk, ECONNABORTED) right
 * away from a TCP or UDP socket iterator, which works because 6.5 also
 * taught tcp_abort()/udp_abort() to skip lock_sock() when called from BPF
 * and rewrote the UDP iterator. On older kernels the iterators still hold
 * what the abort functions take: the TCP iterator owns the socket lock
 * (lock_sock) while the program runs, and the UDP iterator holds the hash
 * bucket spinlock with bottom halves disabled. A synchronous abort there
 * deadlocks, or sleeps in atomic context.
 *
 * So this kfunc only validates the socket, takes a reference and queues a
 * job; a private workqueue later calls diag_destroy in process context
 * with no iterator lock held, exactly as the sock_diag netlink path does,
 * then drops the reference. The abort is therefore visible shortly after
 * the program returns rather than when it returns. Module exit drains the
 * queue. The template calls kfuncforge_kfunc_sock_destroy_init() before
 * registering the kfunc and kfuncforge_kfunc_sock_destroy_exit() on unload
 * (or when registration fails).
 */
#include "kfuncforge_compat.h"

#include <linux/in.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/inet_sock.h>
#include <net/sock.h>
#include <net/tcp_states.h>

struct kf_sockd_job {
	struct work_struct work;
	struct sock *sk;
};

static struct workqueue_struct *kf_sockd_wq;

static void kf_sockd_run(struct work_struct *work)
{
	struct kf_sockd_job *job = container_of(work, struct kf_sockd_job, work);
	struct sock *sk = job->sk;
	int (*destroy)(struct sock *sk, int err);
	int err = -EOPNOTSUPP;

	/* sk_prot may have been swapped (e.g. sockmap) since it was queued. */
	destroy = READ_ONCE(sk->sk_prot)->diag_destroy;
	if (destroy)
		err = destroy(sk, ECONNABORTED);
	if (err)
		pr_debug("kfunc_sock_destroy: deferred abort of %p: %d\n", sk, err);

	sock_put(sk);
	kfree(job);
}

int kfuncforge_kfunc_sock_destroy_init(void);
void kfuncforge_kfunc_sock_destroy_exit(void);

int kfuncforge_kfunc_sock_destroy_init(void)
{
	/* Unbound: the jobs sleep in lock_sock() and need not stay on the CPU that queued them. */
	kf_sockd_wq = alloc_workqueue("kfunc_sock_destroy", WQ_UNBOUND, 0);
	return kf_sockd_wq ? 0 : -ENOMEM;
}

void kfuncforge_kfunc_sock_destroy_exit(void)
{
	struct workqueue_struct *wq = kf_sockd_wq;

	if (!wq)
		return;
	/*
	 * Nothing can queue any more: a loaded BPF program that calls the
	 * kfunc holds a reference on this module, so exit runs only after the
	 * last such program is gone. Run what is left, then free the queue.
	 */
	WRITE_ONCE(kf_sockd_wq, NULL);
	drain_workqueue(wq);
	destroy_workqueue(wq);
}

__bpf_kfunc_start_defs();

/*
 * Returns 0 when the abort was queued, -EOPNOTSUPP for anything but a full
 * TCP or UDP socket with a destroy handler (upstream's rule, plus mini
 * sockets: TIME_WAIT and request sockets carry only struct sock_common),
 * -ENOENT for a TCP socket that is already closed (what tcp_abort() would
 * answer) or one whose last reference is going away, -ENOMEM when no job
 * can be allocated. The result of the abort itself is not returned.
 */
__bpf_kfunc int bpf_sock_destroy(struct sock_common *sock)
{
	struct sock *sk = (struct sock *)sock;
	struct workqueue_struct *wq;
	struct kf_sockd_job *job;

	/* Only fields of struct sock_common are safe to read before this. */
	if (!sk_fullsock(sk))
		return -EOPNOTSUPP;
	if (!READ_ONCE(sk->sk_prot)->diag_destroy ||
	    (sk->sk_protocol != IPPROTO_TCP && sk->sk_protocol != IPPROTO_UDP))
		return -EOPNOTSUPP;
	if (sk->sk_protocol == IPPROTO_TCP && inet_sk_state_load(sk) == TCP_CLOSE)
		return -ENOENT;

	wq = READ_ONCE(kf_sockd_wq);
	if (unlikely(!wq)) {
		/* Not WARN: a program must not be able to panic a panic_on_warn box. */
		pr_warn_once("kfunc_sock_destroy: init hook did not run; refusing\n");
		return -EOPNOTSUPP;
	}

	/*
	 * Inside the iterators the socket is pinned: the TCP iterator's batch
	 * holds a reference, and the UDP iterator holds the bucket lock of a
	 * hashed socket, which the hash table holds a reference on. Other
	 * tracing programs can pass any socket pointer they see (6.1 has no
	 * kfunc filter), so refuse one whose last reference is already gone.
	 */
	if (!refcount_inc_not_zero(&sk->sk_refcnt))
		return -ENOENT;

	/* The UDP iterator runs this under a spinlock with BHs off: no sleeping. */
	job = kmalloc(sizeof(*job), GFP_ATOMIC | __GFP_NOWARN);
	if (!job) {
		sock_put(sk);
		return -ENOMEM;
	}
	INIT_WORK(&job->work, kf_sockd_run);
	job->sk = sk;
	queue_work(wq, &job->work);
	return 0;
}

__bpf_kfunc_end_defs();
