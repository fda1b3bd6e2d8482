/*
 * Per I_T_L nexus state (SAM-5 §4.6.9): the unit attention conditions an
 * initiator port has yet to see on one logical unit, and that nexus's task
 * set on the LU.
 *
 * An ITL is created by the nexus's first command to the LU (with POWER ON,
 * RESET, OR BUS DEVICE RESET OCCURRED pending, SAM-5 §5.14) and lives on
 * lu->itl_list so that other nexuses can establish unit attentions for it
 * and abort its tasks. The unit attention queue is shared state: it is only
 * touched under lu->lock, and ua_pending mirrors "queue not empty" so the
 * data path can test it without the lock. The task set belongs to the
 * nexus's reactor thread. An ITL holds a reference on its LU.
 *
 * Life: refcnt counts
 *   - the nexus's hold, from scsi_itl_create until the nexus lets go
 *     (scsi_itl_detach, then scsi_itl_put);
 *   - each command between scsi_cmd_prepare and scsi_cmd_release;
 *   - a cross-nexus abort request while its message is queued.
 * The last scsi_itl_put frees it. Every put happens on the nexus's reactor
 * (the abort message runs there too), so the ITL, its task set and its
 * xcopy results are freed on the thread that owns them. The only get from
 * another thread is an abort request, made under lu->lock while the ITL is
 * still on lu->itl_list, i.e. while the nexus's hold keeps refcnt above
 * zero: a reference is never taken on an ITL that may already be freed.
 *
 * Cross-nexus abort (SAM-5 §5.6): tasks live on their nexus's reactor, so
 * another thread never touches them. It bumps task_gen and records the
 * request under lu->lock, and posts abort_msg (embedded: no allocation,
 * cannot fail; posted once however often it is asked until it has run).
 * On the nexus's reactor, every task the core stamped with an older
 * task_gen at prepare is aborted through the transport's abort_cmd
 * (scsi.h). A task that arrives after the request has the new generation
 * and is not touched: the request is the point that divides before from
 * after, as a TMF is in SAM.
 */
#ifndef LUNAR_SCSI_UA_H
#define LUNAR_SCSI_UA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "event/reactor.h"
#include "util/list.h"

struct scsi_lu;
struct scsi_nexus;

#define SCSI_UA_QUEUE_MAX 8

struct scsi_itl {
	struct list_head lu_link; /* lu->itl_list, under lu->lock */
	struct scsi_lu *lu;
	const struct scsi_nexus *nexus; /* identity only; NULL once detached */

	/* Under lu->lock (ua_pending is also read without it). */
	atomic_bool ua_pending;
	unsigned nr_ua;
	struct {
		uint8_t asc, ascq;
	} ua[SCSI_UA_QUEUE_MAX];

	atomic_uint refcnt; /* see "Life" above */

	/* Nexus reactor only: the task set (core.c). */
	struct list_head tasks; /* scsi_cmd.lu_link, in arrival order */
	unsigned nr_ordered;	/* ORDERED and HEAD OF QUEUE tasks in tasks */
	bool kicking, rescan;	/* re-entrancy guard of the dispatcher */
	bool detached;
	/* Nexus reactor only: EXTENDED COPY results held for RECEIVE COPY
	 * RESULTS (xcopy.c), one allocation freed with the ITL. */
	void *xcopy;
	/* PREVENT ALLOW MEDIUM REMOVAL of this nexus (SBC-4 §5.13), under
	 * lu->lock and counted in lu->nr_prevent; I_T nexus loss and LU
	 * reset clear it. */
	bool prevent;
	/* The last media event (GET EVENT STATUS NOTIFICATION, mmc.c) this
	 * nexus was told of, by sequence number; 0: none yet. Under
	 * lu->lock. */
	uint32_t media_event_seen;

	/*
	 * Cross-nexus abort. task_gen is read by prepare without the lock
	 * and bumped under lu->lock by a request; the abort_* fields are
	 * under lu->lock. abort_upto: tasks whose generation is older are
	 * to be aborted; abort_other: some request came from another nexus
	 * (TAS applies); abort_own: one came from this nexus (its PERSISTENT
	 * RESERVE OUT PREEMPT AND ABORT is spared); abort_ua: establish
	 * COMMANDS CLEARED BY ANOTHER INITIATOR when TAS=0.
	 */
	atomic_uint task_gen;
	uint32_t abort_upto;
	bool abort_posted, abort_other, abort_own, abort_ua;
	struct reactor_msg abort_msg;
};

