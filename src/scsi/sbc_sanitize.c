/*
 * SANITIZE (SBC-4 §4.11 sanitize operations, §5.30 SANITIZE): OVERWRITE,
 * BLOCK ERASE, CRYPTOGRAPHIC ERASE and EXIT FAILURE MODE, with IMMED and
 * AUSE.
 *
 * A sanitize operation belongs to the LU, not to the command that started
 * it: it runs on the main reactor as a chain of store requests and goes on
 * when that command is aborted, its session reset or gone. While it runs,
 * commands that need the medium end in NOT READY, LOGICAL UNIT NOT READY,
 * SANITIZE IN PROGRESS with the progress indication in the sense-key
 * specific bytes (sbc_lu_ready); REQUEST SENSE reports the same. A failed
 * operation leaves the LU in the sanitize failure mode (MEDIUM ERROR,
 * SANITIZE COMMAND FAILED) until a sanitize succeeds or, when it was
 * started with AUSE=1, EXIT FAILURE MODE.
 *
 * What each operation does to this kind of medium (a file or a block
 * device, written in the clear):
 *   OVERWRITE     writes the initialization pattern (repeated over each
 *                 logical block, inverted between passes with INVERT) to
 *                 every block, OVERWRITE COUNT times, then flushes. The
 *                 writes go at SBC_SANITIZE_RATE at most, so that erasing
 *                 one LU does not starve the others sharing the disk.
 *   BLOCK ERASE   deallocates every block (thin LU only: its blocks then
 *                 read zeros, LBPRZ=1, and GET LBA STATUS reports them
 *                 deallocated).
 *   CRYPTOGRAPHIC ERASE  lunar keeps no media encryption key to change,
 *                 so it makes the old data unrecoverable the way a thin
 *                 LU can: deallocation, as BLOCK ERASE (thin LU only).
 * Reads after a block or cryptographic erase complete normally (WABEREQ
 * and WACEREQ 01b in VPD page B1h). A fully provisioned LU offers
 * OVERWRITE alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "event/reactor.h"
#include "scsi/buf.h"
#include "scsi/device.h"
#include "scsi/sbc.h"
#include "scsi/sense.h"
#include "util/bytes.h"
#include "util/log.h"

#define SBC_SANITIZE_OVERWRITE	  0x01
#define SBC_SANITIZE_BLOCK_ERASE  0x02
#define SBC_SANITIZE_CRYPTO_ERASE 0x03
#define SBC_SANITIZE_EXIT_FAILURE 0x1f

#define SBC_SANITIZE_IMMED 0x80
#define SBC_SANITIZE_AUSE  0x20

/* Overwrite data go out in pieces of this size, at this rate at most. */
#define SBC_SANITIZE_CHUNK (1u << 20)
#define SBC_SANITIZE_RATE  (128ull << 20) /* bytes per second */
/* Deallocation and zeroing cost no data transfer: bigger pieces. */
#define SBC_SANITIZE_ERASE_CHUNK (64ull << 20)
#define SBC_SANITIZE_HDR_LEN	 4
#define SBC_SANITIZE_PATTERN_MAX 4096 /* the largest logical block */

enum sbc_sanitize_step {
	SBC_SAN_WRITE,	 /* overwrite passes */
	SBC_SAN_DISCARD, /* deallocate */
};

/*
 * The sanitize state of a LU, made on its first SANITIZE and kept until
 * the LU goes (readers on any reactor may look at it at any time). The
 * operation's fields belong to the main reactor while running is set;
 * the command that starts an operation fills them before setting it.
 */
struct sbc_sanitize {
	struct scsi_lu *lu;
	atomic_bool running;
	atomic_bool failed;	   /* sanitize failure mode */
	atomic_bool exit_allowed;  /* the failed one had AUSE=1 */
	_Atomic uint16_t progress; /* of 65536 */

	enum sbc_sanitize_step step;
	uint8_t pattern[SBC_SANITIZE_PATTERN_MAX];
	uint32_t pattern_len;
	bool invert;
	unsigned passes, pass;
	bool ause;
	uint64_t pos, size;   /* bytes of this pass */
	uint64_t done, total; /* bytes, for the progress */
	uint64_t written;     /* bytes written, for the rate */
	uint64_t started_ms;
	uint8_t *buf; /* SBC_SANITIZE_CHUNK of pattern */
	struct bs_req req;
	struct scsi_range_req range;
	struct reactor_timer timer;
	struct reactor_msg start_msg;
	struct scsi_cmd *waiter; /* IMMED=0: completed at the end */
	int result;
	/* The waiter was aborted: let it go (sbc_sanitize_abort). */
	struct reactor_msg abort_msg;
	atomic_bool abort_posted;
};

