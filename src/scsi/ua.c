/*
 * Unit attention conditions per I_T_L nexus (SAM-5 §5.14, SPC-5 §5.14
 * "unit attention conditions"): established by events on the LU (power
 * on, logical unit reset, LUN inventory changes), reported once to each
 * initiator port through CHECK CONDITION or REQUEST SENSE, and the life of
 * the per I_T_L state that holds them: its reference count and the
 * requests of other nexuses to abort its tasks (SAM-5 §5.6; the tasks are
 * aborted on the nexus's reactor by core.c). The queue and the requests
 * live under lu->lock because other nexuses' reactors make them.
 */
#include "scsi/ua.h"

#include <pthread.h>
#include <stdlib.h>

#include "scsi/sense.h"
#include "scsi/target.h"

#define SCSI_ASC_RESET_CLASS 0x29 /* POWER ON, RESET, OR BUS DEVICE RESET */

/* Names an I_T nexus (initiator port and target port) in a word; 0 is
 * never used, so an empty ring slot matches nothing. */
static uint64_t scsi_nexus_hash(const struct scsi_nexus *n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	const char *parts[2] = {n->initiator_port, n->target_port};

	for (unsigned i = 0; i < 2; i++) {
		for (const char *s = parts[i]; *s; s++)
			h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
		h = (h ^ 0xff) * 0x100000001b3ull;
	}
	return h ? h : 1;
}

/* SAM-5 §6.3.4: the nexus comes back after it was lost; which reset
 * condition it sees first. Caller holds lu->lock. */
static void scsi_ua_establish_first_locked(struct scsi_itl *itl,
					   const struct scsi_nexus *n)
{
	struct scsi_lu *lu = itl->lu;
	uint64_t h = scsi_nexus_hash(n);

	for (unsigned i = 0; i < SCSI_LOST_NEXUS_MAX; i++) {
		if (lu->lost_nexus[i] == h) {
			lu->lost_nexus[i] = 0;
			scsi_ua_establish_locked(itl, SCSI_ASC_IT_NEXUS_LOSS);
			return;
		}
	}
	/* A new I_T nexus sees this LU for the first time: to it, the LU
	 * has just powered on. */
	scsi_ua_establish_locked(itl, SCSI_ASC_POWER_ON_RESET);
}

void scsi_lu_nexus_lost(struct scsi_lu *lu, const struct scsi_nexus *n)
{
	pthread_mutex_lock(&lu->lock);
	lu->lost_nexus[lu->lost_next] = scsi_nexus_hash(n);
	lu->lost_next = (lu->lost_next + 1) % SCSI_LOST_NEXUS_MAX;
	pthread_mutex_unlock(&lu->lock);
}

struct scsi_itl *scsi_itl_create(struct scsi_lu *lu, const struct scsi_nexus *n)
{
	struct scsi_itl *itl = calloc(1, sizeof(*itl));

	if (!itl)
		return NULL;
	scsi_lu_get(lu);
	itl->lu = lu;
	itl->nexus = n;
	list_init(&itl->tasks);
	atomic_init(&itl->ua_pending, false);
	atomic_init(&itl->refcnt, 1); /* the nexus's hold */
	atomic_init(&itl->task_gen, 0);
	itl->abort_msg.fn = scsi_itl_abort_run;
	itl->abort_msg.arg = itl;
	pthread_mutex_lock(&lu->lock);
	scsi_ua_establish_first_locked(itl, n);
	list_add_tail(&itl->lu_link, &lu->itl_list);
	pthread_mutex_unlock(&lu->lock);
	return itl;
}

void scsi_itl_detach(struct scsi_itl *itl)
{
	struct scsi_lu *lu = itl->lu;

	pthread_mutex_lock(&lu->lock);
	list_del(&itl->lu_link);
	/* I_T nexus loss ends its prevention of medium removal. */
	if (itl->prevent) {
		itl->prevent = false;
		lu->nr_prevent--;
	}
	itl->nr_ua = 0;
	atomic_store_explicit(&itl->ua_pending, false, memory_order_release);
	itl->nexus = NULL;
	itl->detached = true;
	pthread_mutex_unlock(&lu->lock);
}

