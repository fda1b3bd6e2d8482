/*
 * Unit attention conditions per I_T_L nexus (SAM-5 §5.14, SPC-5 §5.14
 * "unit attention conditions"): established by events on the LU (power
 * on, logical unit reset, LUN inventory changes), reported once to each
 * initiator port through CHECK CONDITION or REQUEST SENSE, and the life of
 * the per I_T_L state that holds them. The queue lives under lu->lock
 * because other nexuses' reactors establish conditions on it.
 */
#include "scsi/ua.h"

#include <pthread.h>
#include <stdlib.h>

#include "scsi/sense.h"
#include "scsi/target.h"

#define SCSI_ASC_RESET_CLASS 0x29 /* POWER ON, RESET, OR BUS DEVICE RESET */

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
	pthread_mutex_lock(&lu->lock);
	/* A new I_T nexus sees this LU for the first time: to it, the LU
	 * has just powered on. */
	scsi_ua_establish_locked(itl, SCSI_ASC_POWER_ON_RESET);
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

void scsi_itl_free(struct scsi_itl *itl)
{
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

static void scsi_ua_remove_locked(struct scsi_itl *itl, unsigned i)
{
	for (; i + 1 < itl->nr_ua; i++)
		itl->ua[i] = itl->ua[i + 1];
	itl->nr_ua--;
	if (itl->nr_ua == 0)
		atomic_store_explicit(&itl->ua_pending, false,
				      memory_order_release);
}

bool scsi_ua_take(struct scsi_itl *itl, uint8_t *asc, uint8_t *ascq)
{
	bool found = false;
	unsigned pick = 0;

	if (!scsi_ua_pending(itl))
		return false;
	pthread_mutex_lock(&itl->lu->lock);
	if (itl->nr_ua) {
		for (unsigned i = 0; i < itl->nr_ua; i++) {
			if (itl->ua[i].asc == SCSI_ASC_RESET_CLASS) {
				pick = i;
				break;
			}
		}
		*asc = itl->ua[pick].asc;
		*ascq = itl->ua[pick].ascq;
		scsi_ua_remove_locked(itl, pick);
		found = true;
	}
	pthread_mutex_unlock(&itl->lu->lock);
	return found;
}

void scsi_itl_abort_tasks_locked(struct scsi_itl *itl,
				 const struct scsi_nexus *by)
{
	/* Placeholder until tasks can be aborted across nexuses. */
	(void)itl;
	(void)by;
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
