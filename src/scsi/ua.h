/*
 * Per I_T_L nexus state (SAM-5 §4.6.9): the unit attention conditions an
 * initiator port has yet to see on one logical unit, and that nexus's task
 * set on the LU.
 *
 * An ITL is created by the nexus's first command to the LU (with POWER ON,
 * RESET, OR BUS DEVICE RESET OCCURRED pending, SAM-5 §5.14) and lives on
 * lu->itl_list so that other nexuses can establish unit attentions for it.
 * The unit attention queue is shared state: it is only touched under
 * lu->lock, and ua_pending mirrors "queue not empty" so the data path can
 * test it without the lock. Everything else belongs to the nexus's reactor
 * thread. An ITL holds a reference on its LU; it is freed once its nexus
 * let go of it (scsi_itl_detach) and its last command is released.
 */
#ifndef LUNAR_SCSI_UA_H
#define LUNAR_SCSI_UA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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

	/* Nexus reactor only: the task set (core.c). */
	struct list_head tasks; /* scsi_cmd.lu_link, in arrival order */
	unsigned nr_cmds;	/* commands holding the ITL until release */
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
};

/* Creates the ITL of (lu, n) with POWER ON RESET pending; NULL on ENOMEM. */
struct scsi_itl *scsi_itl_create(struct scsi_lu *lu,
				 const struct scsi_nexus *n);
/* The I_T nexus n was lost (its session ended) while it used lu: when the
 * same initiator port logs in again, it sees I_T NEXUS LOSS OCCURRED. */
void scsi_lu_nexus_lost(struct scsi_lu *lu, const struct scsi_nexus *n);
/* The nexus lets go: the ITL leaves the LU's list (no more UAs). */
void scsi_itl_detach(struct scsi_itl *itl);
/* Frees a detached ITL that no command holds, dropping its LU reference. */
void scsi_itl_free(struct scsi_itl *itl);

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
/*
 * Aborts the tasks of itl's nexus on its LU on behalf of the nexus `by`
 * (CLEAR TASK SET or LOGICAL UNIT RESET from another nexus, PREEMPT AND
 * ABORT; SAM-5 §5.6): asynchronously, on the reactor of itl's nexus. They
 * end with TASK ABORTED status when TAS of the control mode page is one,
 * else without a response and with COMMANDS CLEARED BY ANOTHER INITIATOR
 * established for that nexus. `by` may be NULL (the target itself).
 * Caller holds lu->lock; never blocks, never allocates.
 */
void scsi_itl_abort_tasks_locked(struct scsi_itl *itl,
				 const struct scsi_nexus *by);
/* Drops a pending UA with this code (e.g. REPORT LUNS clears 3F/0E). */
void scsi_ua_clear(struct scsi_itl *itl, uint8_t asc, uint8_t ascq);

#endif