void scsi_itl_get(struct scsi_itl *itl)
{
	atomic_fetch_add_explicit(&itl->refcnt, 1, memory_order_relaxed);
}

void scsi_itl_put(struct scsi_itl *itl)
{
	if (atomic_fetch_sub_explicit(&itl->refcnt, 1, memory_order_acq_rel) !=
	    1)
		return;
	scsi_lu_put(itl->lu);
	free(itl->xcopy);
	free(itl);
}

void scsi_ua_establish_locked(struct scsi_itl *itl, uint8_t asc, uint8_t ascq)
{
	for (unsigned i = 0; i < itl->nr_ua; i++) {
		if (itl->ua[i].asc == asc && itl->ua[i].ascq == ascq)
			return;
	}
	if (itl->nr_ua == SCSI_UA_QUEUE_MAX) {
		/* Full: a reset outranks whatever came last; anything else
		 * is dropped, the initiator has plenty to re-examine. */
		if (asc != SCSI_ASC_RESET_CLASS)
			return;
		itl->nr_ua--;
	}
	itl->ua[itl->nr_ua].asc = asc;
	itl->ua[itl->nr_ua].ascq = ascq;
	itl->nr_ua++;
	atomic_store_explicit(&itl->ua_pending, true, memory_order_release);
}

void scsi_ua_establish(struct scsi_itl *itl, uint8_t asc, uint8_t ascq)
{
	pthread_mutex_lock(&itl->lu->lock);
	if (!itl->detached)
		scsi_ua_establish_locked(itl, asc, ascq);
	pthread_mutex_unlock(&itl->lu->lock);
}

void scsi_ua_establish_others(struct scsi_lu *lu,
			      const struct scsi_nexus *except, uint8_t asc,
			      uint8_t ascq)
{
	struct scsi_itl *itl;

	pthread_mutex_lock(&lu->lock);
	list_for_each_entry (itl, &lu->itl_list, lu_link) {
		if (itl->nexus != except)
			scsi_ua_establish_locked(itl, asc, ascq);
	}
	pthread_mutex_unlock(&lu->lock);
}

void scsi_lu_clear_prevent(struct scsi_lu *lu)
{
	struct scsi_itl *itl;

	pthread_mutex_lock(&lu->lock);
	list_for_each_entry (itl, &lu->itl_list, lu_link)
		itl->prevent = false;
	lu->nr_prevent = 0;
	pthread_mutex_unlock(&lu->lock);
}

void scsi_itl_set_prevent(struct scsi_itl *itl, bool prevent)
{
	struct scsi_lu *lu = itl->lu;

	pthread_mutex_lock(&lu->lock);
	if (!itl->detached && itl->prevent != prevent) {
		itl->prevent = prevent;
		if (prevent)
			lu->nr_prevent++;
		else
			lu->nr_prevent--;
	}
	pthread_mutex_unlock(&lu->lock);
}

static void scsi_ua_remove_locked(struct scsi_itl *itl, unsigned i)
{
	for (; i + 1 < itl->nr_ua; i++)
		itl->ua[i] = itl->ua[i + 1];
	itl->nr_ua--;
	if (itl->nr_ua == 0)
		atomic_store_explicit(&itl->ua_pending, false,
				      memory_order_release);
}

/*
 * Which pending condition is reported first (SAM-5 §5.14): the resets
 * (29h) outrank everything, because they imply every other change; then
 * the changes of what the initiator must re-read, in the order it has to
 * re-read them: capacity, LUN inventory, mode parameters, INQUIRY data,
 * asymmetric access state; then everything else (reservations, commands
 * cleared) in the order established.
 */
static unsigned scsi_ua_rank(uint8_t asc, uint8_t ascq)
{
	static const struct {
		uint8_t asc, ascq;
	} order[] = {
	    {SCSI_ASC_CAPACITY_DATA_CHANGED},
	    {SCSI_ASC_REPORTED_LUNS_CHANGED},
	    {SCSI_ASC_MODE_PARAMETERS_CHANGED},
	    {SCSI_ASC_INQUIRY_DATA_CHANGED},
	    {SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED},
	};

	if (asc == SCSI_ASC_RESET_CLASS)
		return 0;
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (order[i].asc == asc && order[i].ascq == ascq)
			return i + 1;
	}
	return sizeof(order) / sizeof(order[0]) + 1;
}

