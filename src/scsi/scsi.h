/*
 * The contract between a transport (iSCSI today) and the SCSI target core
 * (SAM-5 §4-5): I_T nexuses, commands, their data buffers and completion.
 * Nothing here knows about iSCSI.
 *
 * Life of a command, all on the nexus's reactor thread:
 *   1. The transport fills the "in" fields and calls scsi_cmd_prepare().
 *      It parses the CDB against the device type's opcode table, resolves
 *      the LUN, checks the CDB and allocates buf (xfer_len bytes).
 *      - returns 0: if dir == SCSI_DIR_WRITE the transport now receives
 *        xfer_len bytes of Data-Out into buf, then calls scsi_cmd_execute().
 *      - returns < 0: the command already has its final status and sense
 *        (e.g. CHECK CONDITION / INVALID FIELD IN CDB) and is not
 *        executed. The transport discards any Data-Out sent for it, sends
 *        the response, then calls scsi_cmd_release().
 *   2. scsi_cmd_execute() runs the command; cmd->done(cmd) is called on the
 *      nexus's reactor when it is finished. done may run before execute
 *      returns.
 *   3. After done, the transport sends data_len bytes of buf as Data-In
 *      (for reads), then status/sense, then calls scsi_cmd_release().
 *
 * Residuals (RFC 7143 §11.4.5): with E = edtl, C = cdb_xfer_len and
 * D = bytes actually moved (data_len for reads, xfer_len for writes):
 * if C > E the command overflowed by C - E; else if D < E it underflowed
 * by E - D.
 *
 * Abort: scsi_cmd_abort() asks the core to stop; done is still called
 * exactly once (status TASK ABORTED), so buffers a backing store writes
 * into are never freed early. A task aborted by its own nexus (ABORT
 * TASK, ABORT TASK SET, ...) gets no response.
 *
 * Tasks aborted by another nexus (a LOGICAL UNIT RESET or TARGET RESET
 * from another session, PREEMPT AND ABORT; SAM-5 §5.6) are aborted by the
 * core on the nexus's own reactor, one by one through
 * nexus->ops->abort_cmd(cmd, respond), so that the transport keeps its
 * bookkeeping: respond is true when TAS of the control mode page is one
 * and the task must end with TASK ABORTED status, false when it ends
 * without a response. The transport stops collecting Data-Out for it; a
 * command the core holds (after scsi_cmd_execute) is finished through
 * scsi_cmd_abort and done, never released from inside abort_cmd.
 */
#ifndef LUNAR_SCSI_SCSI_H
#define LUNAR_SCSI_SCSI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bs/bs.h"
#include "scsi/range_lock.h"
#include "scsi/stats.h"
#include "util/list.h"

struct reactor;
struct scsi_target;
struct scsi_lu;
struct scsi_lun_map;
struct scsi_op;
struct scsi_itl;
struct scsi_tpg;

#define SCSI_CDB_MAX	   32
#define SCSI_SENSE_MAX	   252
#define SCSI_NAME_MAX	   224 /* iSCSI names are at most 223 bytes + NUL */
#define SCSI_PORT_NAME_MAX 256

/* SAM status codes */
#define SAM_STAT_GOOD		      0x00
#define SAM_STAT_CHECK_CONDITION      0x02
#define SAM_STAT_CONDITION_MET	      0x04
#define SAM_STAT_BUSY		      0x08
#define SAM_STAT_RESERVATION_CONFLICT 0x18
#define SAM_STAT_TASK_SET_FULL	      0x28
#define SAM_STAT_ACA_ACTIVE	      0x30
#define SAM_STAT_TASK_ABORTED	      0x40

enum scsi_dir {
	SCSI_DIR_NONE = 0,
	SCSI_DIR_READ = 1,  /* Data-In: target to initiator */
	SCSI_DIR_WRITE = 2, /* Data-Out: initiator to target */
};

/*
 * Task management functions (SAM-5 §7) as REPORT SUPPORTED TASK
 * MANAGEMENT FUNCTIONS reports them (SPC-5 §6.36): bytes 0 and 1 of its
 * parameter data, big-endian.
 */
