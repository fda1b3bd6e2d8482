/*
 * The device-type template (DESIGN.md §1 and §6). A device type (disk
 * today; later CD/DVD, tape, changer) is one file that defines a
 * struct scsi_device_type and registers it with
 * SCSI_DEVICE_TYPE_REGISTER(); the core never knows which type it runs.
 *
 * Its opcode table is the one source of truth for dispatch, CDB length
 * checks and REPORT SUPPORTED OPERATION CODES (spc.c): each row names the
 * opcode (and service action), the CDB length, the data direction, the CDB
 * usage bitmap, the command timeouts and two functions:
 *   parse    runs in scsi_cmd_prepare(), before any Data-Out: checks the
 *            CDB and fills cmd->cdb_xfer_len (and lba/nr_blocks). Returns
 *            0, or a negative errno after setting the sense.
 *   execute  runs the command. Returns 0 when it is finished (status and
 *            data_len set), or -EINPROGRESS when it will call
 *            scsi_cmd_complete() later on the nexus's reactor.
 * Commands every type shares (SPC-5) are rows defined once in spc.c and
 * referenced from each type's table. Registration checks that the table
 * is consistent (one row per opcode or opcode/service action, usage data
 * that starts with the opcode and carries the service action) and stops
 * the program otherwise: a wrong table is a programming error.
 */
#ifndef LUNAR_SCSI_DEVICE_H
#define LUNAR_SCSI_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scsi/scsi.h"
#include "scsi/target.h"
#include "util/list.h"

struct scsi_sense_info;
struct bs_ops;
struct bs_dev;

/* Vendor identification of every LU (SPC-5 §6.7.2, 8 bytes, padded). */
#define SCSI_VENDOR_ID "LUNAR"

/* Peripheral device types (SPC-5 §6.7.2, table 148) */
#define SCSI_PDT_DISK	 0x00
#define SCSI_PDT_TAPE	 0x01 /* sequential-access device (SSC-5) */
#define SCSI_PDT_CDROM	 0x05 /* CD/DVD device (MMC-6) */
#define SCSI_PDT_CHANGER 0x08 /* medium changer (SMC-3) */
#define SCSI_PDT_UNKNOWN 0x1f
/* Peripheral qualifier 011b: no device can exist at this LUN. */
#define SCSI_PQ_NOT_CAPABLE 0x60

/* struct scsi_op.flags */
#define SCSI_OP_UA_OK  (1u << 0) /* runs while a unit attention is pending */
#define SCSI_OP_WRITES (1u << 1) /* changes the medium: refused when r/o */
#define SCSI_OP_SA     (1u << 2) /* the row is one service action */
#define SCSI_OP_BLOCKS (1u << 3) /* the data are whole logical blocks */
/* Needs the medium: refused with the type's lu_ready sense (NOT READY,
 * MEDIUM NOT PRESENT or SANITIZE IN PROGRESS) while the LU is not ready. */
#define SCSI_OP_MEDIUM (1u << 4)
/* Asymmetric access (SPC-5 §5.16.2.4, tpg.c): the command runs while the
 * target port group is standby (ALUA_STANDBY), and also while it is
 * unavailable or transitioning (ALUA_UNAVAIL); any other gets NOT READY
 * with the state's ASCQ there. Active states run everything. */
#define SCSI_OP_ALUA_STANDBY (1u << 5)
#define SCSI_OP_ALUA_UNAVAIL (1u << 6)
#define SCSI_OP_ALUA_ANY     (SCSI_OP_ALUA_STANDBY | SCSI_OP_ALUA_UNAVAIL)
/*
 * Reservation classes, bits 8-15 (pr.c): how the command fares while
 * another I_T nexus holds a reservation, after SPC-5 §5.13.1 table 64
 * ("SPC commands that are allowed in the presence of various
 * reservations") and its SBC-4 counterpart for SBC commands.
 * Exactly one of ALLOW, READ and WRITE, against a persistent reservation
 * held by another I_T nexus:
 *   ALLOW  always runs (INQUIRY, REPORT LUNS, READ CAPACITY, PR IN ...).
 *   READ   runs under the Write Exclusive types; under the Exclusive
 *          Access types only from a registrant of a registrants only or
 *          all registrants reservation (READ, VERIFY, MODE SENSE ...).
 *   WRITE  runs only from a registrant of a registrants only or all
 *          registrants reservation (WRITE, MODE SELECT, SANITIZE ...).
 * A row with none of them is treated as WRITE: a command nobody
 * classified is never silently allowed. Against an SPC-2 reservation
 * (RESERVE (6)/(10)) held by another I_T nexus every command conflicts
 * unless the row has SCSI_OP_PR_SPC2_OK (INQUIRY, REPORT LUNS, REQUEST
 * SENSE, RELEASE, PR IN REPORT CAPABILITIES ...).
 */