/* The condition to report next (scsi_ua_rank; the oldest of a rank).
 * Caller holds lu->lock and the queue is not empty. */
static unsigned scsi_ua_next_locked(const struct scsi_itl *itl)
{
	unsigned pick = 0;
	unsigned best = scsi_ua_rank(itl->ua[0].asc, itl->ua[0].ascq);

	for (unsigned i = 1; i < itl->nr_ua && best; i++) {
		unsigned r = scsi_ua_rank(itl->ua[i].asc, itl->ua[i].ascq);

		if (r < best) {
			best = r;
			pick = i;
		}
	}
	return pick;
}

bool scsi_ua_take(struct scsi_itl *itl, uint8_t *asc, uint8_t *ascq)
{
	bool found = false;
	unsigned pick;

	if (!scsi_ua_pending(itl))
		return false;
	pthread_mutex_lock(&itl->lu->lock);
	if (itl->nr_ua) {
		pick = scsi_ua_next_locked(itl);
		*asc = itl->ua[pick].asc;
		*ascq = itl->ua[pick].ascq;
		scsi_ua_remove_locked(itl, pick);
		found = true;
	}
	pthread_mutex_unlock(&itl->lu->lock);
	return found;
}

/* Records a request and posts the message unless it is already queued.
 * Caller holds lu->lock and itl is on lu->itl_list. */
static void scsi_itl_abort_request_locked(struct scsi_itl *itl,
					  const struct scsi_nexus *by, bool ua)
{
	struct reactor *r;

	if (itl->detached || !itl->nexus)
		return;
	/* Every task prepared from now on carries the new generation. */
	itl->abort_upto =
	    atomic_fetch_add_explicit(&itl->task_gen, 1, memory_order_acq_rel) +
	    1;
	if (by && by == itl->nexus) {
		itl->abort_own = true;
	} else {
		itl->abort_other = true;
		itl->abort_ua |= ua;
	}
	if (itl->abort_posted)
		return;
	itl->abort_posted = true;
	r = itl->nexus->reactor;
	/* The message's hold and the LU's count of work in progress; both
	 * are dropped by scsi_itl_abort_run once it has run. */
	scsi_itl_get(itl);
	atomic_fetch_add_explicit(&itl->lu->nr_aborting, 1,
				  memory_order_relaxed);
	reactor_post_msg(r, &itl->abort_msg);
}

void scsi_itl_abort_tasks_locked(struct scsi_itl *itl,
				 const struct scsi_nexus *by)
{
	scsi_itl_abort_request_locked(itl, by, true);
}

void scsi_itl_abort_for_reset_locked(struct scsi_itl *itl,
				     const struct scsi_nexus *by)
{
	scsi_itl_abort_request_locked(itl, by, false);
}

void scsi_ua_clear(struct scsi_itl *itl, uint8_t asc, uint8_t ascq)
{
	if (!scsi_ua_pending(itl))
		return;
	pthread_mutex_lock(&itl->lu->lock);
	for (unsigned i = 0; i < itl->nr_ua; i++) {
		if (itl->ua[i].asc == asc && itl->ua[i].ascq == ascq) {
			scsi_ua_remove_locked(itl, i);
			break;
		}
	}
	pthread_mutex_unlock(&itl->lu->lock);
}

unsigned scsi_ua_peek(struct scsi_itl *itl, uint8_t *asc, uint8_t *ascq)
{
	unsigned n, pick;

	pthread_mutex_lock(&itl->lu->lock);
	n = itl->nr_ua;
	if (n) {
		pick = scsi_ua_next_locked(itl);
		*asc = itl->ua[pick].asc;
		*ascq = itl->ua[pick].ascq;
	}
	pthread_mutex_unlock(&itl->lu->lock);
	return n;
}
