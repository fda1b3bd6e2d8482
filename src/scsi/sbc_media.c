/*
 * The medium of the disk (SBC-4 §4.15 removable medium, §4.20 power
 * conditions):
 *   §5.25 START STOP UNIT: LOEJ ejects (START=0) and loads (START=1) the
 *   medium of a removable LU; POWER CONDITION and START without LOEJ
 *   change nothing on a medium that neither spins nor sleeps; with
 *   NO_FLUSH=0, every transition but a start first makes the cached
 *   writes stable, as SYNCHRONIZE CACHE of the whole LU does;
 *   §5.13 PREVENT ALLOW MEDIUM REMOVAL, per I_T nexus (the ITL's prevent
 *   flag, counted in lu->nr_prevent): while any nexus prevents removal,
 *   loading and ejecting end in MEDIUM REMOVAL PREVENTED; I_T nexus loss
 *   (ua.c) and a logical unit reset (core.c) end a nexus's prevention;
 *   the readiness of the LU (device.h lu_ready): NOT READY, MEDIUM NOT
 *   PRESENT while the medium is out, SANITIZE IN PROGRESS (with its
 *   progress, sbc_sanitize.c) while it is being sanitized. The core
 *   refuses every row flagged SCSI_OP_MEDIUM then, and REQUEST SENSE
 *   reports it.
 * Loading the medium establishes NOT READY TO READY CHANGE, MEDIUM MAY
 * HAVE CHANGED for the other I_T nexuses (SPC-5 §5.14 unit attentions).
 */
#include <errno.h>

#include "scsi/device.h"
#include "scsi/sbc.h"
#include "scsi/sense.h"
#include "scsi/ua.h"
#include "util/bytes.h"

#define SBC_SSU_NO_FLUSH 0x04
#define SBC_SSU_LOEJ	 0x02
#define SBC_SSU_START	 0x01

bool sbc_lu_removable(const struct scsi_lu *lu)
{
	return lu->params.removable;
}

bool sbc_lu_ready(const struct scsi_lu *lu, struct scsi_sense_info *si)
{
	if (sbc_sanitize_progress(lu, si))
		return false;
	if (atomic_load_explicit(&lu->medium_absent, memory_order_acquire)) {
		scsi_sense_info_init(si, SCSI_SK_NOT_READY,
				     SCSI_ASC_MEDIUM_NOT_PRESENT);
		return false;
	}
	return true;
}

/* Commands that change the medium's state wait for a sanitize to end. */
static int sbc_media_check_sanitize(struct scsi_cmd *cmd)
{
	struct scsi_sense_info si;

	if (!sbc_sanitize_progress(cmd->lu, &si))
		return 0;
	scsi_cmd_set_sense_full(cmd, &si);
	return -EBUSY;
}

/* ---- START STOP UNIT ---- */

static int sbc_start_stop_parse(struct scsi_cmd *cmd)
{
	uint8_t pc = cmd->cdb[4] >> 4;

	/* LOEJ acts only with POWER CONDITION 0h (START_VALID); a disk
	 * whose medium cannot be removed has nothing to load or eject.
	 * Every power condition is reached at once and changes nothing the
	 * initiator can see, so none is refused. */
	if (pc == 0 && (cmd->cdb[4] & SBC_SSU_LOEJ) &&
	    !sbc_lu_removable(cmd->lu)) {
		scsi_cmd_set_invalid_field(cmd, 4, 1);
		return -EINVAL;
	}
	return 0;
}

