/*
 * A per-LU lock on ranges of logical blocks, so that COMPARE AND WRITE,
 * ORWRITE, WRITE ATOMIC and WRITE AND VERIFY (SBC-4 §4.29, §5.3, §5.12,
 * §5.48, §5.44) are atomic with respect to every other write of the same
 * blocks, whichever session or reactor issued it.
 *
 * Two kinds of holders:
 *   shared     an ordinary write. Shared holders never exclude each other
 *              (overlapping SIMPLE writes may run in any order, SAM-5 §8).
 *   exclusive  a command that must see no other write of its blocks
 *              between its steps. It excludes every overlapping holder.
 *
 * While no exclusive request exists, a shared request is admitted with two
 * atomic operations and no mutex, and records no range ("fast" holders): an
 * exclusive request that arrives then waits for every fast holder to
 * finish, and meanwhile new shared requests take the mutex and record their
 * range, so only the overlapping ones wait behind it. Waiting requests are
 * granted in arrival order among those that overlap (no starvation).
 *
 * A request that cannot be granted at once is parked; when it is granted,
 * its callback is posted to its own reactor (reactor_post_msg, no
 * allocation). Everything else runs on the caller's thread. The state of
 * the lock is touched only under its mutex, the LU's lock for this state
 * (DESIGN.md §3), except the two counters of the fast path.
 */
#ifndef LUNAR_SCSI_RANGE_LOCK_H
#define LUNAR_SCSI_RANGE_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "event/reactor.h"
#include "util/list.h"

struct scsi_range_lock {
	pthread_mutex_t mutex;
	atomic_uint fast;	  /* shared holders admitted without mutex */
	atomic_uint exclusive;	  /* exclusive requests held or waiting */
	struct list_head held;	  /* recorded holders, under mutex */
	struct list_head waiting; /* parked requests in arrival order */
};

enum scsi_range_state {
	SCSI_RANGE_IDLE = 0, /* holds nothing */
	SCSI_RANGE_FAST,     /* shared, admitted on the fast path */
	SCSI_RANGE_HELD,     /* recorded in held */
	SCSI_RANGE_WAITING,  /* parked in waiting */
};

/* One request; embedded in its command, so taking the lock allocates
 * nothing. Reusable once released. */
struct scsi_range_req {
	uint64_t lba;
	uint64_t nr;
	bool exclusive;
	enum scsi_range_state state;
	struct list_head link;
	struct reactor *reactor;
	struct reactor_msg msg; /* runs the callback when granted */
};

void scsi_range_lock_init(struct scsi_range_lock *rl);
/* No request may be held or waiting. */
void scsi_range_lock_destroy(struct scsi_range_lock *rl);

void scsi_range_req_init(struct scsi_range_req *req);

/*
 * Asks for [lba, lba + nr). Returns 0 when granted now, or -EINPROGRESS
 * when parked: fn(arg) then runs on reactor r once the range is granted.
 * nr == 0 is granted at once and holds nothing.
 */
int scsi_range_acquire(struct scsi_range_lock *rl, struct scsi_range_req *req,
		       uint64_t lba, uint64_t nr, bool exclusive,
		       struct reactor *r, reactor_msg_fn fn, void *arg);
/* Gives back a granted request (harmless on an idle one); never on a
 * parked one. Grants whatever waited on it. */
void scsi_range_release(struct scsi_range_lock *rl, struct scsi_range_req *req);

static inline bool scsi_range_granted(const struct scsi_range_req *req)
{
	return req->state == SCSI_RANGE_FAST || req->state == SCSI_RANGE_HELD;
}

#endif
