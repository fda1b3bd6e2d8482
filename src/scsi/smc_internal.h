/*
 * Between the files of the medium changer (smc.c: the commands;
 * smc_admin.c: management and the drives' media): the per-LU state and
 * the main-thread calls both use.
 */
#ifndef LUNAR_SCSI_SMC_INTERNAL_H
#define LUNAR_SCSI_SMC_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include "scsi/smc.h"
#include "scsi/target.h"

/* Per LU state (lu->dtype_priv). */
struct smc_lu {
	pthread_mutex_t lock; /* lib, against the main thread's swaps */
	struct smc_lib lib;
};

static inline struct smc_lu *smc_of(const struct scsi_lu *lu)
{
	return lu->dtype_priv;
}

/* Main thread: the drive LU of data transfer element e (NULL if the
 * target has no such LUN). */
struct scsi_lu *smc_drive_lu(struct scsi_lu *lu, const struct smc_elem *e);
/* Main thread: writes lib to the state file and makes it the LU's
 * library (lib is left empty); 0 or -errno with the reason in err. */
int smc_commit(struct scsi_lu *lu, struct smc_lib *lib, char *err,
	       size_t errlen);
/* device.h lu_peer_created of the changer. */
void smc_lu_peer_created(struct scsi_lu *lu, struct scsi_lu *peer);

#endif
