/*
 * Reservations of a logical unit: SPC-5 §5.13 persistent reservations
 * (PERSISTENT RESERVE IN/OUT, six types, ALL_TG_PT, SPEC_I_PT, APTPL) and
 * the SPC-2 RESERVE/RELEASE (6)/(10) reservation, with their interaction
 * (SPC-5 §5.13.3). The state lives in lu->pr, under lu->lock; with APTPL
 * it is written through a struct scsi_pr_store_ops (file under the state
 * directory today, RBD image metadata later) before the command that
 * changed it completes, and read back when the LU is created.
 *
 * An I_T nexus is identified by its initiator port (TransportID: name and
 * ISID) and its relative target port identifier, never by a session: a
 * re-login with the same name and ISID is the same nexus.
 */
#ifndef LUNAR_SCSI_PR_H
#define LUNAR_SCSI_PR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scsi_cmd;
struct scsi_lu;
struct scsi_nexus;

/*
 * Whether cmd may run under the LU's reservations (SPC-5 §5.13.1 table 64
 * and the SPC-2 rules), from its opcode table row. Returns 0, or a
 * negative errno with status RESERVATION CONFLICT set. Called by the core
 * for every command to a LU, after unit attentions and asymmetric access.
 */
int scsi_pr_check(struct scsi_cmd *cmd);

/* LU life: state set up (and APTPL state read back) at LU creation,
 * freed with the LU. scsi_pr_lu_delete also forgets the saved state (the
 * admin deleted the LU). */
int scsi_pr_lu_init(struct scsi_lu *lu);
void scsi_pr_lu_exit(struct scsi_lu *lu);
void scsi_pr_lu_delete(struct scsi_lu *lu);

/* Events of SAM-5 that end an SPC-2 reservation (persistent ones stay):
 * the I_T nexus n was lost (session ended, I_T NEXUS RESET), the LU was
 * reset (LOGICAL UNIT RESET, TARGET WARM/COLD RESET). Take lu->lock. */
void scsi_pr_nexus_lost(struct scsi_lu *lu, const struct scsi_nexus *n);
void scsi_pr_lu_reset(struct scsi_lu *lu);

/* Where APTPL state is saved: <dir>/pr/ (lunard --state-dir); NULL: not
 * saved (APTPL=1 is refused with INVALID FIELD IN PARAMETER LIST). */
int scsi_pr_set_state_dir(const char *dir);

#endif