#define SCSI_TMF_ABORT_TASK	   0x8000u /* ATS */
#define SCSI_TMF_ABORT_TASK_SET	   0x4000u /* ATSS */
#define SCSI_TMF_CLEAR_ACA	   0x2000u /* CACAS */
#define SCSI_TMF_CLEAR_TASK_SET	   0x1000u /* CTSS */
#define SCSI_TMF_LU_RESET	   0x0800u /* LURS */
#define SCSI_TMF_QUERY_TASK	   0x0400u /* QTS */
#define SCSI_TMF_QUERY_ASYNC_EVENT 0x0004u /* QAES */
#define SCSI_TMF_QUERY_TASK_SET	   0x0002u /* QTSS */
#define SCSI_TMF_IT_NEXUS_RESET	   0x0001u /* ITNRS */
/*
 * What the core gives a transport the means for: aborting each task
 * (scsi_cmd_abort) and the task set (the transport's own tasks; with TST
 * 001b CLEAR TASK SET clears only the requester's task set, so it is
 * ABORT TASK SET again), resets with the other nexuses' tasks and unit
 * attentions (scsi_lu_reset_by, scsi_target_reset_by), I_T NEXUS RESET
 * (scsi_nexus_reset) and the queries of SAM-5 §7.6-7.8 (the task queries
 * look at the transport's tasks; the unit attention one is
 * scsi_nexus_query_ua). Not CLEAR ACA: the
 * core never enters ACA (NACA=1 is refused).
 */
#define SCSI_TMF_CORE                                                          \
	(SCSI_TMF_ABORT_TASK | SCSI_TMF_ABORT_TASK_SET |                       \
	 SCSI_TMF_CLEAR_TASK_SET | SCSI_TMF_LU_RESET | SCSI_TMF_QUERY_TASK |   \
	 SCSI_TMF_QUERY_ASYNC_EVENT | SCSI_TMF_QUERY_TASK_SET |                \
	 SCSI_TMF_IT_NEXUS_RESET)

enum scsi_task_attr {
	SCSI_TASK_SIMPLE = 0,
	SCSI_TASK_ORDERED = 1,
	SCSI_TASK_HEAD_OF_QUEUE = 2,
	SCSI_TASK_ACA = 3,
};

struct scsi_cmd;

/* What the core asks of the transport of a nexus (see "Abort" above). */
struct scsi_nexus_ops {
	/* On the nexus's reactor: end cmd, a task of this nexus another
	 * nexus aborted, with TASK ABORTED status (respond) or silently. */
	void (*abort_cmd)(struct scsi_cmd *cmd, bool respond);
};

/* An I_T nexus: one initiator port logged in to one target port. */
struct scsi_nexus {
	uint64_t id; /* unique for the daemon's life, never reused */
	struct scsi_target *target;
	struct reactor *reactor;
	char initiator_name[SCSI_NAME_MAX];
	/* SPC-5 iSCSI TransportID form: "<name>,i,0x<ISID hex>" */
	char initiator_port[SCSI_PORT_NAME_MAX];
	/* "<target name>,t,0x<TPGT hex>" */
	char target_port[SCSI_PORT_NAME_MAX];
	uint16_t rel_port_id; /* relative target port identifier */
	uint16_t tpgt;
	/* Core-private: the target port group of this port (tpg.h), whose
	 * access state every command reads; NULL: always active. */
	struct scsi_tpg *tpg;
	/* SCSI_TMF_* the transport carries on this nexus; scsi_nexus_init()
	 * sets SCSI_TMF_CORE, a transport that lacks one clears it. */
	uint16_t tmfs;
	/* Set by the transport after scsi_nexus_init; NULL: the core
	 * aborts other nexuses' tasks with scsi_cmd_abort alone. */
	const struct scsi_nexus_ops *ops;
	/* Core-private: the LUN map in force for this nexus and its
	 * generation; refreshed lazily when the target's map changes. */
	struct scsi_lun_map *lun_map;
	uint64_t lun_gen;
	/* Core-private: per I_T_L state, parallel to lun_map->ent. */
	struct scsi_itl **itl;
	/* Its commands' statistics (stats.h), written by its reactor. */
	struct scsi_io_stats stats;
};

struct scsi_cmd {
	/* in: set by the transport before scsi_cmd_prepare() */
	struct scsi_nexus *nexus;
	uint8_t cdb[SCSI_CDB_MAX];
	uint8_t cdb_len;
	uint8_t lun_raw[8]; /* SAM-5 LUN field as on the wire */
	uint64_t tag;	    /* transport task tag (iSCSI ITT) */
	enum scsi_task_attr attr;
	uint32_t edtl;	    /* expected data transfer length */
	enum scsi_dir edir; /* direction the initiator declared */
	void (*done)(struct scsi_cmd *cmd);
	void *transport_priv;

	/* out of prepare */
	enum scsi_dir dir;     /* direction the CDB implies */
	uint32_t cdb_xfer_len; /* bytes the CDB asks to move */
	uint32_t xfer_len;     /* bytes to move on the wire: min(edtl, cdb) */
	uint8_t *buf;	       /* xfer_len bytes, owned by the core */

	/* out of execute */
	uint8_t status;
	uint16_t sense_len;
	uint8_t sense[SCSI_SENSE_MAX];
	uint32_t data_len; /* valid Data-In bytes in buf */

