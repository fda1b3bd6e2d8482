/*
 * The medium changer (SMC-3): a virtual tape or disc library whose
 * inventory is the LU's state file (smc_state.c) and whose drives are
 * other LUs of the same target (tape or cd) that take the
 * cartridge's file as their medium (scsi_lu_load / scsi_lu_eject).
 * Its opcode table and the commands of SMC-3 clause 6 it implements:
 *   READ ELEMENT STATUS (§6.11): every element type or one, from a
 *   starting address, VOLTAG (primary volume tag), DVCID (the drive's T10
 *   vendor ID based designator, as its VPD page 83h reports it), CURDATA
 *   (always current: nothing moves to find out);
 *   MOVE MEDIUM (§6.7): between slots, mail slots and drives; a move to or
 *   from a drive loads or ejects the drive LU on the main thread;
 *   INITIALIZE ELEMENT STATUS (§6.3) and WITH RANGE (§6.4), POSITION TO
 *   ELEMENT (§6.8): the inventory is always known, so they check their
 *   addresses and succeed at once;
 *   PREVENT ALLOW MEDIUM REMOVAL (§6.10 and SPC-5): per I_T nexus, locks
 *   the import/export elements against the operator (lunarctl);
 *   mode pages 1Dh element address assignment, 1Eh transport geometry
 *   and 1Fh device capabilities (§7.3). INQUIRY, REQUEST SENSE, TEST UNIT
 *   READY, MODE SENSE/SELECT, REPORT LUNS, REPORT SUPPORTED OPERATION
 *   CODES, reservations are the rows of spc.c, mode.c and pr.c. EXCHANGE
 *   MEDIUM is not in the table (INVALID COMMAND OPERATION CODE).
 *
 * The operator's side (lunarctl changer) and the drives' media at LU
 * creation are smc_admin.c's; the library model and its file
 * smc_state.c's.
 *
 * Threads: the library (struct smc_lu.lib) is read by READ ELEMENT STATUS
 * on any reactor under smc_lu.lock and changed only on the main thread
 * (MOVE MEDIUM is posted there; lunarctl runs there), each change on a
 * copy written to the state file first, then swapped in under the lock.
 * A MOVE MEDIUM holds a reference on its changer LU; the command itself
 * stays valid until scsi_cmd_complete (scsi.h), so an abort, a LU reset
 * or a dying session only waits for the move, which lasts as long as a
 * drive load (at most about 10 s, mmc.c). An aborted move still happens
 * whole (the robot does not stop half way); its initiator learns where
 * the cartridge is from READ ELEMENT STATUS. The drive LU is looked up on
 * the main thread, which alone changes the LUN maps, so no reference on
 * it crosses threads.
 */
#include "scsi/smc.h"
#include "scsi/smc_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/reactor.h"
#include "scsi/device.h"
#include "scsi/pr.h"
#include "scsi/sense.h"
#include "scsi/ua.h"
#include "util/bytes.h"
#include "util/log.h"

#define SMC_VERSION_SMC3 0x0480
#define SMC_COUNT(a)	 (sizeof(a) / sizeof((a)[0]))

/* SMC-3 sense codes (SPC-5 annex D). */
#define SMC_ASC_INVALID_ELEMENT 0x21, 0x01
#define SMC_ASC_DEST_FULL	0x3b, 0x0d
#define SMC_ASC_SOURCE_EMPTY	0x3b, 0x0e
#define SMC_ASC_DT_REMOVED	0x3b, 0x1a
#define SMC_ASC_CANNOT_LOAD	0x30, 0x00 /* INCOMPATIBLE MEDIUM INSTALLED */

/* ---- READ ELEMENT STATUS ---- */

#define SMC_RES_VOLTAG	0x10 /* byte 1 */
#define SMC_RES_DVCID	0x01 /* byte 6 */
#define SMC_RES_CURDATA 0x02
#define SMC_DESC_BASE	12
#define SMC_VOLTAG_LEN	36
#define SMC_DVCID_LEN	(4 + SMC_DVCID_MAX)