/* Creates the ITL of (lu, n) with POWER ON RESET pending; NULL on ENOMEM. */
struct scsi_itl *scsi_itl_create(struct scsi_lu *lu,
				 const struct scsi_nexus *n);
/* The I_T nexus n was lost (its session ended) while it used lu: when the
 * same initiator port logs in again, it sees I_T NEXUS LOSS OCCURRED. */
void scsi_lu_nexus_lost(struct scsi_lu *lu, const struct scsi_nexus *n);
/* The nexus lets go: the ITL leaves the LU's list (no more UAs, no more
 * abort requests). The nexus then drops its hold with scsi_itl_put. */
void scsi_itl_detach(struct scsi_itl *itl);
/* References (see "Life"); the last put frees the ITL and drops its LU
 * reference. Nexus reactor only, except the get of an abort request. */
void scsi_itl_get(struct scsi_itl *itl);
void scsi_itl_put(struct scsi_itl *itl);

/* Queues a UA unless the same one is pending. Caller holds lu->lock. */
void scsi_ua_establish_locked(struct scsi_itl *itl, uint8_t asc, uint8_t ascq);
/* Queues a UA for every nexus of the LU except `except` (may be NULL). */
void scsi_ua_establish_others(struct scsi_lu *lu,
			      const struct scsi_nexus *except, uint8_t asc,
			      uint8_t ascq);
/* Queues a UA for this ITL (takes lu->lock). */
void scsi_ua_establish(struct scsi_itl *itl, uint8_t asc, uint8_t ascq);
/* Lock-free test: anything to report? */
static inline bool scsi_ua_pending(const struct scsi_itl *itl)
{
	return atomic_load_explicit(&itl->ua_pending, memory_order_acquire);
}
/*
 * Dequeues the UA to report next (resets first, SAM-5 §5.14); false when
 * none is pending.
 */
bool scsi_ua_take(struct scsi_itl *itl, uint8_t *asc, uint8_t *ascq);
/* A reset of the LU ends every nexus's prevention of medium removal. */
void scsi_lu_clear_prevent(struct scsi_lu *lu);
/* PREVENT ALLOW MEDIUM REMOVAL of itl's nexus (SBC-4 §5.13, and the
 * CD/DVD's, mmc.c): sets its prevent flag, counted in lu->nr_prevent.
 * Takes lu->lock. */
void scsi_itl_set_prevent(struct scsi_itl *itl, bool prevent);
/*
 * Aborts the tasks of itl's nexus on its LU on behalf of the nexus `by`
 * (PREEMPT AND ABORT, SPC-5 §5.13.11.2.6; SAM-5 §5.6): asynchronously, on
 * the reactor of itl's nexus; tasks that nexus sends after this call are
 * not affected. When `by` is another nexus (or NULL, the target itself)
 * the tasks end with TASK ABORTED status if TAS of the control mode page
 * is one, else without a response and with COMMANDS CLEARED BY ANOTHER
 * INITIATOR established for that nexus (if it had tasks to abort). When
 * `by` is itl's own nexus its tasks end without a response and the
 * PERSISTENT RESERVE OUT PREEMPT AND ABORT commands among them are spared
 * (the one running the preemption is one of them). Caller holds
 * lu->lock; never blocks, never allocates.
 */
void scsi_itl_abort_tasks_locked(struct scsi_itl *itl,
				 const struct scsi_nexus *by);
/* The same for a logical unit or target reset (SAM-5 §6.3.3): no
 * COMMANDS CLEARED BY ANOTHER INITIATOR (the reset's own unit attention
 * tells the nexus). Caller holds lu->lock. */
void scsi_itl_abort_for_reset_locked(struct scsi_itl *itl,
				     const struct scsi_nexus *by);
/* Core (core.c): performs the requests on the nexus's reactor; the
 * function of abort_msg. */
void scsi_itl_abort_run(void *arg);
/*
 * Snapshot of the unit attentions pending for itl without taking any
 * (QUERY ASYNCHRONOUS EVENT, SAM-5 §7.6): how many, and the one
 * scsi_ua_take would report next. Takes lu->lock.
 */
unsigned scsi_ua_peek(struct scsi_itl *itl, uint8_t *asc, uint8_t *ascq);
/* Drops a pending UA with this code (e.g. REPORT LUNS clears 3F/0E). */
void scsi_ua_clear(struct scsi_itl *itl, uint8_t asc, uint8_t ascq);

#endif