static struct sbc_sanitize *sbc_sanitize_of(const struct scsi_lu *lu)
{
	return atomic_load_explicit(&lu->sanitize, memory_order_acquire);
}

bool sbc_sanitize_progress(const struct scsi_lu *lu, struct scsi_sense_info *si)
{
	const struct sbc_sanitize *s = sbc_sanitize_of(lu);

	if (!s)
		return false;
	if (atomic_load_explicit(&s->running, memory_order_acquire)) {
		scsi_sense_info_init(si, SCSI_SK_NOT_READY,
				     SCSI_ASC_SANITIZE_IN_PROGRESS);
		/* SKSV and the PROGRESS INDICATION (SPC-5 §4.4.2.4.4). */
		si->sks_valid = true;
		si->sks[0] = 0x80;
		put_be16(si->sks + 1, atomic_load(&s->progress));
		return true;
	}
	if (atomic_load_explicit(&s->failed, memory_order_acquire)) {
		scsi_sense_info_init(si, SCSI_SK_MEDIUM_ERROR,
				     SCSI_ASC_SANITIZE_FAILED);
		return true;
	}
	return false;
}

uint8_t sbc_sanitize_vpd_b1(const struct scsi_lu *lu)
{
	/* WABEREQ 01b and WACEREQ 01b where BLOCK ERASE and CRYPTOGRAPHIC
	 * ERASE are supported: reads of erased blocks complete with GOOD
	 * status. */
	return sbc_lu_thin(lu) ? 0x40 | 0x10 : 0x00;
}

void sbc_sanitize_lu_exit(struct scsi_lu *lu)
{
	struct sbc_sanitize *s = sbc_sanitize_of(lu);

	/* An operation holds a reference on its LU: none runs now. */
	atomic_store(&lu->sanitize, NULL);
	free(s);
}

/* The LU's state, made on first use (-ENOMEM). */
static struct sbc_sanitize *sbc_sanitize_get(struct scsi_lu *lu)
{
	struct sbc_sanitize *s = sbc_sanitize_of(lu), *none = NULL;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->lu = lu;
	atomic_init(&s->running, false);
	atomic_init(&s->failed, false);
	atomic_init(&s->exit_allowed, false);
	atomic_init(&s->progress, 0);
	atomic_init(&s->abort_posted, false);
	reactor_timer_init(&s->timer);
	scsi_range_req_init(&s->range);
	if (!atomic_compare_exchange_strong(&lu->sanitize, &none, s)) {
		free(s); /* another reactor was first */
		return none;
	}
	return s;
}

/* ---- the operation, on the main reactor ---- */

static void sbc_sanitize_step(void *arg);

static void sbc_sanitize_waiter_done(void *arg)
{
	scsi_cmd_complete(arg);
}

static void sbc_sanitize_finish(struct sbc_sanitize *s)
{
	struct scsi_lu *lu = s->lu;
	struct scsi_cmd *cmd = s->waiter;

	if (s->buf)
		scsi_buf_put(s->buf, SBC_SANITIZE_CHUNK);
	s->buf = NULL;
	scsi_range_release(sbc_range_lock(lu), &s->range);
	if (s->result < 0) {
		log_error("target %s LUN %llu: sanitize failed: %s; the LU "
			  "stays in the sanitize failure mode until a "
			  "SANITIZE succeeds%s",
			  lu->target->name, (unsigned long long)lu->lun,
			  strerror(-s->result),
			  s->ause ? " or EXIT FAILURE MODE" : "");
		atomic_store(&s->exit_allowed, s->ause);
		atomic_store(&s->failed, true);
	}
	atomic_store(&s->progress, 0);
	s->waiter = NULL;
	atomic_store_explicit(&s->running, false, memory_order_release);
	if (cmd) {
		if (s->result < 0)
			scsi_cmd_set_sense(cmd, SCSI_SK_MEDIUM_ERROR,
					   SCSI_ASC_SANITIZE_FAILED);
		/* Done on the command's own reactor; its bs request is
		 * unused, so its message carries the completion. */
		cmd->bs.done_msg.fn = sbc_sanitize_waiter_done;
		cmd->bs.done_msg.arg = cmd;
		reactor_post_msg(cmd->nexus->reactor, &cmd->bs.done_msg);
	}
	scsi_lu_put(lu);
}