static int smc_res_parse(struct scsi_cmd *cmd)
{
	if ((cmd->cdb[1] & 0x0f) > SMC_ET_DT) {
		scsi_cmd_set_invalid_field(cmd, 1, 3);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be24(cmd->cdb + 7);
	return 0;
}

static size_t smc_desc_len(enum smc_etype type, bool voltag, bool dvcid)
{
	size_t len = SMC_DESC_BASE;

	if (voltag)
		len += SMC_VOLTAG_LEN;
	if (dvcid && type == SMC_ET_DT)
		len += SMC_DVCID_LEN;
	return len;
}

/* One element descriptor (SMC-3 §6.11.4-7) of desc_len bytes. */
static void smc_desc_build(const struct smc_elem *e, enum smc_etype type,
			   uint16_t addr, bool voltag, bool dvcid, uint8_t *d)
{
	size_t off = SMC_DESC_BASE;

	put_be16(d, addr);
	if (e->cart)
		d[2] |= 0x01; /* FULL */
	switch (type) {
	case SMC_ET_IE:
		/* INENAB, EXENAB, ACCESS; IMPEXP when the operator put it
		 * there. */
		d[2] |= 0x20 | 0x10 | 0x08;
		if (e->cart && e->impexp)
			d[2] |= 0x02;
		break;
	case SMC_ET_ST:
	case SMC_ET_DT:
		d[2] |= 0x08; /* ACCESS */
		break;
	default:
		break;
	}
	/* The drive's LUN on this target, where the 3-bit field holds it
	 * (LU VALID), for software that matches drives by address. */
	if (type == SMC_ET_DT && e->lun < 8)
		d[6] = (uint8_t)(0x10 | e->lun);
	if (type == SMC_ET_DT && !e->dvcid[0]) {
		d[2] |= 0x04; /* EXCEPT: the drive LU is not there */
		d[4] = 0x3b;
		d[5] = 0x1a;
	}
	if (e->cart && e->svalid) {
		d[9] = 0x80; /* SVALID */
		put_be16(d + 10, e->src);
	}
	if (voltag) {
		if (e->cart) {
			size_t n = strlen(e->cart->barcode);

			memset(d + off, ' ', SMC_BARCODE_MAX);
			memcpy(d + off, e->cart->barcode, n);
			/* VOLUME SEQUENCE NUMBER 0 */
		}
		off += SMC_VOLTAG_LEN;
	}
	if (dvcid && type == SMC_ET_DT) {
		size_t n = strlen(e->dvcid);

		d[off] = 0x02;	   /* CODE SET: ASCII */
		d[off + 1] = 0x01; /* IDENTIFIER TYPE: T10 vendor ID based */
		d[off + 3] = (uint8_t)n;
		memcpy(d + off + 4, e->dvcid, n);
	}
}

struct smc_res {
	struct scsi_data_in out;
	enum smc_etype want;
	uint16_t start;
	unsigned left; /* NUMBER OF ELEMENTS still to report */
	bool voltag, dvcid;
	unsigned reported;
	uint16_t first;
};

/* The page of one element type: the elements from start on, up to left. */
static void smc_res_page(struct smc_res *r, const struct smc_elem *v,
			 unsigned n, enum smc_etype type)
{
	size_t dlen = smc_desc_len(type, r->voltag, r->dvcid);
	uint8_t hdr[8], d[SMC_DESC_BASE + SMC_VOLTAG_LEN + SMC_DVCID_LEN];
	unsigned from = 0, count;

	if (r->want != SMC_ET_ALL && r->want != type)
		return;
	while (from < n && smc_lib_addr(type, from) < r->start)
		from++;
	count = n - from < r->left ? n - from : r->left;
	if (!count)
		return;
	memset(hdr, 0, sizeof(hdr));
	hdr[0] = (uint8_t)type;
	hdr[1] = r->voltag ? 0x80 : 0; /* PVOLTAG */
	put_be16(hdr + 2, (uint16_t)dlen);
	put_be24(hdr + 5, (uint32_t)(dlen * count));
	scsi_data_in_put(&r->out, hdr, sizeof(hdr));
	if (!r->reported)
		r->first = smc_lib_addr(type, from);
	for (unsigned i = from; i < from + count; i++) {
		memset(d, 0, sizeof(d));
		smc_desc_build(&v[i], type, smc_lib_addr(type, i), r->voltag,
			       r->dvcid, d);
		scsi_data_in_put(&r->out, d, dlen);
	}
	r->reported += count;
	r->left -= count;
}

/* The element status data (SMC-3 §6.11.2) of lib, in ascending address
 * order: transport, drives, mail slots, slots. */
static void smc_res_build(struct smc_res *r, const struct smc_lib *lib)
{
	uint8_t hdr[8];

	memset(hdr, 0, sizeof(hdr));
	scsi_data_in_put(&r->out, hdr, sizeof(hdr));
	smc_res_page(r, &lib->mt, 1, SMC_ET_MT);
	smc_res_page(r, lib->dt, lib->ndt, SMC_ET_DT);
	smc_res_page(r, lib->ie, lib->nie, SMC_ET_IE);
	smc_res_page(r, lib->st, lib->nst, SMC_ET_ST);
	put_be16(hdr, r->first);
	put_be16(hdr + 2, (uint16_t)r->reported);
	put_be24(hdr + 5, (uint32_t)(r->out.len - 8));
	/* The header went first; rewrite what of it fits (no buffer at all
	 * for an allocation length of 0). */
	if (r->out.cap)
		memcpy(r->out.buf, hdr, r->out.cap < 8 ? r->out.cap : 8);
}

static int smc_res(struct scsi_cmd *cmd)
{
	struct smc_lu *m = smc_of(cmd->lu);
	struct smc_res r = {
	    .want = (enum smc_etype)(cmd->cdb[1] & 0x0f),
	    .start = get_be16(cmd->cdb + 2),
	    .left = get_be16(cmd->cdb + 4),
	    .voltag = cmd->cdb[1] & SMC_RES_VOLTAG,
	    .dvcid = cmd->cdb[6] & SMC_RES_DVCID,
	};

	scsi_data_in_init(&r.out, cmd);
	pthread_mutex_lock(&m->lock);
	smc_res_build(&r, &m->lib);
	pthread_mutex_unlock(&m->lock);
	scsi_data_in_finish(cmd, &r.out);
	return 0;
}

/* ---- addresses of the other commands ---- */

static bool smc_addr_valid(struct scsi_lu *lu, uint16_t addr)
{
	struct smc_lu *m = smc_of(lu);
	bool ok;

	pthread_mutex_lock(&m->lock);
	ok = smc_lib_elem(&m->lib, addr, NULL) != NULL;
	pthread_mutex_unlock(&m->lock);
	return ok;
}

static int smc_invalid_element(struct scsi_cmd *cmd)
{
	scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
			   SMC_ASC_INVALID_ELEMENT);
	return 0;
}

