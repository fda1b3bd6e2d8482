/*
 * The per-LU range lock of block commands (range_lock.h): shared holders
 * (ordinary writes) and exclusive holders (COMPARE AND WRITE, ORWRITE,
 * WRITE ATOMIC, WRITE AND VERIFY; SBC-4 §4.29 and the commands' clauses).
 *
 * Why the fast path is safe: a shared request increments fast and then
 * reads exclusive; an exclusive request increments exclusive and then
 * reads fast. Both pairs are sequentially consistent, so at least one of
 * the two sees the other: either the shared request backs out to the
 * mutex path, or the exclusive request waits until fast drains to zero.
 * The last fast holder to leave while an exclusive request exists takes
 * the mutex and grants the waiters; the exclusive request parked itself
 * under that mutex before, so the wake-up cannot be lost.
 */
#include "scsi/range_lock.h"

#include <errno.h>

static bool range_overlap(const struct scsi_range_req *a,
			  const struct scsi_range_req *b)
{
	return a->lba < b->lba + b->nr && b->lba < a->lba + a->nr;
}

static bool range_conflict(const struct scsi_range_req *a,
			   const struct scsi_range_req *b)
{
	return (a->exclusive || b->exclusive) && range_overlap(a, b);
}

/* Does req conflict with a holder, or with a request parked before it
 * (stop: req itself, or NULL for all of them)? Under mutex. */
static bool range_blocked(struct scsi_range_lock *rl,
			  const struct scsi_range_req *req,
			  const struct scsi_range_req *stop)
{
	const struct scsi_range_req *o;

	list_for_each_entry (o, &rl->held, link) {
		if (range_conflict(req, o))
			return true;
	}
	list_for_each_entry (o, &rl->waiting, link) {
		if (o == stop)
			break;
		if (range_conflict(req, o))
			return true;
	}
	return req->exclusive &&
	       atomic_load_explicit(&rl->fast, memory_order_seq_cst) != 0;
}

/* Grants the parked requests that may run now, oldest first. Under mutex. */
static void range_grant_waiters(struct scsi_range_lock *rl)
{
	struct scsi_range_req *w, *next;

	list_for_each_entry_safe (w, next, &rl->waiting, link) {
		if (range_blocked(rl, w, w))
			continue;
		list_del(&w->link);
		list_add_tail(&w->link, &rl->held);
		w->state = SCSI_RANGE_HELD;
		/* The owner may run, and release, before we return: w is not
		 * touched after this. */
		reactor_post_msg(w->reactor, &w->msg);
	}
}

void scsi_range_lock_init(struct scsi_range_lock *rl)
{
	pthread_mutex_init(&rl->mutex, NULL);
	atomic_init(&rl->fast, 0);
	atomic_init(&rl->exclusive, 0);
	list_init(&rl->held);
	list_init(&rl->waiting);
}

void scsi_range_lock_destroy(struct scsi_range_lock *rl)
{
	pthread_mutex_destroy(&rl->mutex);
}

void scsi_range_req_init(struct scsi_range_req *req)
{
	req->lba = 0;
	req->nr = 0;
	req->exclusive = false;
	req->state = SCSI_RANGE_IDLE;
	list_init(&req->link);
	req->reactor = NULL;
}

/* A fast holder leaves; the last one wakes a waiting exclusive request. */
static void range_fast_put(struct scsi_range_lock *rl)
{
	if (atomic_fetch_sub_explicit(&rl->fast, 1, memory_order_seq_cst) ==
		1 &&
	    atomic_load_explicit(&rl->exclusive, memory_order_seq_cst)) {
		pthread_mutex_lock(&rl->mutex);
		range_grant_waiters(rl);
		pthread_mutex_unlock(&rl->mutex);
	}
}

int scsi_range_acquire(struct scsi_range_lock *rl, struct scsi_range_req *req,
		       uint64_t lba, uint64_t nr, bool exclusive,
		       struct reactor *r, reactor_msg_fn fn, void *arg)
{
	req->lba = lba;
	req->nr = nr;
	req->exclusive = exclusive;
	if (nr == 0) {
		req->state = SCSI_RANGE_IDLE;
		return 0;
	}
	if (!exclusive &&
	    !atomic_load_explicit(&rl->exclusive, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&rl->fast, 1, memory_order_seq_cst);
		if (!atomic_load_explicit(&rl->exclusive,
					  memory_order_seq_cst)) {
			req->state = SCSI_RANGE_FAST;
			return 0;
		}
		range_fast_put(rl);
	}

	pthread_mutex_lock(&rl->mutex);
	if (exclusive)
		atomic_fetch_add_explicit(&rl->exclusive, 1,
					  memory_order_seq_cst);
	if (!range_blocked(rl, req, NULL)) {
		list_add_tail(&req->link, &rl->held);
		req->state = SCSI_RANGE_HELD;
		pthread_mutex_unlock(&rl->mutex);
		return 0;
	}
	req->reactor = r;
	req->msg.fn = fn;
	req->msg.arg = arg;
	req->state = SCSI_RANGE_WAITING;
	list_add_tail(&req->link, &rl->waiting);
	pthread_mutex_unlock(&rl->mutex);
	return -EINPROGRESS;
}

void scsi_range_release(struct scsi_range_lock *rl, struct scsi_range_req *req)
{
	switch (req->state) {
	case SCSI_RANGE_FAST:
		req->state = SCSI_RANGE_IDLE;
		range_fast_put(rl);
		break;
	case SCSI_RANGE_HELD:
		pthread_mutex_lock(&rl->mutex);
		list_del(&req->link);
		req->state = SCSI_RANGE_IDLE;
		if (req->exclusive)
			atomic_fetch_sub_explicit(&rl->exclusive, 1,
						  memory_order_seq_cst);
		range_grant_waiters(rl);
		pthread_mutex_unlock(&rl->mutex);
		break;
	default:
		break;
	}
}