/*
 * SAM-5: aborting the SANITIZE command does not stop the operation, which
 * belongs to the LU (SBC-4 §4.11.2); the command just stops waiting for
 * it, so that ABORT TASK and the resets answer at once. On the main
 * reactor, where the waiter is finished too, so the two cannot race.
 */
static void sbc_sanitize_release_waiter(void *arg)
{
	struct sbc_sanitize *s = arg;
	struct scsi_cmd *cmd = s->waiter;

	atomic_store(&s->abort_posted, false);
	if (cmd && cmd->aborted) {
		s->waiter = NULL;
		cmd->bs.done_msg.fn = sbc_sanitize_waiter_done;
		cmd->bs.done_msg.arg = cmd;
		reactor_post_msg(cmd->nexus->reactor, &cmd->bs.done_msg);
	}
	scsi_lu_put(s->lu);
}

static void sbc_sanitize_abort(struct scsi_cmd *cmd)
{
	struct sbc_sanitize *s = sbc_sanitize_of(cmd->lu);

	if (!s || atomic_exchange(&s->abort_posted, true))
		return;
	scsi_lu_get(cmd->lu); /* s lives as long as its LU */
	s->abort_msg.fn = sbc_sanitize_release_waiter;
	s->abort_msg.arg = s;
	reactor_post_msg(scsi_core_main_reactor(), &s->abort_msg);
}

static void sbc_sanitize_fill(struct sbc_sanitize *s)
{
	uint32_t bs = s->lu->block_size;
	uint8_t flip = s->invert && (s->pass & 1) ? 0xff : 0x00;

	for (uint32_t off = 0; off < SBC_SANITIZE_CHUNK; off += bs) {
		for (uint32_t i = 0; i < bs; i++)
			s->buf[off + i] = s->pattern[i % s->pattern_len] ^ flip;
	}
}

static void sbc_sanitize_io_done(struct bs_req *req)
{
	struct sbc_sanitize *s = req->issuer;
	uint64_t due, now;

	if (req->result < 0) {
		s->result = req->result;
		sbc_sanitize_finish(s);
		return;
	}
	if (req->op == BS_OP_FLUSH) {
		sbc_sanitize_finish(s);
		return;
	}
	s->pos += req->len;
	s->done += req->len;
	atomic_store(&s->progress,
		     (uint16_t)(s->done * 65535 / (s->total ? s->total : 1)));
	if (s->step != SBC_SAN_WRITE) {
		sbc_sanitize_step(s);
		return;
	}
	s->written += req->len;
	due = s->started_ms + s->written * 1000 / SBC_SANITIZE_RATE;
	now = reactor_now_ms();
	if (due > now)
		reactor_timer_arm(req->reactor, &s->timer, due - now,
				  sbc_sanitize_step, s);
	else
		sbc_sanitize_step(s);
}

static void sbc_sanitize_submit(struct sbc_sanitize *s, enum bs_op op,
				uint64_t len, unsigned flags)
{
	struct bs_req *req = &s->req;

	req->op = op;
	req->flags = flags;
	req->offset = s->pos;
	req->len = len;
	req->buf = op == BS_OP_WRITE ? s->buf : NULL;
	req->result = 0;
	req->reactor = scsi_core_main_reactor();
	req->complete = sbc_sanitize_io_done;
	req->issuer = s;
	list_init(&req->link);
	bs_submit(s->lu->bs, req);
}

/* Issues the next request of the operation. */
static void sbc_sanitize_step(void *arg)
{
	struct sbc_sanitize *s = arg;
	uint64_t chunk, left;

	/* Nobody but the operation holds the LU: it was deleted. */
	if (atomic_load(&s->lu->refcnt) == 1) {
		sbc_sanitize_finish(s);
		return;
	}
	if (s->pos == s->size && s->step == SBC_SAN_WRITE &&
	    ++s->pass < s->passes) {
		s->pos = 0;
		sbc_sanitize_fill(s);
	}
	if (s->pos == s->size) {
		/* Stable on the medium before the operation is done. */
		sbc_sanitize_submit(s, BS_OP_FLUSH, 0, 0);
		return;
	}
	left = s->size - s->pos;
	chunk = s->step == SBC_SAN_WRITE ? SBC_SANITIZE_CHUNK
					 : SBC_SANITIZE_ERASE_CHUNK;
	if (chunk > left)
		chunk = left;
	sbc_sanitize_submit(
	    s, s->step == SBC_SAN_WRITE ? BS_OP_WRITE : BS_OP_DISCARD, chunk,
	    0);
}