/* ---- INITIALIZE ELEMENT STATUS (WITH RANGE), POSITION TO ELEMENT ---- */

static int smc_init_status(struct scsi_cmd *cmd)
{
	return 0; /* the inventory is always known */
}

/* RANGE 1: the elements from STARTING ELEMENT ADDRESS, which must be
 * one; FAST is a hint, always satisfied. */
static int smc_init_range(struct scsi_cmd *cmd)
{
	if ((cmd->cdb[1] & 0x01) &&
	    !smc_addr_valid(cmd->lu, get_be16(cmd->cdb + 2)))
		return smc_invalid_element(cmd);
	return 0;
}

static int smc_position_parse(struct scsi_cmd *cmd)
{
	if (cmd->cdb[8] & 0x01) { /* INVERT: nothing here turns over */
		scsi_cmd_set_invalid_field(cmd, 8, 0);
		return -EINVAL;
	}
	return 0;
}

static int smc_position(struct scsi_cmd *cmd)
{
	if (get_be16(cmd->cdb + 2) != SMC_ADDR_MT ||
	    !smc_addr_valid(cmd->lu, get_be16(cmd->cdb + 4)))
		return smc_invalid_element(cmd);
	return 0;
}

/* ---- PREVENT ALLOW MEDIUM REMOVAL ---- */

static int smc_prevent_parse(struct scsi_cmd *cmd)
{
	if ((cmd->cdb[4] & 0x03) > 1) {
		scsi_cmd_set_invalid_field(cmd, 4, 1);
		return -EINVAL;
	}
	return 0;
}

static int smc_prevent_allow(struct scsi_cmd *cmd)
{
	scsi_itl_set_prevent(cmd->itl, cmd->cdb[4] & 0x01);
	return 0;
}

/* ---- MOVE MEDIUM ---- */

