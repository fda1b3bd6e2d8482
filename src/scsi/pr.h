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
struct scsi_op;

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

/* scsi_pr_lu_init with the reason of a failure for the admin in err
 * (e.g. which saved file is corrupt and how to get past it). */
int scsi_pr_lu_init_msg(struct scsi_lu *lu, char *err, size_t errlen);

/*
 * ALUA across the gateways of a shared medium (pr_shared.c): the port
 * group that owns the medium is kept in its shared record, and every
 * gateway reports it active/optimized (transitioning until its gateway
 * holds the medium's write lock) and every other group standby.
 * scsi_lu_alua_shared: whether lu is such a LU (a shared store with a
 * write lock, and configured port groups). scsi_lu_alua_activate: SET
 * TARGET PORT GROUPS through a port of `group`, a group of this gateway,
 * makes it the owner: the old owner lets go of the lock or is fenced,
 * this gateway takes it, every gateway learns of it; -EINPROGRESS.
 * scsi_lu_alua_activate_wait: the same for lunarctl on the main thread,
 * waiting; 0 or -errno with err.
 */
bool scsi_lu_alua_shared(const struct scsi_lu *lu);
int scsi_lu_alua_activate(struct scsi_cmd *cmd, uint16_t group);
int scsi_lu_alua_activate_wait(struct scsi_lu *lu, uint16_t group, char *err,
			       size_t errlen);

/* ---- what APTPL saves (pr_store.c) ---- */

/* The persistent reservation types (SPC-5 §6.17, TYPE). */
enum scsi_pr_type {
	SCSI_PR_WRITE_EXCLUSIVE = 0x1,
	SCSI_PR_EXCLUSIVE_ACCESS = 0x3,
	SCSI_PR_WRITE_EXCLUSIVE_RO = 0x5,
	SCSI_PR_EXCLUSIVE_ACCESS_RO = 0x6,
	SCSI_PR_WRITE_EXCLUSIVE_AR = 0x7,
	SCSI_PR_EXCLUSIVE_ACCESS_AR = 0x8,
};

#define SCSI_PR_TID_MAX 256 /* "<iSCSI name>,i,0x<ISID>" and its NUL */

/*
 * The persistent state of a LU's reservations as a store keeps it: the
 * registrations with their initiator port ("<name>,i,0x<ISID>", or the
 * name alone for every port of that initiator device) and the
 * reservation. PRgeneration is not saved: a power on zeroes it.
 */
struct scsi_pr_image {
	bool aptpl;
	unsigned nr_regs;
	struct scsi_pr_image_reg {
		uint64_t key;
		char transport_id[SCSI_PR_TID_MAX];
		uint16_t rel_port_id; /* unused with all_tg_pt */
		bool all_tg_pt;
	} * regs;
	bool reserved;
	uint8_t type; /* enum scsi_pr_type */
	uint8_t scope;
	/* The holder's index in regs; -1 for the all registrants types. */
	int holder;
};

void scsi_pr_image_free(struct scsi_pr_image *img);

/*
 * A place APTPL state is kept, by LU identity (target name and LUN).
 * Every call returns 0 or a negative errno and then writes what went
 * wrong, naming the object (file, image), to err.
 *   load    fills img (regs allocated, scsi_pr_image_free frees them);
 *           -ENOENT when nothing is saved, -EBADMSG when what is saved
 *           cannot be read back.
 *   save    replaces the saved state atomically and durably: it is
 *           there after a crash once save returned 0.
 *   remove  forgets it; 0 when nothing was saved.
 * Called under lu->lock from the main thread (or the thread that
 * creates or deletes the LU).
 */
struct scsi_pr_store_ops {
	const char *name;
	int (*load)(const struct scsi_lu *lu, struct scsi_pr_image *img,
		    char *err, size_t errlen);
	int (*save)(const struct scsi_lu *lu, const struct scsi_pr_image *img,
		    char *err, size_t errlen);
	int (*remove)(const struct scsi_lu *lu, char *err, size_t errlen);
	/* Names where lu's state is kept, for messages ("/var/...json"). */
	int (*where)(const struct scsi_lu *lu, char *out, size_t len);
};

/* JSON files <dir>/pr/<target>.lun<N>.json (scsi_pr_set_state_dir). */
extern const struct scsi_pr_store_ops scsi_pr_file_store;
/* The store in use; NULL when APTPL is not supported. */
const struct scsi_pr_store_ops *scsi_pr_store(void);

/* ---- opcode rows every device type shares ---- */

/* PERSISTENT RESERVE IN (5Eh), one row per service action (pr_in.c). */
extern const struct scsi_op spc_op_pr_in_read_keys;
extern const struct scsi_op spc_op_pr_in_read_reservation;
extern const struct scsi_op spc_op_pr_in_report_caps;
extern const struct scsi_op spc_op_pr_in_read_full_status;
/* PERSISTENT RESERVE OUT (5Fh), one row per service action (pr_out.c). */
extern const struct scsi_op spc_op_pr_out_register;
extern const struct scsi_op spc_op_pr_out_reserve;
extern const struct scsi_op spc_op_pr_out_release;
extern const struct scsi_op spc_op_pr_out_clear;
extern const struct scsi_op spc_op_pr_out_preempt;
extern const struct scsi_op spc_op_pr_out_preempt_abort;
extern const struct scsi_op spc_op_pr_out_register_ignore;
extern const struct scsi_op spc_op_pr_out_register_move;
/* The rows of 5Eh and 5Fh, in the order of an opcode table, for the
 * tables of the types that take persistent reservations. */
#define SPC_OPS_PERSISTENT_RESERVE                                             \
	&spc_op_pr_in_read_keys, &spc_op_pr_in_read_reservation,               \
	    &spc_op_pr_in_report_caps, &spc_op_pr_in_read_full_status,         \
	    &spc_op_pr_out_register, &spc_op_pr_out_reserve,                   \
	    &spc_op_pr_out_release, &spc_op_pr_out_clear,                      \
	    &spc_op_pr_out_preempt, &spc_op_pr_out_preempt_abort,              \
	    &spc_op_pr_out_register_ignore, &spc_op_pr_out_register_move
/* SPC-2 RESERVE (6)/(10) and RELEASE (6)/(10) (pr.c). */
extern const struct scsi_op spc_op_reserve6;
extern const struct scsi_op spc_op_release6;
extern const struct scsi_op spc_op_reserve10;
extern const struct scsi_op spc_op_release10;

#endif