static void sbc_sanitize_granted(void *arg)
{
	struct sbc_sanitize *s = arg;

	s->started_ms = reactor_now_ms();
	if (s->step == SBC_SAN_WRITE) {
		s->buf = scsi_buf_get(SBC_SANITIZE_CHUNK);
		if (!s->buf) {
			s->result = -ENOMEM;
			sbc_sanitize_finish(s);
			return;
		}
		sbc_sanitize_fill(s);
	}
	sbc_sanitize_step(s);
}

/* Waits for the writes in flight (exclusive range of the whole LU). */
static void sbc_sanitize_start(void *arg)
{
	struct sbc_sanitize *s = arg;
	struct scsi_lu *lu = s->lu;

	if (scsi_range_acquire(
		sbc_range_lock(lu), &s->range, 0, scsi_lu_blocks(lu), true,
		scsi_core_main_reactor(), sbc_sanitize_granted, s) == 0)
		sbc_sanitize_granted(s);
}

/* ---- the command ---- */

/* Bytes 2-6 and bit 6 of byte 1 (ZNR: no zones here) are reserved. */
static int sbc_sanitize_check_cdb(struct scsi_cmd *cmd)
{
	if (cmd->cdb[1] & 0x40) {
		scsi_cmd_set_invalid_field(cmd, 1, 6);
		return -EINVAL;
	}
	for (uint16_t i = 2; i <= 6; i++) {
		if (cmd->cdb[i]) {
			scsi_cmd_set_invalid_field(cmd, i, 7);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * SANITIZE needs the medium but not the rest of lu_ready: in the sanitize
 * failure mode, a new sanitize is the way out.
 */
static int sbc_sanitize_parse(struct scsi_cmd *cmd)
{
	const struct sbc_sanitize *s = sbc_sanitize_of(cmd->lu);
	uint16_t len = get_be16(cmd->cdb + 7);
	uint8_t sa = cmd->cdb[1] & 0x1f;

	if (atomic_load(&cmd->lu->medium_absent)) {
		scsi_cmd_set_sense(cmd, SCSI_SK_NOT_READY,
				   SCSI_ASC_MEDIUM_NOT_PRESENT);
		return -EAGAIN;
	}
	if (s && atomic_load(&s->running)) {
		struct scsi_sense_info si;

		sbc_sanitize_progress(cmd->lu, &si);
		scsi_cmd_set_sense_full(cmd, &si);
		return -EBUSY;
	}
	if (sbc_sanitize_check_cdb(cmd))
		return -EINVAL;
	/* OVERWRITE: a header and a pattern of 1 to one block of bytes;
	 * the others take no parameter list. */
	if (sa == SBC_SANITIZE_OVERWRITE
		? len <= SBC_SANITIZE_HDR_LEN ||
		      len > SBC_SANITIZE_HDR_LEN + cmd->lu->block_size
		: len != 0) {
		scsi_cmd_set_invalid_field(cmd, 7, 7);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = len;
	return 0;
}

/* The OVERWRITE parameter list (SBC-4 §5.30.3). */
static int sbc_sanitize_overwrite_params(struct scsi_cmd *cmd,
					 struct sbc_sanitize *s)
{
	const uint8_t *d = cmd->buf;
	uint32_t iplen;

	if (cmd->xfer_len < get_be16(cmd->cdb + 7)) {
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_PARAMETER_LIST_LENGTH);
		return -EINVAL;
	}
	if ((d[0] & 0x1f) == 0) { /* OVERWRITE COUNT */
		scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
					 0, 4);
		return -EINVAL;
	}
	/* TEST (bits 6:5) is vendor specific: this device server has no
	 * test modes and ignores it. */
	iplen = get_be16(d + 2);
	if (iplen == 0 || iplen > cmd->lu->block_size) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
					 2, 7);
		return -EINVAL;
	}
	if (SBC_SANITIZE_HDR_LEN + iplen > cmd->xfer_len) {
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_PARAMETER_LIST_LENGTH);
		return -EINVAL;
	}
	memcpy(s->pattern, d + SBC_SANITIZE_HDR_LEN, iplen);
	s->pattern_len = iplen;
	s->invert = d[0] & 0x80;
	s->passes = d[0] & 0x1f;
	s->step = SBC_SAN_WRITE;
	return 0;
}