#define SCSI_OP_PR_ALLOW   (1u << 8)
#define SCSI_OP_PR_READ	   (2u << 8)
#define SCSI_OP_PR_WRITE   (3u << 8)
#define SCSI_OP_PR_CLASS   (3u << 8) /* the mask of the three */
#define SCSI_OP_PR_SPC2_OK (1u << 10)
/* Informational commands allowed under any reservation of any kind. */
#define SCSI_OP_PR_ANY (SCSI_OP_PR_ALLOW | SCSI_OP_PR_SPC2_OK)

/*
 * Defines one table row: var is a `const struct scsi_op` (prefix the
 * macro with `static` for a file-local row); the variadic part is the CDB
 * usage bitmap.
 */
#define SCSI_OP_ROW(var, nm, opc, len, d, fl, prs, exe, tmo, ...)              \
	const struct scsi_op var = {                                           \
	    .name = (nm),                                                      \
	    .opcode = (opc),                                                   \
	    .cdb_len = (len),                                                  \
	    .dir = (d),                                                        \
	    .flags = (fl),                                                     \
	    .parse = (prs),                                                    \
	    .execute = (exe),                                                  \
	    .usage = {__VA_ARGS__},                                            \
	    .timeouts = tmo,                                                   \
	}

/* Most rows a device type's table may have: bounds the all_commands data
 * of REPORT SUPPORTED OPERATION CODES (20 bytes a row with timeouts). */
#define SCSI_OPS_MAX 128

/*
 * Command timeouts descriptor (SPC-5 §6.35.4), in seconds: how long the
 * command nominally takes before an initiator should ask for progress,
 * and how long it should wait before giving up (0: none indicated).
 */
struct scsi_op_timeouts {
	uint32_t nominal;
	uint32_t recommended;
};

/* clang-format off */
/* Answered from memory on the reactor. */
#define SCSI_TIMEOUTS_MEMORY {.nominal = 1, .recommended = 10}
/* One backing store request of at most the Block Limits maximum. */
#define SCSI_TIMEOUTS_IO     {.nominal = 1, .recommended = 30}
/* A flush of whatever the store has cached. */
#define SCSI_TIMEOUTS_FLUSH  {.nominal = 5, .recommended = 60}
/* clang-format on */

struct scsi_op {
	const char *name;
	uint8_t opcode;
	uint16_t service_action; /* with SCSI_OP_SA */
	uint8_t cdb_len;
	enum scsi_dir dir;
	unsigned flags;
	/* Most Data-In bytes the command produces whatever its allocation
	 * length (0: as many as the CDB asks, e.g. logical blocks). Bounds
	 * the buffer; the residual still follows from data_len. */
	uint32_t max_data;
	int (*parse)(struct scsi_cmd *cmd);
	int (*execute)(struct scsi_cmd *cmd);
	/*
	 * Optional, for a command whose execute can last long after its
	 * data are no longer needed (SANITIZE without IMMED waits for the
	 * whole operation): called on the nexus's reactor when the running
	 * command is aborted, so that it finishes (scsi_cmd_complete) soon
	 * instead of holding the task management response back. Without it
	 * an aborted command finishes when its work does.
	 */
	void (*abort)(struct scsi_cmd *cmd);
	/*
	 * NULL: every LU of the type supports the command. Otherwise whether
	 * this LU does (UNMAP only on a thin LU): for a LU that does not, the
	 * row is absent, in dispatch (INVALID COMMAND OPERATION CODE, or
	 * INVALID FIELD IN CDB for its service action) and in REPORT
	 * SUPPORTED OPERATION CODES alike.
	 */
	bool (*supported)(const struct scsi_lu *lu);
	/*
	 * CDB USAGE DATA (SPC-5 §6.35.3), cdb_len bytes: the opcode, the
	 * service action in the place of the SERVICE ACTION field, and
	 * elsewhere a one for every bit the device server examines (it
	 * rejects the values it does not support, or acts on them) and a
	 * zero for the bits it ignores. Hints the device server always
	 * satisfies, such as DPO (it keeps no cache of its own to prefer),
	 * count as examined; the CONTROL byte is 05h, NACA and LINK, which
	 * the core checks.
	 */
	uint8_t usage[SCSI_CDB_MAX];
	struct scsi_op_timeouts timeouts;
};