struct smc_move {
	struct scsi_cmd *cmd;
	struct scsi_lu *lu; /* referenced */
	uint16_t src, dst;
	/* The outcome: sense key and ASC/ASCQ (key 0: GOOD). */
	uint8_t key, asc, ascq;
	struct reactor_msg msg;
};

static void smc_move_fail(struct smc_move *mv, uint8_t key, uint8_t asc,
			  uint8_t ascq)
{
	mv->key = key;
	mv->asc = asc;
	mv->ascq = ascq;
}

/* The drive of a data transfer element, one that takes a medium. */
static struct scsi_lu *smc_move_drive(struct smc_move *mv,
				      const struct smc_elem *e)
{
	struct scsi_lu *drive = smc_drive_lu(mv->lu, e);

	if (!drive || !drive->dtype->medium_load ||
	    !drive->dtype->medium_eject) {
		smc_move_fail(mv, SCSI_SK_ILLEGAL_REQUEST, SMC_ASC_DT_REMOVED);
		return NULL;
	}
	return drive;
}

/* The drive side of a move: eject from the source, load into the
 * destination. 0, or -1 with the sense set. */
static int smc_move_drives(struct smc_move *mv, struct smc_elem *s,
			   enum smc_etype st, struct smc_elem *d,
			   enum smc_etype dt)
{
	struct scsi_lu *from = NULL, *to = NULL;
	char err[512];
	int rc;