static int sbc_sanitize(struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->lu;
	struct sbc_sanitize *s = sbc_sanitize_get(lu);
	uint8_t sa = cmd->cdb[1] & 0x1f;
	bool expected = false;
	int rc = 0;

	if (!s) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return -ENOMEM;
	}
	if (!atomic_compare_exchange_strong(&s->running, &expected, true)) {
		struct scsi_sense_info si;

		sbc_sanitize_progress(lu, &si);
		scsi_cmd_set_sense_full(cmd, &si);
		return -EBUSY;
	}
	/* running is ours now: nobody else touches the operation. */
	s->passes = 1;
	s->pass = 0;
	s->invert = false;
	if (sa == SBC_SANITIZE_OVERWRITE)
		rc = sbc_sanitize_overwrite_params(cmd, s);
	else
		s->step = SBC_SAN_DISCARD;
	if (rc) {
		atomic_store(&s->running, false);
		return rc;
	}
	s->ause = cmd->cdb[1] & SBC_SANITIZE_AUSE;
	s->size = scsi_lu_blocks(lu) << lu->block_shift;
	s->total = s->size * s->passes;
	s->pos = s->done = s->written = 0;
	s->result = 0;
	s->waiter = (cmd->cdb[1] & SBC_SANITIZE_IMMED) ? NULL : cmd;
	atomic_store(&s->progress, 0);
	/* A new sanitize leaves the failure mode whatever it ends in. */
	atomic_store(&s->failed, false);
	scsi_lu_get(lu); /* the operation's, until it ends */
	s->start_msg.fn = sbc_sanitize_start;
	s->start_msg.arg = s;
	reactor_post_msg(scsi_core_main_reactor(), &s->start_msg);
	return s->waiter ? -EINPROGRESS : 0;
}

static int sbc_sanitize_exit_failure(struct scsi_cmd *cmd)
{
	struct sbc_sanitize *s = sbc_sanitize_of(cmd->lu);

	if (!s || !atomic_load(&s->failed))
		return 0;
	/* The failed operation did not allow an unrestricted exit. */
	if (!atomic_load(&s->exit_allowed)) {
		scsi_cmd_set_invalid_field(cmd, 1, 4);
		return -EINVAL;
	}
	atomic_store(&s->failed, false);
	return 0;
}

/* ---- the rows ---- */

#define SBC_SANITIZE_ROW(var, nm, sa, fl, exe, ...)                            \
	const struct scsi_op var = {                                           \
	    .name = (nm),                                                      \
	    .opcode = 0x48,                                                    \
	    .service_action = (sa),                                            \
	    .cdb_len = 10,                                                     \
	    .dir = SCSI_DIR_WRITE,                                             \
	    .flags = SCSI_OP_SA | SCSI_OP_PR_WRITE | (fl),                     \
	    .parse = sbc_sanitize_parse,                                       \
	    .execute = (exe),                                                  \
	    .abort = sbc_sanitize_abort,                                       \
	    __VA_ARGS__ /* IMMED, ZNR (refused), AUSE and the service action;  \
			 * bytes 2-6 (reserved, refused); PARAMETER LIST       \
			 * LENGTH. */                                          \
		.usage =                                                       \
		{0x48, 0xe0 | (sa), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  \
		 0x05}, /* Without IMMED the command lasts as long as the      \
			 * operation: a whole LU at SBC_SANITIZE_RATE. */      \
	    .timeouts = {.nominal = 60, .recommended = 86400},                 \
	}

SBC_SANITIZE_ROW(sbc_op_sanitize_overwrite, "SANITIZE OVERWRITE",
		 SBC_SANITIZE_OVERWRITE, SCSI_OP_WRITES, sbc_sanitize);
SBC_SANITIZE_ROW(sbc_op_sanitize_block_erase, "SANITIZE BLOCK ERASE",
		 SBC_SANITIZE_BLOCK_ERASE, SCSI_OP_WRITES, sbc_sanitize,
		 .supported = sbc_lu_thin, );
SBC_SANITIZE_ROW(sbc_op_sanitize_crypto_erase, "SANITIZE CRYPTOGRAPHIC ERASE",
		 SBC_SANITIZE_CRYPTO_ERASE, SCSI_OP_WRITES, sbc_sanitize,
		 .supported = sbc_lu_thin, );
SBC_SANITIZE_ROW(sbc_op_sanitize_exit_failure, "SANITIZE EXIT FAILURE MODE",
		 SBC_SANITIZE_EXIT_FAILURE, 0, sbc_sanitize_exit_failure);