/* Mode parameters (SPC-5 §7.5): the PC field of MODE SENSE. */
enum scsi_mode_pc {
	SCSI_MODE_PC_CURRENT = 0,
	SCSI_MODE_PC_CHANGEABLE = 1,
	SCSI_MODE_PC_DEFAULT = 2,
	SCSI_MODE_PC_SAVED = 3,
};

struct scsi_mode_page {
	uint8_t code;
	uint8_t len; /* whole page, header included */
	/* Fills a zeroed page of len bytes (header included) with the
	 * default values (PC_DEFAULT) or the changeable mask (PC_CHANGEABLE);
	 * the mode page model (mode.c) keeps current and saved values. */
	void (*build)(const struct scsi_lu *lu, enum scsi_mode_pc pc,
		      uint8_t *out);
	/* Optional, for a page that also reports state (MMC's mechanical
	 * status: whether the medium is locked): patches cur, a copy of
	 * the current values MODE SENSE returns. Runs under lu->lock. */
	void (*sense_current)(const struct scsi_lu *lu, uint8_t *cur);
};

#define SCSI_VPD_MAX 1024 /* largest VPD page any builder writes */

struct scsi_vpd_page {
	uint8_t code;
	/* Writes the page after its 4-byte header (at most
	 * SCSI_VPD_MAX - 4 bytes); returns the page length. */
	size_t (*build)(const struct scsi_cmd *cmd, uint8_t *out);
};

struct scsi_device_type {
	const char *name;    /* "disk" */
	uint8_t pdt;	     /* peripheral device type */
	const char *product; /* INQUIRY PRODUCT IDENTIFICATION, <= 16 */
	/* Version descriptors (SPC-5 §6.7.2) of the command set; 0 ends. */
	uint16_t versions[4];
	const struct scsi_op *const *ops;
	unsigned nr_ops;
	/* VPD pages beyond 00h, 80h and 83h, in ascending page order. */
	const struct scsi_vpd_page *vpd_pages;
	unsigned nr_vpd_pages;
	/* Mode pages beyond control and informational exceptions. */
	const struct scsi_mode_page *mode_pages;
	unsigned nr_mode_pages;
	/* Whether lun resize may change the LU's capacity (a disk's, with
	 * CAPACITY DATA HAS CHANGED); a disc, a cartridge and a library
	 * have the size of their medium. */
	bool resizable;
	/* MODE SENSE of page 00h (vendor specific) returns the header and
	 * the block descriptor and no page, as tape drives do: Linux st
	 * learns the block length, density and write protection that way
	 * at every open. Without it, page 00h is INVALID FIELD IN CDB. */
	bool mode_page_zero;
	/* DEVICE-SPECIFIC PARAMETER of the mode parameter header. */
	uint8_t (*mode_device_param)(const struct scsi_lu *lu);
	/* Writes the mode block descriptor (8 bytes, or 16 when long_lba)
	 * and returns its length; NULL if the type has none. */
	size_t (*mode_block_descriptor)(const struct scsi_lu *lu, bool long_lba,
					uint8_t *out);
	/*
	 * Optional: MODE SELECT of the mode parameter header's
	 * DEVICE-SPECIFIC PARAMETER and of the block descriptor, for a type
	 * whose parameters there change (a tape's BUFFERED MODE, density
	 * and block length). Without it the device-specific parameter is
	 * ignored and a block descriptor must be what MODE SENSE reports.
	 * mode_select_check runs before anything changes: bd is the 8-byte
	 * descriptor (NULL when the list has none) at byte bd_off of the
	 * parameter list; returns 0, or -EINVAL with the sense set
	 * (INVALID FIELD IN PARAMETER LIST). mode_select_apply then makes
	 * them current, with the pages (any thread; takes its own locks).
	 */
	int (*mode_select_check)(struct scsi_cmd *cmd, uint8_t dev_param,
				 const uint8_t *bd, size_t bd_off);
	void (*mode_select_apply)(struct scsi_lu *lu, uint8_t dev_param,
				  const uint8_t *bd);
	/*
	 * Checks the LU parameters that belong to the type (block size,
	 * thin provisioning, physical block size, medium rules) for a LU on
	 * a store of type ops (NULL: not known yet, as when a configuration
	 * file is read) and fills in the type's defaults (block_size when
	 * 0, a power of two from 512 to 65536). Returns 0, or a negative
	 * errno with a message for admins in err. Runs on the main thread,
	 * before anything is opened.
	 */
	int (*check_params)(struct scsi_lu_params *p, const struct bs_ops *ops,
			    char *err, size_t errlen);
	/*
	 * Optional: a medium the admin takes out and puts in (lun eject,
	 * lun load; main thread). medium_eject is a START STOP UNIT eject
	 * of no I_T nexus: -EBUSY while a nexus prevents removal, unless
	 * force. medium_load puts it back; with bs (a store already open,
	 * of nr_blocks blocks) it first replaces the store of an ejected
	 * medium (-EBUSY if it is in), once no request of the type uses
	 * the old one, which it returns in *old for the caller to close;
	 * lu->params.backing already names the new medium then.
	 */
	int (*medium_eject)(struct scsi_lu *lu, bool force);
	int (*medium_load)(struct scsi_lu *lu, struct bs_dev *bs,
			   uint64_t nr_blocks, struct bs_dev **old);
	/*
	 * A LU without a medium of its own (a medium changer): its backing
	 * names the type's own state, which lu_init reads, not a store.
	 * The generic LU code gives it the null store of one block, whatever
	 * bstype says, so that every LU still has a store.
	 */
	bool no_medium;
	/*
	 * A LU of the type may be created without a medium (no backing):
	 * an empty drive that lun load (or a media changer, through
	 * scsi_lu_load) fills later. Its lu->bs is NULL and medium_absent
	 * set until then; lu_init and every hook must allow for that.
	 */
	bool medium_optional;
	/* Sets up / tears down lu->dtype_priv. lu_init returns 0 or -errno;
	 * a failure an admin must be told of in the type's words (a state
	 * file that does not parse: which file, what is wrong) is written
	 * to err, otherwise the caller says what the errno means. */
	int (*lu_init)(struct scsi_lu *lu, char *err, size_t errlen);
	/*
	 * Optional, main thread: lu and peer are LUs of the same target and
	 * one of them was just created (published in the LUN map): called
	 * for every existing LU when lu is created, and on every LU of the
	 * target whose type has it when peer is created. A medium changer
	 * makes its drives' media agree with its inventory this way,
	 * whichever of them the configuration creates first.
	 */
	void (*lu_peer_created)(struct scsi_lu *lu, struct scsi_lu *peer);
	void (*lu_exit)(struct scsi_lu *lu);
	/* Whether commands that need the medium (SCSI_OP_MEDIUM) may run
	 * now; if not, fills si with why (NOT READY, with a progress
	 * indication where there is one). REQUEST SENSE reports it too.
	 * NULL: always ready. */
	bool (*lu_ready)(const struct scsi_lu *lu, struct scsi_sense_info *si);

