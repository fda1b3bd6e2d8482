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
 * exactly once (status meaningless), so buffers a backing store writes
 * into are never freed early. The transport sends no response for it.
 */
#ifndef LUNAR_SCSI_SCSI_H
#define LUNAR_SCSI_SCSI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bs/bs.h"
#include "scsi/range_lock.h"
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
/* What the core gives a transport the means for: aborting each task
 * (scsi_cmd_abort) and the unit attentions of a reset (scsi_lu_reset_by). */
#define SCSI_TMF_CORE                                                          \
	(SCSI_TMF_ABORT_TASK | SCSI_TMF_ABORT_TASK_SET | SCSI_TMF_LU_RESET)

enum scsi_task_attr {
	SCSI_TASK_SIMPLE = 0,
	SCSI_TASK_ORDERED = 1,
	SCSI_TASK_HEAD_OF_QUEUE = 2,
	SCSI_TASK_ACA = 3,
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
	/* Core-private: the LUN map in force for this nexus and its
	 * generation; refreshed lazily when the target's map changes. */
	struct scsi_lun_map *lun_map;
	uint64_t lun_gen;
	/* Core-private: per I_T_L state, parallel to lun_map->ent. */
	struct scsi_itl **itl;
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
	struct bs_req bs;
	/* The blocks a write holds in its LU's range lock (range_lock.h). */
	struct scsi_range_req range;
	struct list_head lu_link;
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

/* Task management at the LU (SAM-5 §7). The transport aborts its own
 * tasks; these establish the unit attentions the nexuses must see. */
void scsi_lu_reset_by(struct scsi_nexus *n, const uint8_t lun_raw[8]);
/* A target reset (TARGET WARM/COLD RESET): every LU the nexus reaches. */
void scsi_target_reset_by(struct scsi_nexus *n);
/* Whether lun_raw names a LU this nexus can reach (for TMF answers). */
bool scsi_nexus_has_lun(struct scsi_nexus *n, const uint8_t lun_raw[8]);

/* Sets CHECK CONDITION with the given sense key / ASC / ASCQ. */
void scsi_cmd_set_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc,
			uint8_t ascq);

#endif