/* The load or eject of START STOP UNIT, once the cache is flushed. */
static int sbc_start_stop_transition(struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->lu;
	uint8_t b4 = cmd->cdb[4];
	bool load = b4 & SBC_SSU_START;
	bool was_absent;

	if ((b4 >> 4) != 0 || !(b4 & SBC_SSU_LOEJ))
		return 0;
	pthread_mutex_lock(&lu->lock);
	if (lu->nr_prevent) {
		pthread_mutex_unlock(&lu->lock);
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
		return -EBUSY;
	}
	was_absent = atomic_load(&lu->medium_absent);
	atomic_store_explicit(&lu->medium_absent, !load, memory_order_release);
	pthread_mutex_unlock(&lu->lock);
	if (load && was_absent)
		scsi_ua_establish_others(lu, cmd->nexus,
					 SCSI_ASC_MEDIUM_MAY_HAVE_CHANGED);
	return 0;
}

static void sbc_start_stop_flushed(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	if (req->result < 0)
		sbc_set_io_error(cmd, req);
	else if (!cmd->aborted)
		sbc_start_stop_transition(cmd);
	scsi_cmd_complete(cmd);
}

static int sbc_start_stop(struct scsi_cmd *cmd)
{
	uint8_t b4 = cmd->cdb[4];

	if (sbc_media_check_sanitize(cmd))
		return -EBUSY;
	/* IMMED changes nothing: the flush is waited for either way, and
	 * every transition is immediate. Only a start (POWER CONDITION 0h,
	 * START=1) leaves the cache as it is (SBC-4 §5.25: NO_FLUSH=0
	 * writes the cache to the medium before a power condition that
	 * prevents access to it). */
	if ((b4 & SBC_SSU_NO_FLUSH) || ((b4 >> 4) == 0 && (b4 & SBC_SSU_START)))
		return sbc_start_stop_transition(cmd);
	sbc_req_prep(cmd, BS_OP_FLUSH, 0, 0,
		     scsi_lu_blocks(cmd->lu) << cmd->lu->block_shift, NULL,
		     sbc_start_stop_flushed);
	bs_submit(cmd->lu->bs, &cmd->bs);
	return -EINPROGRESS;
}

/* ---- PREVENT ALLOW MEDIUM REMOVAL ---- */

static int sbc_prevent_allow_parse(struct scsi_cmd *cmd)
{
	/* PREVENT 10b and 11b are obsolete (persistent prevention). */
	if ((cmd->cdb[4] & 0x03) > 1) {
		scsi_cmd_set_invalid_field(cmd, 4, 1);
		return -EINVAL;
	}
	return 0;
}

static int sbc_prevent_allow(struct scsi_cmd *cmd)
{
	if (sbc_media_check_sanitize(cmd))
		return -EBUSY;
	scsi_itl_set_prevent(cmd->itl, cmd->cdb[4] & 0x01);
	return 0;
}

/* ---- the rows ---- */

const struct scsi_op sbc_op_start_stop = {
    .name = "START STOP UNIT",
    .opcode = 0x1b,
    .cdb_len = 6,
    .dir = SCSI_DIR_NONE,
    /* Only START=1 with POWER CONDITION 0 is allowed under a
     * reservation (SBC-4); the class cannot look at the CDB, so
     * every START STOP UNIT conflicts like a write. */
    .flags = SCSI_OP_PR_WRITE,
    .parse = sbc_start_stop_parse,
    .execute = sbc_start_stop,
    /* IMMED, POWER CONDITION MODIFIER, POWER CONDITION, NO_FLUSH, LOEJ,
     * START. */
    .usage = {0x1b, 0x01, 0x00, 0x0f, 0xf7, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

const struct scsi_op sbc_op_prevent_allow = {
    .name = "PREVENT ALLOW MEDIUM REMOVAL",
    .opcode = 0x1e,
    .cdb_len = 6,
    .dir = SCSI_DIR_NONE,
    /* PREVENT=0 would be allowed (SBC-4): see START STOP UNIT. */
    .flags = SCSI_OP_PR_WRITE,
    .parse = sbc_prevent_allow_parse,
    .execute = sbc_prevent_allow,
    .supported = sbc_lu_removable,
    .usage = {0x1e, 0x00, 0x00, 0x00, 0x03, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};