	/* Filled by registration. */
	struct list_head link;
	uint16_t index[256]; /* 1 + position of the opcode's row; 0: none */
};

/* Builds the opcode index; registers the type unless it has no name. */
void scsi_device_type_register(struct scsi_device_type *dt);
/* The registered type of that name; "" or NULL: the default, "disk". */
const struct scsi_device_type *scsi_device_type_find(const char *name);
/* "disk, cd, ...": the registered types' names, for messages. */
void scsi_device_type_names(char *buf, size_t len);
#define SCSI_DEVICE_TYPE_DEFAULT "disk"

#define SCSI_DEVICE_TYPE_REGISTER(dt)                                          \
	static void __attribute__((constructor))                               \
	scsi_dtype_register_##dt(void)                                         \
	{                                                                      \
		scsi_device_type_register(&(dt));                              \
	}

/*
 * The row for cdb in dt's table. NULL with *sa_unknown set when the
 * opcode is known but not the service action.
 */
const struct scsi_op *scsi_op_lookup(const struct scsi_device_type *dt,
				     const uint8_t *cdb, bool *sa_unknown);
/* The first row of opcode in dt's table, NULL if the type does not support
 * it; its SCSI_OP_SA flag tells whether the opcode has service actions. */
const struct scsi_op *scsi_opcode_first(const struct scsi_device_type *dt,
					uint8_t opcode);
/* The row of opcode and service action sa (sa is not looked at for an
 * opcode without service actions); NULL if there is none. */
const struct scsi_op *scsi_op_find(const struct scsi_device_type *dt,
				   uint8_t opcode, uint16_t sa);
/* The service action of a CDB whose opcode has them. */
uint16_t scsi_cdb_service_action(const uint8_t *cdb);