	/* core-private */
	struct scsi_lu *lu;
	struct scsi_itl *itl; /* the I_T_L nexus; NULL for a LUN without LU */
	const struct scsi_op *op;
	uint64_t lba;
	uint32_t nr_blocks;
	unsigned flags;
	bool aborted;
	/* The ITL's task generation at prepare (ua.h, cross-nexus abort);
	 * whether a cross-nexus abort reached it, and whether it is counted
	 * in lu->nr_aborting until it completes. */
	uint32_t task_gen;
	bool xabort_seen, xabort_counted;
	struct bs_req bs;
	/* The blocks a write holds in its LU's range lock (range_lock.h). */
	struct scsi_range_req range;
	struct list_head lu_link;
	/* Statistics (stats.c): when prepare began; whether the command
	 * will be counted, and whether it is in the queue depth. */
	uint64_t stats_start_ns;
	bool stats_open, stats_queued;
};

/* Core initialisation, once, on the main thread, before any reactor runs. */
int scsi_core_init(struct reactor *main_reactor);
void scsi_core_exit(void);

/*
 * Nexus life. init is called at login with the config read lock held
 * (scsi_config_rdlock); release at session end (I_T nexus loss: per-ITL
 * state such as unit attentions of this nexus is dropped).
 */
void scsi_nexus_init(struct scsi_nexus *n, struct scsi_target *t,
		     struct reactor *r, const char *initiator_name,
		     const char *initiator_port, uint16_t tpgt);
void scsi_nexus_release(struct scsi_nexus *n);

int scsi_cmd_prepare(struct scsi_cmd *cmd);
void scsi_cmd_execute(struct scsi_cmd *cmd);
void scsi_cmd_abort(struct scsi_cmd *cmd);
void scsi_cmd_release(struct scsi_cmd *cmd);

/*
 * Task management at the LU (SAM-5 §7). The transport aborts the tasks of
 * its own nexus (it knows which tasks it has handed over); these abort the
 * other nexuses' tasks (asynchronously, on their reactors, see "Abort")
 * and establish the unit attentions the nexuses must see.
 *
 * scsi_lu_reset_by: LOGICAL UNIT RESET (SAM-5 §6.3.3): every other
 * nexus's tasks on the LU are aborted, BUS DEVICE RESET FUNCTION OCCURRED
 * for every nexus (the one that asked included), prevention of medium
 * removal and SPC-2 reservations end.
 * scsi_target_reset_by: TARGET WARM/COLD RESET, the same for every LU the
 * nexus reaches.
 * scsi_nexus_reset: I_T NEXUS RESET (SAM-5 §7.7): the I_T nexus loss
 * functions for this nexus on every LU it has used: I_T NEXUS LOSS
 * OCCURRED, its prevention of medium removal and SPC-2 reservation end
 * (scsi_pr_nexus_lost); the nexus itself stays.
 */
void scsi_lu_reset_by(struct scsi_nexus *n, const uint8_t lun_raw[8]);
void scsi_target_reset_by(struct scsi_nexus *n);
void scsi_nexus_reset(struct scsi_nexus *n);
/*
 * Whether tasks of other nexuses that a reset aborted on the LU lun_raw
 * names (every LU of the nexus when lun_raw is NULL) may still be in a
 * backing store's hands. A transport confirms a reset only once this is
 * false, so that no write of an aborted task lands after the initiator was
 * told the reset is complete. Counts every cross-nexus abort on the LU,
 * not only this nexus's (never shorter than needed, possibly longer).
 */
bool scsi_nexus_aborts_pending(struct scsi_nexus *n, const uint8_t lun_raw[8]);
/* Whether lun_raw names a LU this nexus can reach (for TMF answers). */
bool scsi_nexus_has_lun(struct scsi_nexus *n, const uint8_t lun_raw[8]);
/* The LU lun_raw names for this nexus, or NULL; on the nexus's reactor,
 * valid while the nexus holds its LUN map (until its next command). */
struct scsi_lu *scsi_nexus_lu(struct scsi_nexus *n, const uint8_t lun_raw[8]);
/*
 * QUERY ASYNCHRONOUS EVENT (SAM-5 §7.6): the unit attentions pending for
 * this nexus on the LU, without clearing any. Returns how many (0: none)
 * and the one a command would report next in *asc and *ascq; -ENXIO when
 * the nexus cannot reach the LU, -ENOMEM.
 */
int scsi_nexus_query_ua(struct scsi_nexus *n, const uint8_t lun_raw[8],
			uint8_t *asc, uint8_t *ascq);

/* Sets CHECK CONDITION with the given sense key / ASC / ASCQ. */
void scsi_cmd_set_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc,
			uint8_t ascq);

#endif