	if (st == SMC_ET_DT && !(from = smc_move_drive(mv, s)))
		return -1;
	if (dt == SMC_ET_DT && !(to = smc_move_drive(mv, d)))
		return -1;
	if (to && !atomic_load(&to->medium_absent)) {
		/* Something the inventory does not know is in the drive. */
		smc_move_fail(mv, SCSI_SK_ILLEGAL_REQUEST, SMC_ASC_DEST_FULL);
		return -1;
	}
	if (from) {
		rc = scsi_lu_eject(from, false, err, sizeof(err));
		if (rc == -EBUSY) {
			smc_move_fail(mv, SCSI_SK_ILLEGAL_REQUEST,
				      SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
			return -1;
		}
		if (rc < 0) {
			log_error("target %s: changer LUN %" PRIu64 ": %s",
				  mv->lu->target->name, mv->lu->lun, err);
			smc_move_fail(mv, SCSI_SK_HARDWARE_ERROR,
				      SCSI_ASC_INTERNAL_TARGET_FAILURE);
			return -1;
		}
	}
	if (to) {
		rc = scsi_lu_load(to, s->cart->file, err, sizeof(err));
		if (rc < 0) {
			log_error("target %s: changer LUN %" PRIu64
				  ": cartridge %s: %s",
				  mv->lu->target->name, mv->lu->lun,
				  s->cart->barcode, err);
			if (from) /* back where it was */
				scsi_lu_load(from, s->cart->file, err,
					     sizeof(err));
			smc_move_fail(mv, SCSI_SK_MEDIUM_ERROR,
				      SMC_ASC_CANNOT_LOAD);
			return -1;
		}
	}
	return 0;
}

static void smc_move_apply(struct smc_move *mv)
{
	struct smc_lu *m = smc_of(mv->lu);
	enum smc_etype st = SMC_ET_MT, dt = SMC_ET_MT;
	struct smc_elem *s, *d;
	struct smc_lib lib;
	char err[512];

	if (smc_lib_dup(&lib, &m->lib)) {
		smc_move_fail(mv, SCSI_SK_HARDWARE_ERROR,
			      SCSI_ASC_INTERNAL_TARGET_FAILURE);
		return;
	}
	s = smc_lib_elem(&lib, mv->src, &st);
	d = smc_lib_elem(&lib, mv->dst, &dt);
	if (!s || !d || st == SMC_ET_MT || dt == SMC_ET_MT)
		smc_move_fail(mv, SCSI_SK_ILLEGAL_REQUEST,
			      SMC_ASC_INVALID_ELEMENT);
	else if (!s->cart)
		smc_move_fail(mv, SCSI_SK_ILLEGAL_REQUEST,
			      SMC_ASC_SOURCE_EMPTY);
	else if (s == d)
		; /* already there */
	else if (d->cart)
		smc_move_fail(mv, SCSI_SK_ILLEGAL_REQUEST, SMC_ASC_DEST_FULL);
	else if (smc_move_drives(mv, s, st, d, dt) == 0) {
		/* A cartridge taken out of a drive keeps its home slot. */
		bool keep = st == SMC_ET_DT && s->svalid;

		d->src = keep ? s->src : mv->src;
		d->svalid = true;
		d->cart = s->cart;
		d->impexp = false;
		s->cart = NULL;
		s->svalid = false;
		if (smc_commit(mv->lu, &lib, err, sizeof(err)) < 0) {
			log_error("target %s: changer LUN %" PRIu64 ": %s",
				  mv->lu->target->name, mv->lu->lun, err);
			smc_move_fail(mv, SCSI_SK_HARDWARE_ERROR,
				      SCSI_ASC_INTERNAL_TARGET_FAILURE);
		}
	}
	smc_lib_free(&lib);
}

static void smc_move_done(void *arg)
{
	struct smc_move *mv = arg;
	struct scsi_cmd *cmd = mv->cmd;

	if (mv->key)
		scsi_cmd_set_sense(cmd, mv->key, mv->asc, mv->ascq);
	scsi_lu_put(mv->lu);
	free(mv);
	scsi_cmd_complete(cmd);
}

/* On the main thread: the move, then the completion back on the
 * nexus's reactor. */
static void smc_move_main(void *arg)
{
	struct smc_move *mv = arg;

	smc_move_apply(mv);
	mv->msg.fn = smc_move_done;
	mv->msg.arg = mv;
	reactor_post_msg(mv->cmd->nexus->reactor, &mv->msg);
}

static int smc_move_parse(struct scsi_cmd *cmd)
{
	if (cmd->cdb[10] & 0x01) { /* INVERT */
		scsi_cmd_set_invalid_field(cmd, 10, 0);
		return -EINVAL;
	}
	return 0;
}

static int smc_move(struct scsi_cmd *cmd)
{
	struct reactor *main_reactor = scsi_core_main_reactor();
	struct smc_move *mv;

	if (get_be16(cmd->cdb + 2) != SMC_ADDR_MT)
		return smc_invalid_element(cmd);
	mv = calloc(1, sizeof(*mv));
	if (!mv) {
		scsi_cmd_set_sense(cmd, SCSI_SK_HARDWARE_ERROR,
				   SCSI_ASC_INTERNAL_TARGET_FAILURE);
		return 0;
	}
	mv->cmd = cmd;
	mv->lu = cmd->lu;
	mv->src = get_be16(cmd->cdb + 4);
	mv->dst = get_be16(cmd->cdb + 6);
	scsi_lu_get(mv->lu);
	if (!main_reactor || scsi_core_on_main_thread()) {
		smc_move_apply(mv);
		mv->cmd = NULL;
		if (mv->key)
			scsi_cmd_set_sense(cmd, mv->key, mv->asc, mv->ascq);
		scsi_lu_put(mv->lu);
		free(mv);
		return 0;
	}
	mv->msg.fn = smc_move_main;
	mv->msg.arg = mv;
	reactor_post_msg(main_reactor, &mv->msg);
	return -EINPROGRESS;
}

/* ---- mode pages (SMC-3 §7.3) ---- */

struct smc_counts {
	unsigned ndt, nie, nst;
};

static struct smc_counts smc_counts_of(const struct scsi_lu *lu)
{
	struct smc_lu *m = smc_of(lu);
	struct smc_counts c = {0, 0, 0};