/* SAM-5 §4.7: single level LUN, peripheral or flat space addressing. */
bool scsi_lun_decode(const uint8_t raw[8], uint64_t *lun);
void scsi_lun_encode(uint64_t lun, uint8_t raw[8]);

/* ---- services of the core to handlers (core.c) ---- */

/* Finishes a command whose execute returned -EINPROGRESS. */
void scsi_cmd_complete(struct scsi_cmd *cmd);
/* Copies up to xfer_len bytes of data into buf; sets data_len. */
void scsi_cmd_put_data(struct scsi_cmd *cmd, const void *data, size_t len);
/*
 * Parameter data built piece by piece into the Data-In buffer: what fits
 * in the allocation length is copied, the rest only counted, so that
 * length fields can report the whole answer. scsi_data_in_finish sets
 * data_len.
 */
struct scsi_data_in {
	uint8_t *buf;
	size_t cap; /* cmd->xfer_len */
	size_t len; /* of the whole answer */
};

static inline void scsi_data_in_init(struct scsi_data_in *o,
				     struct scsi_cmd *cmd)
{
	o->buf = cmd->buf;
	o->cap = cmd->xfer_len;
	o->len = 0;
}

static inline void scsi_data_in_put(struct scsi_data_in *o, const void *p,
				    size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len;

		memcpy(o->buf + o->len, p, n < room ? n : room);
	}
	o->len += n;
}

static inline void scsi_data_in_finish(struct scsi_cmd *cmd,
				       const struct scsi_data_in *o)
{
	cmd->data_len = (uint32_t)(o->len < o->cap ? o->len : o->cap);
}

/* Number of logical blocks of the LU. */
static inline uint64_t scsi_lu_blocks(const struct scsi_lu *lu)
{
	return atomic_load_explicit(&lu->nr_blocks, memory_order_relaxed);
}
/* Whether tasks of the LU aborted on behalf of another nexus (reset,
 * PREEMPT AND ABORT) are still on their way out (scsi.h). */
static inline bool scsi_lu_aborting(const struct scsi_lu *lu)
{
	return atomic_load_explicit(&lu->nr_aborting, memory_order_acquire);
}
/* Read-only by configuration or because the store is (an empty drive
 * has none). */
static inline bool scsi_lu_readonly(const struct scsi_lu *lu)
{
	return lu->params.readonly || (lu->bs && lu->bs->readonly);
}
/*
 * LOGICAL BLOCK ADDRESS OUT OF RANGE unless [lba, lba + nr) lies on the
 * medium. Returns 0 or -ERANGE (sense set).
 */
int scsi_cmd_check_lba(struct scsi_cmd *cmd, uint64_t lba, uint64_t nr);

/* ---- inside the core ---- */

/* The main thread's reactor given to scsi_core_init() (NULL before or
 * after), and whether the caller runs on the main thread. */
struct reactor *scsi_core_main_reactor(void);
bool scsi_core_on_main_thread(void);

/* ---- SPC-5 commands every device type shares (spc.c) ---- */

extern const struct scsi_op spc_op_test_unit_ready;
extern const struct scsi_op spc_op_request_sense;
extern const struct scsi_op spc_op_inquiry;
extern const struct scsi_op spc_op_mode_sense6;
extern const struct scsi_op spc_op_mode_sense10;
/* MODE SELECT (6)/(10) (mode.c), REPORT TARGET PORT GROUPS (tpg.c). */
extern const struct scsi_op spc_op_mode_select6;
extern const struct scsi_op spc_op_mode_select10;
extern const struct scsi_op spc_op_report_tpgs;
/* MAINTENANCE OUT: SET TARGET PORT GROUPS (tpg.c). */
extern const struct scsi_op spc_op_set_tpgs;
extern const struct scsi_op spc_op_report_luns;
/* MAINTENANCE IN: REPORT SUPPORTED OPERATION CODES, REPORT SUPPORTED TASK
 * MANAGEMENT FUNCTIONS. */
extern const struct scsi_op spc_op_report_opcodes;
extern const struct scsi_op spc_op_report_tmfs;
/* What a LUN without a logical unit answers (SPC-5 "incorrect logical
 * unit selection"): INQUIRY, REPORT LUNS, REQUEST SENSE. */
extern struct scsi_device_type spc_no_lu_type;
/* D_SENSE of the LU's control mode page (fixed format for no LU;
 * mode.c). */
bool spc_lu_d_sense(const struct scsi_lu *lu);

#endif