	if (!m)
		return c;
	pthread_mutex_lock(&m->lock);
	c.ndt = m->lib.ndt;
	c.nie = m->lib.nie;
	c.nst = m->lib.nst;
	pthread_mutex_unlock(&m->lock);
	return c;
}

/* 1Dh: where each element type starts and how many there are. */
static void smc_mode_addresses_current(const struct scsi_lu *lu, uint8_t *p)
{
	struct smc_counts c = smc_counts_of(lu);

	put_be16(p + 2, SMC_ADDR_MT);
	put_be16(p + 4, 1);
	put_be16(p + 6, SMC_ADDR_ST);
	put_be16(p + 8, (uint16_t)c.nst);
	put_be16(p + 10, SMC_ADDR_IE);
	put_be16(p + 12, (uint16_t)c.nie);
	put_be16(p + 14, SMC_ADDR_DT);
	put_be16(p + 16, (uint16_t)c.ndt);
}

static void smc_mode_addresses(const struct scsi_lu *lu, enum scsi_mode_pc pc,
			       uint8_t *p)
{
	p[0] = 0x1d;
	p[1] = 0x12;
	if (pc != SCSI_MODE_PC_CHANGEABLE)
		smc_mode_addresses_current(lu, p);
}

/* 1Eh: one transport that cannot rotate a medium. */
static void smc_mode_geometry(const struct scsi_lu *lu, enum scsi_mode_pc pc,
			      uint8_t *p)
{
	p[0] = 0x1e;
	p[1] = 0x02;
}

/*
 * 1Fh: media are stored in slots and mail slots (StorST, StorI/E), not
 * in the transport or the drives; every move between slots, mail slots
 * and drives is possible; no exchange.
 */
static void smc_mode_capabilities(const struct scsi_lu *lu,
				  enum scsi_mode_pc pc, uint8_t *p)
{
	p[0] = 0x1f;
	p[1] = 0x12;
	if (pc == SCSI_MODE_PC_CHANGEABLE)
		return;
	p[2] = 0x04 | 0x02;	   /* StorI/E, StorST */
	p[5] = 0x08 | 0x04 | 0x02; /* ST -> DT, I/E, ST */
	p[6] = 0x08 | 0x04 | 0x02; /* I/E -> DT, I/E, ST */
	p[7] = 0x08 | 0x04 | 0x02; /* DT -> DT, I/E, ST */
}

static const struct scsi_mode_page smc_mode_pages[] = {
    {.code = 0x1d,
     .len = 20,
     .build = smc_mode_addresses,
     .sense_current = smc_mode_addresses_current},
    {.code = 0x1e, .len = 4, .build = smc_mode_geometry},
    {.code = 0x1f, .len = 20, .build = smc_mode_capabilities},
};

/* ---- LU state ---- */

/* The LU's backing is its state file; it has no blocks of its own
 * (device.h no_medium: the null store of one block). */
static int smc_check_params(struct scsi_lu_params *p, const struct bs_ops *ops,
			    char *err, size_t errlen)
{
	if (p->block_size && p->block_size != 512) {
		snprintf(err, errlen,
			 "a changer has no blocks; leave the block size out");
		return -EINVAL;
	}
	if (p->thin || p->physical_block_size) {
		snprintf(err, errlen,
			 "a changer has no blocks to provision; drop the thin "
			 "and physical block size options");
		return -EINVAL;
	}
	if (p->size && p->size != 512) {
		snprintf(err, errlen,
			 "a changer has no size; leave the size out (its "
			 "backing is its state file)");
		return -EINVAL;
	}
	p->block_size = 512;
	p->size = 512;
	p->bsopts[0] = '\0';
	p->readonly = false;
	p->removable = false;
	return 0;
}

static int smc_lu_init(struct scsi_lu *lu, char *err, size_t errlen)
{
	struct smc_lu *m = calloc(1, sizeof(*m));
	int rc;

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = smc_lib_load(lu->params.backing, &m->lib, err, errlen);
	if (rc) {
		free(m);
		return rc;
	}
	pthread_mutex_init(&m->lock, NULL);
	lu->dtype_priv = m;
	return 0;
}

static void smc_lu_exit(struct scsi_lu *lu)
{
	struct smc_lu *m = lu->dtype_priv;

	if (!m)
		return;
	smc_lib_free(&m->lib);
	pthread_mutex_destroy(&m->lock);
	free(m);
	lu->dtype_priv = NULL;
}

/* ---- the opcode table ---- */

#define SMC_MEMORY SCSI_TIMEOUTS_MEMORY
/* A move to or from a drive loads or ejects it: up to 10 s (mmc.c). */
#define SMC_MOVE_TIMEOUTS                                                      \
	{                                                                      \
		.nominal = 1, .recommended = 30                                \
	}

static SCSI_OP_ROW(smc_op_init_status, "INITIALIZE ELEMENT STATUS", 0x07, 6,
		   SCSI_DIR_NONE, SCSI_OP_PR_WRITE, NULL, smc_init_status,
		   SMC_MEMORY, 0x07, 0x00, 0x00, 0x00, 0x00, 0x05);
static SCSI_OP_ROW(smc_op_prevent_allow, "PREVENT ALLOW MEDIUM REMOVAL", 0x1e,
		   6, SCSI_DIR_NONE, SCSI_OP_PR_WRITE, smc_prevent_parse,
		   smc_prevent_allow, SMC_MEMORY, 0x1e, 0x00, 0x00, 0x00, 0x03,
		   0x05);
static SCSI_OP_ROW(smc_op_position, "POSITION TO ELEMENT", 0x2b, 10,
		   SCSI_DIR_NONE, SCSI_OP_PR_WRITE, smc_position_parse,
		   smc_position, SMC_MEMORY, 0x2b, 0x00, 0xff, 0xff, 0xff, 0xff,
		   0x00, 0x00, 0x01, 0x05);
static SCSI_OP_ROW(smc_op_init_range, "INITIALIZE ELEMENT STATUS WITH RANGE",
		   0x37, 10, SCSI_DIR_NONE, SCSI_OP_PR_WRITE, NULL,
		   smc_init_range, SMC_MEMORY, 0x37, 0x03, 0xff, 0xff, 0x00,
		   0x00, 0xff, 0xff, 0x00, 0x05);
static SCSI_OP_ROW(smc_op_move, "MOVE MEDIUM", 0xa5, 12, SCSI_DIR_NONE,
		   SCSI_OP_PR_WRITE, smc_move_parse, smc_move,
		   SMC_MOVE_TIMEOUTS, 0xa5, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff,
		   0xff, 0x00, 0x00, 0x01, 0x05);

/* VOLTAG, ELEMENT TYPE CODE, STARTING ELEMENT ADDRESS, NUMBER OF
 * ELEMENTS, CURDATA, DVCID, ALLOCATION LENGTH. */
static const struct scsi_op smc_op_res = {
    .name = "READ ELEMENT STATUS",
    .opcode = 0xb8,
    .cdb_len = 12,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_PR_READ,
    /* Every element with tags and identifiers, in four pages. */
    .max_data = 8 + 4 * 8 +
		(1 + SMC_MAX_DT + SMC_MAX_IE + SMC_MAX_ST) *
		    (SMC_DESC_BASE + SMC_VOLTAG_LEN + SMC_DVCID_LEN),
    .parse = smc_res_parse,
    .execute = smc_res,
    .usage = {0xb8, 0x1f, 0xff, 0xff, 0xff, 0xff, 0x03, 0xff, 0xff, 0xff, 0x00,
	      0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* clang-format off */
static const struct scsi_op *const smc_ops[] = {
	&spc_op_test_unit_ready,
	&spc_op_request_sense,
	&smc_op_init_status,
	&spc_op_inquiry,
	&spc_op_mode_select6,
	&spc_op_reserve6,
	&spc_op_release6,
	&spc_op_mode_sense6,
	&smc_op_prevent_allow,
	&smc_op_position,
	&smc_op_init_range,
	&spc_op_mode_select10,
	&spc_op_reserve10,
	&spc_op_release10,
	&spc_op_mode_sense10,
	SPC_OPS_PERSISTENT_RESERVE,
	&spc_op_report_luns,
	&spc_op_report_opcodes,
	&spc_op_report_tmfs,
	&spc_op_report_tpgs,
	&spc_op_set_tpgs,
	&smc_op_move,
	&smc_op_res,
};
/* clang-format on */

_Static_assert(SMC_COUNT(smc_ops) <= SCSI_OPS_MAX,
	       "the changer's opcode table outgrew SCSI_OPS_MAX");

/* Not static: tests name it so that the linker keeps this object. */
struct scsi_device_type smc_changer_type = {
    .name = "changer",
    .pdt = SCSI_PDT_CHANGER,
    .product = "VIRTUAL LIBRARY",
    .versions = {SMC_VERSION_SMC3},
    .ops = smc_ops,
    .nr_ops = SMC_COUNT(smc_ops),
    .mode_pages = smc_mode_pages,
    .nr_mode_pages = SMC_COUNT(smc_mode_pages),
    .check_params = smc_check_params,
    .no_medium = true,
    .lu_init = smc_lu_init,
    .lu_exit = smc_lu_exit,
    .lu_peer_created = smc_lu_peer_created,
};

SCSI_DEVICE_TYPE_REGISTER(smc_changer_type)

bool smc_lu_is_changer(const struct scsi_lu *lu)
{
	return lu->dtype == &smc_changer_type;
}
