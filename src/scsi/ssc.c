/*
 * The tape drive: sequential-access device type (SSC-5) over a cartridge
 * file of our own format (ssc_format.c, docs/tape-format.md). It owns
 * the drive's serialisation (one command at a time, in arrival order,
 * each run on its own nexus's reactor), the cartridge in the drive and
 * its changes (lun create, lun eject / lun load, LOAD UNLOAD), and the
 * commands that only move the position or report (SSC-5 clauses 6 and 7):
 *   LOAD UNLOAD (load, unload, HOLD, retension accepted, EOT);
 *   LOCATE (10) and LOCATE (16) (logical object identifier, logical
 *   file identifier, end of data); READ BLOCK LIMITS (MLOI); READ
 *   POSITION short (00h, 01h) and long (06h) forms; REPORT DENSITY
 *   SUPPORT (MEDIA; one density); REWIND;
 *   SPACE (6) over blocks, filemarks and to end of data, forward
 *   and backward, with FILEMARK, BLANK CHECK and beginning-of-partition
 *   sense; PREVENT ALLOW MEDIUM REMOVAL per I_T nexus as the others;
 *   the mode parameter header's WP and BUFFERED MODE, the block
 *   descriptor's density and block length (MODE SELECT through the
 *   device type's mode_select hooks), and mode pages 01h read-write
 *   error recovery, 0Fh data compression (none), 10h device
 *   configuration and 11h medium partition (one partition).
 * READ, WRITE, WRITE FILEMARKS and ERASE are ssc_rw.c's. SPC commands
 * are spc.c's, mode.c's and pr.c's rows.
 */
#include "scsi/ssc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "bs/bs.h"
#include "event/reactor.h"
#include "scsi/device.h"
#include "scsi/pr.h"
#include "scsi/sbc.h"
#include "scsi/sense.h"
#include "scsi/ua.h"
#include "util/bytes.h"
#include "util/log.h"

#define SSC_VERSION_SSC3 0x0400 /* SSC-3 (no version claimed) */
#define SSC_COUNT(a)	 (sizeof(a) / sizeof((a)[0]))

/* ---- sense ---- */

void ssc_set_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc, uint8_t ascq,
		   uint8_t stream, bool info_valid, int64_t info)
{
	struct scsi_sense_info si;

	scsi_sense_info_init(&si, key, asc, ascq);
	si.stream = stream;
	si.info_valid = info_valid;
	si.info = (uint64_t)info;
	scsi_cmd_set_sense_full(cmd, &si);
}

void ssc_finish_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc,
		      uint8_t ascq, uint8_t stream, bool info_valid,
		      int64_t info)
{
	ssc_set_sense(cmd, key, asc, ascq, stream, info_valid, info);
	ssc_finish(cmd);
}

bool ssc_past_ew(const struct ssc_lu *m, uint64_t off)
{
	return off + SSC_REC_HDR_LEN > m->hdr.capacity - m->hdr.early_warning;
}

/* ---- one command at a time ---- */

static void ssc_start(struct scsi_cmd *cmd);

static void ssc_start_msg(void *arg)
{
	ssc_start(arg);
}

/* Passes the drive to the next waiting command, on its own reactor, or
 * frees it. */
static void ssc_drive_release(struct ssc_lu *m)
{
	struct scsi_cmd *next = NULL;

	pthread_mutex_lock(&m->lock);
	if (list_empty(&m->queue)) {
		m->busy = false;
	} else {
		next = list_first_entry(&m->queue, struct scsi_cmd, bs.link);
		list_del(&next->bs.link);
		list_init(&next->bs.link);
	}
	pthread_mutex_unlock(&m->lock);
	if (next) {
		next->bs.done_msg.fn = ssc_start_msg;
		next->bs.done_msg.arg = next;
		reactor_post_msg(next->nexus->reactor, &next->bs.done_msg);
	}
}

void ssc_finish(struct scsi_cmd *cmd)
{
	ssc_drive_release(cmd->lu->dtype_priv);
	scsi_cmd_complete(cmd);
}

/* The execute of every command that needs the drive: runs it now, or
 * when the commands before it are done. */
static int ssc_exec(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;

	pthread_mutex_lock(&m->lock);
	if (m->busy) {
		list_add_tail(&cmd->bs.link, &m->queue);
		pthread_mutex_unlock(&m->lock);
		return -EINPROGRESS;
	}
	m->busy = true;
	pthread_mutex_unlock(&m->lock);
	ssc_start(cmd);
	return -EINPROGRESS;
}

static void ssc_abort_done(void *arg)
{
	scsi_cmd_complete(arg);
}

/*
 * The row's abort (device.h), on the command's reactor: a command still
 * waiting for the drive leaves the FIFO and finishes at once (TASK
 * ABORTED, from the reactor's queue, not inside the caller); one that
 * runs, or whose start is already posted, finishes when that is done.
 */
static void ssc_abort(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	struct scsi_cmd *c;
	bool found = false;

	pthread_mutex_lock(&m->lock);
	list_for_each_entry (c, &m->queue, bs.link) {
		if (c == cmd) {
			found = true;
			break;
		}
	}
	if (found) {
		list_del(&cmd->bs.link);
		list_init(&cmd->bs.link);
	}
	pthread_mutex_unlock(&m->lock);
	if (!found)
		return;
	cmd->bs.done_msg.fn = ssc_abort_done;
	cmd->bs.done_msg.arg = cmd;
	reactor_post_msg(cmd->nexus->reactor, &cmd->bs.done_msg);
}

/* Main thread: waits (at most 10 s) until it holds the drive. */
static int ssc_drive_grab(struct ssc_lu *m)
{
	struct timespec ms = {.tv_nsec = 1000000};

	for (unsigned waited = 0; waited < 10000; waited++) {
		pthread_mutex_lock(&m->lock);
		if (!m->busy) {
			m->busy = true;
			pthread_mutex_unlock(&m->lock);
			return 0;
		}
		pthread_mutex_unlock(&m->lock);
		nanosleep(&ms, NULL);
	}
	return -ETIMEDOUT;
}

static void ssc_flush_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	if (req->result < 0 && cmd->status == SAM_STAT_GOOD)
		ssc_set_sense(cmd, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR,
			      0, false, 0);
	ssc_finish(cmd);
}

void ssc_flush_then_finish(struct scsi_cmd *cmd)
{
	sbc_req_prep(cmd, BS_OP_FLUSH, 0, 0, 0, NULL, ssc_flush_done);
	bs_submit(cmd->lu->bs, &cmd->bs);
}

/* ---- the cartridge ---- */

static bool ssc_loaded(const struct scsi_lu *lu)
{
	return !atomic_load_explicit(&lu->medium_absent, memory_order_acquire);
}

static bool ssc_lu_ready(const struct scsi_lu *lu, struct scsi_sense_info *si)
{
	if (ssc_loaded(lu))
		return true;
	scsi_sense_info_init(si, SCSI_SK_NOT_READY,
			     SCSI_ASC_MEDIUM_NOT_PRESENT);
	return false;
}

static int ssc_pread(void *ctx, uint64_t off, void *buf, size_t len)
{
	int fd = *(int *)ctx;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/*
 * Opens the cartridge at path and locks it for this drive: exclusively
 * when it writes, shared when it only reads, so that two drives (two
 * LUs, two lunards) never write one cartridge. The lock lives as long as
 * the descriptor. Returns it, or -errno (-EWOULDBLOCK: in another drive).
 */
static int ssc_cartridge_lock(const char *path, bool ro)
{
	int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if (flock(fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* Writes the header with its new generation floor into the other slot
 * and makes it stable, before this run writes any record. */
static int ssc_raise_floor(int fd, struct ssc_fmt_header *h, unsigned slot,
			   uint64_t floor)
{
	uint8_t buf[SSC_FMT_SLOT_LEN];

	h->seq++;
	h->gen_floor = floor;
	ssc_fmt_header_encode(h, buf);
	if (pwrite(fd, buf, sizeof(buf),
		   (off_t)((slot ^ 1) * SSC_FMT_SLOT_LEN)) != sizeof(buf))
		return -EIO;
	return fdatasync(fd) < 0 ? -errno : 0;
}

/*
 * Main thread: opens the cartridge at path, checks its header, scans its
 * chain and, when writable, raises its generation floor. On success the
 * drive's cartridge state is replaced (the caller holds the drive).
 */
static int ssc_cartridge_open(struct scsi_lu *lu, const char *path, bool ro)
{
	struct ssc_lu *m = lu->dtype_priv;
	uint8_t slots[2 * SSC_FMT_SLOT_LEN];
	struct ssc_fmt_header h;
	struct ssc_index ix;
	unsigned slot;
	uint64_t floor = 0;
	off_t size;
	int fd, rc;

	fd = ssc_cartridge_lock(path, ro);
	if (fd < 0) {
		log_error("target %s LUN %" PRIu64 ": cannot load %s: %s",
			  lu->target->name, lu->lun, path,
			  fd == -EWOULDBLOCK ? "it is in another drive"
					     : strerror(-fd));
		return fd;
	}
	rc = ssc_pread(&fd, 0, slots, sizeof(slots));
	if (rc == 0)
		rc = ssc_fmt_header_pick(slots, &h, &slot);
	size = lseek(fd, 0, SEEK_END);
	if (rc == 0 && (size < 0 || (uint64_t)size < h.capacity))
		rc = -EINVAL;
	if (rc < 0) {
		log_error("target %s LUN %" PRIu64 ": %s is not a lunar tape "
			  "cartridge (%s); make one with lunarctl tape create",
			  lu->target->name, lu->lun, path, strerror(-rc));
		close(fd);
		return rc == -EIO ? -EINVAL : rc;
	}
	rc = ssc_fmt_scan(ssc_pread, &fd, h.capacity, SSC_VERIFY_TAIL, &ix);
	if (rc == 0 && !ro) {
		floor = ssc_fmt_next_floor(&h, &ix);
		rc = ssc_raise_floor(fd, &h, slot, floor);
		if (rc < 0)
			ssc_index_free(&ix);
	}
	if (rc < 0) {
		log_error("target %s LUN %" PRIu64 ": cannot load %s: %s",
			  lu->target->name, lu->lun, path, strerror(-rc));
		close(fd);
		return rc;
	}
	if (!ix.clean_end || ix.dropped)
		log_warn("target %s LUN %" PRIu64 ": %s ends in an incomplete "
			 "write (%" PRIu64
			 " objects cut off by the data check);"
			 " end of data is after object %" PRIu64,
			 lu->target->name, lu->lun, path, ix.dropped, ix.nr);
	if (m->fd >= 0)
		close(m->fd);
	ssc_index_free(&m->ix);
	m->ix = ix;
	m->pos = 0;
	m->next_gen = floor;
	m->fd = fd;
	pthread_mutex_lock(&m->lock); /* hdr and wp: read without the drive */
	m->hdr = h;
	m->wp = ro;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* Medium in or out; in: every nexus learns of it (MEDIUM MAY HAVE
 * CHANGED) except by. */
static void ssc_set_loaded(struct scsi_lu *lu, bool in,
			   const struct scsi_nexus *by)
{
	atomic_store_explicit(&lu->medium_absent, !in, memory_order_release);
	if (in)
		scsi_ua_establish_others(lu, by,
					 SCSI_ASC_MEDIUM_MAY_HAVE_CHANGED);
}

/* lun eject (device.h medium_eject): written data made stable, then out. */
static int ssc_medium_eject(struct scsi_lu *lu, bool force)
{
	struct ssc_lu *m = lu->dtype_priv;
	int rc = ssc_drive_grab(m);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&lu->lock);
	rc = lu->nr_prevent && !force ? -EBUSY : 0;
	pthread_mutex_unlock(&lu->lock);
	if (rc == 0 && ssc_loaded(lu)) {
		if (m->fd >= 0 && fdatasync(m->fd) < 0)
			log_error("target %s LUN %" PRIu64 ": cannot flush %s "
				  "before the eject: %s",
				  lu->target->name, lu->lun, lu->params.backing,
				  strerror(errno));
		ssc_set_loaded(lu, false, NULL);
	}
	if (rc == 0) {
		/* Out of the drive: another drive (a changer's) may load
		 * it now; closing drops the lock. */
		m->removed = true;
		if (m->fd >= 0)
			close(m->fd);
		m->fd = -1;
	}
	ssc_drive_release(m);
	return rc;
}

/*
 * lun load (device.h medium_load): with bs, the cartridge at
 * lu->params.backing replaces an ejected one; without, the cartridge
 * that is in the drive is loaded again, read anew. Position BOT.
 */
static int ssc_medium_load(struct scsi_lu *lu, struct bs_dev *bs,
			   uint64_t nr_blocks, struct bs_dev **old)
{
	struct ssc_lu *m = lu->dtype_priv;
	bool ro;
	int rc;

	*old = NULL;
	rc = ssc_drive_grab(m);
	if (rc < 0)
		return rc;
	if (ssc_loaded(lu)) {
		ssc_drive_release(m);
		return bs ? -EBUSY : 0;
	}
	if (!bs && !lu->bs) {
		ssc_drive_release(m);
		return -ENOMEDIUM;
	}
	ro = lu->params.readonly || (bs ? bs->readonly : lu->bs->readonly);
	rc = ssc_cartridge_open(lu, lu->params.backing, ro);
	if (rc == 0 && bs) {
		*old = lu->bs;
		atomic_store(&lu->nr_blocks, nr_blocks);
		__atomic_store_n(&lu->bs, bs, __ATOMIC_RELEASE);
	}
	if (rc == 0) {
		m->removed = false;
		ssc_set_loaded(lu, true, NULL);
	}
	ssc_drive_release(m);
	return rc;
}

/* ---- REWIND, SPACE, LOCATE ---- */

static void ssc_rewind_start(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;

	/* Buffered writes are made stable on the way to BOP. */
	m->pos = 0;
	ssc_flush_then_finish(cmd);
}

enum ssc_space_code {
	SSC_SPACE_BLOCKS = 0,
	SSC_SPACE_FILEMARKS = 1,
	SSC_SPACE_EOD = 3,
};

static int ssc_space_parse(struct scsi_cmd *cmd)
{
	uint8_t code = cmd->cdb[1] & 0x0f;

	if (code != SSC_SPACE_BLOCKS && code != SSC_SPACE_FILEMARKS &&
	    code != SSC_SPACE_EOD) {
		scsi_cmd_set_invalid_field(cmd, 1, 3);
		return -EINVAL;
	}
	return 0;
}

/* Sign-extended 24-bit COUNT. */
static int32_t ssc_space_count(const uint8_t *cdb)
{
	uint32_t v = get_be24(cdb + 2);

	return (int32_t)(v << 8) >> 8;
}

static void ssc_space_forward(struct scsi_cmd *cmd, bool fms, uint64_t count)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	uint64_t done = 0;

	while (done < count) {
		uint8_t type;

		if (m->pos >= m->ix.nr) {
			ssc_finish_sense(cmd, SCSI_SK_BLANK_CHECK,
					 SCSI_ASC_END_OF_DATA, 0, true,
					 (int64_t)(count - done));
			return;
		}
		type = m->ix.obj[m->pos++].type;
		if (!fms && type == SSC_REC_FILEMARK) {
			/* After the filemark (SSC-5 §7.10). */
			ssc_finish_sense(
			    cmd, SCSI_SK_NO_SENSE, SCSI_ASC_FILEMARK_DETECTED,
			    SCSI_SENSE_FILEMARK, true, (int64_t)(count - done));
			return;
		}
		if (!fms || type == SSC_REC_FILEMARK)
			done++;
	}
	ssc_finish(cmd);
}

static void ssc_space_backward(struct scsi_cmd *cmd, bool fms, uint64_t count)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	uint64_t done = 0;

	while (done < count) {
		uint8_t type;

		if (m->pos == 0) {
			ssc_finish_sense(
			    cmd, SCSI_SK_NO_SENSE, SCSI_ASC_BOP_BOM_DETECTED,
			    SCSI_SENSE_EOM, true, (int64_t)(count - done));
			return;
		}
		type = m->ix.obj[--m->pos].type;
		if (!fms && type == SSC_REC_FILEMARK) {
			/* Crossed: on the BOP side of the filemark. */
			ssc_finish_sense(
			    cmd, SCSI_SK_NO_SENSE, SCSI_ASC_FILEMARK_DETECTED,
			    SCSI_SENSE_FILEMARK, true, (int64_t)(count - done));
			return;
		}
		if (!fms || type == SSC_REC_FILEMARK)
			done++;
	}
	ssc_finish(cmd);
}

static void ssc_space_start(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	int32_t count = ssc_space_count(cmd->cdb);
	uint8_t code = cmd->cdb[1] & 0x0f;

	if (code == SSC_SPACE_EOD) {
		m->pos = m->ix.nr;
		ssc_finish(cmd);
	} else if (count >= 0) {
		ssc_space_forward(cmd, code == SSC_SPACE_FILEMARKS,
				  (uint64_t)count);
	} else {
		ssc_space_backward(cmd, code == SSC_SPACE_FILEMARKS,
				   (uint64_t) - (int64_t)count);
	}
}

/* LOCATE (16) DEST_TYPE (bits 5-3 of byte 1). */
enum ssc_dest_type {
	SSC_DEST_OBJECT = 0,
	SSC_DEST_FILE = 1,
	SSC_DEST_EOD = 3,
};

static int ssc_locate_parse(struct scsi_cmd *cmd)
{
	bool cp = cmd->cdb[1] & 0x02;
	bool sixteen = cmd->cdb[0] == 0x92;
	uint8_t part = cmd->cdb[sixteen ? 3 : 8];

	if (cp && part) { /* one partition: 0 */
		scsi_cmd_set_invalid_field(cmd, sixteen ? 3 : 8, 7);
		return -EINVAL;
	}
	if (sixteen) {
		uint8_t dest = (cmd->cdb[1] >> 3) & 0x07;

		if (dest != SSC_DEST_OBJECT && dest != SSC_DEST_FILE &&
		    dest != SSC_DEST_EOD) {
			scsi_cmd_set_invalid_field(cmd, 1, 5);
			return -EINVAL;
		}
		if (cmd->cdb[2] & 0x01) { /* BAM: implicit address mode */
			scsi_cmd_set_invalid_field(cmd, 2, 0);
			return -EINVAL;
		}
	}
	return 0;
}

/* The object after the filemark that ends file fid - 1 (file 0: BOP);
 * nr when there are fewer files. */
static uint64_t ssc_file_start(const struct ssc_index *ix, uint64_t fid,
			       bool *found)
{
	uint64_t fms = 0;

	*found = true;
	if (!fid)
		return 0;
	for (uint64_t i = 0; i < ix->nr; i++) {
		if (ix->obj[i].type == SSC_REC_FILEMARK && ++fms == fid)
			return i + 1;
	}
	*found = false;
	return ix->nr;
}

static void ssc_locate_start(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	uint64_t id, to;
	bool found = true;

	if (cmd->cdb[0] == 0x92) {
		uint8_t dest = (cmd->cdb[1] >> 3) & 0x07;

		id = get_be64(cmd->cdb + 4);
		if (dest == SSC_DEST_EOD)
			to = m->ix.nr;
		else if (dest == SSC_DEST_FILE)
			to = ssc_file_start(&m->ix, id, &found);
		else
			to = id;
	} else {
		to = get_be32(cmd->cdb + 3);
	}
	if (to > m->ix.nr || !found) {
		/* SSC-5 §7.3: positioned at end of data, BLANK CHECK. */
		m->pos = m->ix.nr;
		ssc_finish_sense(cmd, SCSI_SK_BLANK_CHECK, SCSI_ASC_END_OF_DATA,
				 0, false, 0);
		return;
	}
	m->pos = to;
	ssc_finish(cmd);
}

/* ---- READ POSITION ---- */

enum ssc_rp_form {
	SSC_RP_SHORT = 0x00,
	SSC_RP_SHORT_VS = 0x01,
	SSC_RP_LONG = 0x06,
};

#define SSC_RP_SHORT_LEN 20
#define SSC_RP_LONG_LEN	 32

static int ssc_rp_parse(struct scsi_cmd *cmd)
{
	uint16_t alloc = get_be16(cmd->cdb + 7);
	uint32_t len = (cmd->cdb[1] & 0x1f) == SSC_RP_LONG ? SSC_RP_LONG_LEN
							   : SSC_RP_SHORT_LEN;

	/* SSC-5: an ALLOCATION LENGTH of 0 with the short forms means
	 * their 20 bytes (older initiators send none). */
	cmd->cdb_xfer_len = alloc && alloc < len ? alloc : len;
	return 0;
}

static void ssc_rp_start(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	uint64_t off = ssc_index_off(&m->ix, m->pos);
	uint8_t d[SSC_RP_LONG_LEN];
	uint8_t flags = 0;

	memset(d, 0, sizeof(d));
	if (m->pos == 0)
		flags |= 0x80; /* BOP */
	/* EOP: between early warning and the end of the partition. BPEW
	 * (a programmable early warning) stays 0: there is none. */
	if (ssc_past_ew(m, off))
		flags |= 0x40;
	if ((cmd->cdb[1] & 0x1f) == SSC_RP_LONG) {
		uint64_t fid = 0;

		for (uint64_t i = 0; i < m->pos && i < m->ix.nr; i++)
			fid += m->ix.obj[i].type == SSC_REC_FILEMARK;
		d[0] = flags;
		put_be64(d + 8, m->pos); /* LOGICAL OBJECT NUMBER */
		put_be64(d + 16, fid);	 /* LOGICAL FILE IDENTIFIER */
		scsi_cmd_put_data(cmd, d, SSC_RP_LONG_LEN);
	} else {
		/* Nothing is buffered: first and last are the same, the
		 * counts 0; LOCU 0 and BYCU 0 (both known). */
		d[0] = flags;
		if (m->pos > UINT32_MAX)
			d[0] |= 0x04; /* LOLU: does not fit */
		put_be32(d + 4, (uint32_t)m->pos);
		put_be32(d + 8, (uint32_t)m->pos);
		scsi_cmd_put_data(cmd, d, SSC_RP_SHORT_LEN);
	}
	ssc_finish(cmd);
}

/* ---- LOAD UNLOAD ---- */

#define SSC_LU_LOAD  0x01
#define SSC_LU_RETEN 0x02
#define SSC_LU_EOT   0x04
#define SSC_LU_HOLD  0x08

static int ssc_load_parse(struct scsi_cmd *cmd)
{
	uint8_t b4 = cmd->cdb[4];

	if ((b4 & SSC_LU_LOAD) && (b4 & SSC_LU_EOT)) {
		scsi_cmd_set_invalid_field(cmd, 4, 2);
		return -EINVAL;
	}
	return 0;
}

static void ssc_unload_flushed(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	if (req->result < 0) {
		ssc_finish_sense(cmd, SCSI_SK_MEDIUM_ERROR,
				 SCSI_ASC_WRITE_ERROR, 0, false, 0);
		return;
	}
	if (!(cmd->cdb[4] & SSC_LU_HOLD))
		ssc_set_loaded(cmd->lu, false, NULL);
	ssc_finish(cmd);
}

static void ssc_load_start(struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->lu;
	struct ssc_lu *m = lu->dtype_priv;
	bool prevented;

	if (cmd->cdb[4] & SSC_LU_LOAD) {
		if (!lu->bs || m->fd < 0 || m->removed) { /* empty */
			ssc_finish_sense(cmd, SCSI_SK_NOT_READY,
					 SCSI_ASC_MEDIUM_NOT_PRESENT, 0, false,
					 0);
			return;
		}
		m->pos = 0; /* retension too ends at BOP */
		if (!ssc_loaded(lu))
			ssc_set_loaded(lu, true, cmd->nexus);
		ssc_finish(cmd);
		return;
	}
	if (!ssc_loaded(lu)) {
		ssc_finish(cmd);
		return;
	}
	pthread_mutex_lock(&lu->lock);
	prevented = lu->nr_prevent && !(cmd->cdb[4] & SSC_LU_HOLD);
	pthread_mutex_unlock(&lu->lock);
	if (prevented) {
		ssc_finish_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				 SCSI_ASC_MEDIUM_REMOVAL_PREVENTED, 0, false,
				 0);
		return;
	}
	m->pos = 0;
	sbc_req_prep(cmd, BS_OP_FLUSH, 0, 0, 0, NULL, ssc_unload_flushed);
	bs_submit(lu->bs, &cmd->bs);
}

/* ---- the commands that hold the drive ---- */

static void ssc_start(struct scsi_cmd *cmd)
{
	/* Waited behind others: the medium may have gone meanwhile. */
	if (cmd->aborted) {
		ssc_finish(cmd);
		return;
	}
	if ((cmd->op->flags & SCSI_OP_MEDIUM) && !ssc_loaded(cmd->lu)) {
		ssc_finish_sense(cmd, SCSI_SK_NOT_READY,
				 SCSI_ASC_MEDIUM_NOT_PRESENT, 0, false, 0);
		return;
	}
	switch (cmd->cdb[0]) {
	case 0x01:
		ssc_rewind_start(cmd);
		break;
	case 0x08:
		ssc_read_start(cmd);
		break;
	case 0x0a:
		ssc_write_start(cmd);
		break;
	case 0x10:
		ssc_wfm_start(cmd);
		break;
	case 0x11:
		ssc_space_start(cmd);
		break;
	case 0x19:
		ssc_erase_start(cmd);
		break;
	case 0x1b:
		ssc_load_start(cmd);
		break;
	case 0x2b:
	case 0x92:
		ssc_locate_start(cmd);
		break;
	case 0x34:
		ssc_rp_start(cmd);
		break;
	default:
		ssc_finish_sense(cmd, SCSI_SK_HARDWARE_ERROR,
				 SCSI_ASC_INTERNAL_TARGET_FAILURE, 0, false, 0);
		break;
	}
}

/* ---- READ BLOCK LIMITS, REPORT DENSITY SUPPORT, PREVENT ALLOW ---- */

static int ssc_limits_parse(struct scsi_cmd *cmd)
{
	cmd->cdb_xfer_len = (cmd->cdb[1] & 0x01) ? 20 : 6;
	return 0;
}

static int ssc_limits(struct scsi_cmd *cmd)
{
	uint8_t d[20];

	memset(d, 0, sizeof(d));
	if (cmd->cdb[1] & 0x01) { /* MLOI: the largest logical object id */
		struct ssc_lu *m = cmd->lu->dtype_priv;
		uint64_t cap;

		pthread_mutex_lock(&m->lock);
		cap = m->hdr.capacity;
		pthread_mutex_unlock(&m->lock);
		put_be64(d + 12,
			 cap > SSC_FMT_DATA_START
			     ? (cap - SSC_FMT_DATA_START) / SSC_REC_HDR_LEN
			     : 0);
		scsi_cmd_put_data(cmd, d, 20);
		return 0;
	}
	put_be24(d + 1, SSC_REC_MAX_LEN); /* MAXIMUM BLOCK LENGTH LIMIT */
	put_be16(d + 4, 1);		  /* MINIMUM BLOCK LENGTH LIMIT */
	scsi_cmd_put_data(cmd, d, 6);
	return 0;
}

static int ssc_density_parse(struct scsi_cmd *cmd)
{
	if (cmd->cdb[1] & 0x02) { /* MEDIUM TYPE: no medium type list */
		scsi_cmd_set_invalid_field(cmd, 1, 1);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 7);
	return 0;
}

/* One density descriptor (SSC-5 §6.8.2): the lunar cartridge. */
static int ssc_density(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	bool media = cmd->cdb[1] & 0x01;
	uint8_t d[4 + 52];
	uint64_t cap = 0;

	if (media && !ssc_loaded(cmd->lu)) {
		scsi_cmd_set_sense(cmd, SCSI_SK_NOT_READY,
				   SCSI_ASC_MEDIUM_NOT_PRESENT);
		return 0;
	}
	pthread_mutex_lock(&m->lock);
	if (ssc_loaded(cmd->lu))
		cap = m->hdr.capacity;
	pthread_mutex_unlock(&m->lock);
	memset(d, 0, sizeof(d));
	put_be16(d, sizeof(d) - 2);
	d[4] = SSC_DENSITY;	     /* PRIMARY DENSITY CODE */
	d[5] = SSC_DENSITY;	     /* SECONDARY DENSITY CODE */
	d[6] = 0x80 | 0x20 | 0x01;   /* WRTOK, DEFLT, DLV */
	put_be16(d + 4 + 3, 52 - 5); /* DESCRIPTOR LENGTH, valid by DLV */
	put_be32(d + 4 + 12,
		 (uint32_t)(cap / 1000000 > UINT32_MAX ? UINT32_MAX
						       : cap / 1000000));
	memcpy(d + 4 + 16, "LUNAR   ", 8);
	memcpy(d + 4 + 24, "LUNARTP1", 8);
	memcpy(d + 4 + 32, "lunar cartridge file", 20);
	scsi_cmd_put_data(cmd, d, sizeof(d));
	return 0;
}

static int ssc_prevent_allow(struct scsi_cmd *cmd)
{
	uint8_t prevent = cmd->cdb[4] & 0x03;

	if (prevent <= 1)
		scsi_itl_set_prevent(cmd->itl, prevent);
	return 0;
}

/* ---- mode parameters ---- */

#define SSC_DP_WP	0x80
#define SSC_DP_BUFFERED 0x10 /* BUFFERED MODE 001b */

static uint8_t ssc_mode_device_param(const struct scsi_lu *lu)
{
	struct ssc_lu *m = lu->dtype_priv;
	uint8_t dp = 0;

	pthread_mutex_lock(&m->lock);
	if (m->wp || lu->params.readonly)
		dp |= SSC_DP_WP;
	if (m->buffered)
		dp |= SSC_DP_BUFFERED;
	pthread_mutex_unlock(&m->lock);
	return dp;
}

/* DENSITY CODE, NUMBER OF BLOCKS 0 (the rest of the medium), BLOCK
 * LENGTH (0: variable). No long form. */
static size_t ssc_mode_block_descriptor(const struct scsi_lu *lu, bool long_lba,
					uint8_t *d)
{
	struct ssc_lu *m = lu->dtype_priv;

	pthread_mutex_lock(&m->lock);
	d[0] = ssc_loaded(lu) ? SSC_DENSITY : 0;
	put_be24(d + 5, m->block_len);
	pthread_mutex_unlock(&m->lock);
	return 8;
}

static int ssc_mode_select_check(struct scsi_cmd *cmd, uint8_t dp,
				 const uint8_t *bd, size_t bd_off)
{
	size_t dp_off = bd_off == 8 ? 3 : 2;
	uint8_t mode = (dp >> 4) & 0x07;

	/* WP is not the initiator's to set; SPEED: one speed. */
	if (mode > 1)
		return scsi_cmd_set_param_error(
		    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, (long)dp_off, 6);
	if (dp & 0x0f)
		return scsi_cmd_set_param_error(
		    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, (long)dp_off, 3);
	if (!bd)
		return 0;
	if (bd[0] && bd[0] != SSC_DENSITY && bd[0] != 0x7f)
		return scsi_cmd_set_param_error(
		    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, (long)bd_off, 7);
	if (get_be24(bd + 1))
		return scsi_cmd_set_param_error(
		    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, (long)bd_off + 1, 7);
	if (get_be24(bd + 5) > SSC_REC_MAX_LEN)
		return scsi_cmd_set_param_error(
		    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, (long)bd_off + 5, 7);
	return 0;
}

static void ssc_mode_select_apply(struct scsi_lu *lu, uint8_t dp,
				  const uint8_t *bd)
{
	struct ssc_lu *m = lu->dtype_priv;

	pthread_mutex_lock(&m->lock);
	m->buffered = (dp >> 4) & 0x07;
	if (bd)
		m->block_len = get_be24(bd + 5);
	pthread_mutex_unlock(&m->lock);
}

/* 01h: errors are reported as they happen; nothing to tune. */
static void ssc_mode_error_recovery(const struct scsi_lu *lu,
				    enum scsi_mode_pc pc, uint8_t *p)
{
	p[0] = 0x01;
	p[1] = 0x0a;
}

/* 0Fh data compression: the drive does not compress (DCC 0); DCE can
 * only be 0. */
static void ssc_mode_compression(const struct scsi_lu *lu, enum scsi_mode_pc pc,
				 uint8_t *p)
{
	p[0] = 0x0f;
	p[1] = 0x0e;
}

/* 10h device configuration: logical object identifiers supported
 * (LOIS), EOD generated on writes (EEG, EOD DEFINED 000b), writes
 * synchronised at early warning (SEW: nothing is buffered anyway). */
static void ssc_mode_device_config(const struct scsi_lu *lu,
				   enum scsi_mode_pc pc, uint8_t *p)
{
	p[0] = 0x10;
	p[1] = 0x0e;
	if (pc == SCSI_MODE_PC_CHANGEABLE)
		return;
	p[8] = 0x40;	     /* LOIS */
	p[10] = 0x10 | 0x08; /* EEG, SEW */
}

/* 11h medium partition: one partition, no more possible, none to
 * define; formats and partitions recognised (MEDIUM FORMAT RECOGNITION
 * 03h). */
static void ssc_mode_partition(const struct scsi_lu *lu, enum scsi_mode_pc pc,
			       uint8_t *p)
{
	p[0] = 0x11;
	p[1] = 0x06;
	if (pc == SCSI_MODE_PC_CHANGEABLE)
		return;
	p[5] = 0x03;
}

static const struct scsi_mode_page ssc_mode_pages[] = {
    {.code = 0x01, .len = 12, .build = ssc_mode_error_recovery},
    {.code = 0x0f, .len = 16, .build = ssc_mode_compression},
    {.code = 0x10, .len = 16, .build = ssc_mode_device_config},
    {.code = 0x11, .len = 8, .build = ssc_mode_partition},
};

/* ---- LU state ---- */

/* A tape: buffered I/O on a file store, a capacity its cartridge
 * decides, no provisioning or physical block of its own. */
static int ssc_check_params(struct scsi_lu_params *p, const struct bs_ops *ops,
			    char *err, size_t errlen)
{
	if (!p->block_size)
		p->block_size = SSC_BLOCK_SIZE;
	if (p->block_size != SSC_BLOCK_SIZE) {
		snprintf(err, errlen,
			 "a tape has no block size option (its block length "
			 "is set by MODE SELECT); leave --block-size out");
		return -EINVAL;
	}
	if (p->thin || p->physical_block_size) {
		snprintf(err, errlen,
			 "a tape cannot be thin nor have a physical block "
			 "size; drop those options");
		return -EINVAL;
	}
	if (p->direct) {
		snprintf(err, errlen,
			 "a tape writes records of any length: it takes "
			 "buffered I/O only; drop --direct");
		return -EINVAL;
	}
	if (p->size) {
		snprintf(err, errlen,
			 "a tape's capacity is its cartridge's; drop --size "
			 "and make the cartridge with lunarctl tape create "
			 "--size");
		return -EINVAL;
	}
	if (ops && strcmp(ops->name, "rdwr") && strcmp(ops->name, "aio") &&
	    strcmp(ops->name, "uring")) {
		snprintf(err, errlen,
			 "a tape's cartridge is a file: use --bstype rdwr, "
			 "aio or uring, not %s",
			 ops->name);
		return -EINVAL;
	}
	if (p->backing[0] && ssc_fmt_probe(p->backing) < 0) {
		snprintf(err, errlen,
			 "%s is not a lunar tape cartridge (or cannot be "
			 "read); make one with lunarctl tape create %s --size "
			 "SIZE",
			 p->backing, p->backing);
		return -EINVAL;
	}
	if (p->backing[0]) {
		int fd = ssc_cartridge_lock(p->backing, p->readonly);

		if (fd == -EWOULDBLOCK) {
			snprintf(err, errlen,
				 "cartridge %s is in another tape drive; "
				 "eject it there first (lun eject)",
				 p->backing);
			return -EBUSY;
		}
		if (fd >= 0)
			close(fd);
	}
	p->removable = true; /* INQUIRY RMB */
	return 0;
}

static int ssc_lu_init(struct scsi_lu *lu, char *err, size_t errlen)
{
	struct ssc_lu *m = calloc(1, sizeof(*m));
	int rc = 0;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	list_init(&m->queue);
	m->fd = -1;
	m->buffered = true;
	lu->dtype_priv = m;
	if (lu->bs)
		rc = ssc_cartridge_open(lu, lu->params.backing,
					scsi_lu_readonly(lu));
	if (rc < 0) {
		pthread_mutex_destroy(&m->lock);
		free(m);
		lu->dtype_priv = NULL;
		return rc;
	}
	atomic_store(&lu->medium_absent, lu->bs == NULL);
	return 0;
}

static void ssc_lu_exit(struct scsi_lu *lu)
{
	struct ssc_lu *m = lu->dtype_priv;

	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	ssc_index_free(&m->ix);
	pthread_mutex_destroy(&m->lock);
	free(m);
	lu->dtype_priv = NULL;
}

/* ---- the opcode table ---- */

#define SSC_MEMORY SCSI_TIMEOUTS_MEMORY
#define SSC_IO	   SCSI_TIMEOUTS_IO
#define SSC_FLUSH  SCSI_TIMEOUTS_FLUSH
/* Positioning: allowed under Write Exclusive reservations (SSC-5 table
 * of commands in the presence of reservations). */
#define SSC_MOVE  (SCSI_OP_MEDIUM | SCSI_OP_PR_READ)
#define SSC_WRITE (SCSI_OP_MEDIUM | SCSI_OP_WRITES | SCSI_OP_PR_WRITE)

/* A command that holds the drive while it runs: executed through the
 * FIFO (ssc_exec), and taken out of it when aborted while it waits. */
#define SSC_DRIVE_ROW(var, nm, opc, len, d, fl, prs, tmo, ...)                 \
	static const struct scsi_op var = {                                    \
	    .name = (nm),                                                      \
	    .opcode = (opc),                                                   \
	    .cdb_len = (len),                                                  \
	    .dir = (d),                                                        \
	    .flags = (fl),                                                     \
	    .parse = (prs),                                                    \
	    .execute = ssc_exec,                                               \
	    .abort = ssc_abort,                                                \
	    .usage = {__VA_ARGS__},                                            \
	    .timeouts = tmo,                                                   \
	}

SSC_DRIVE_ROW(ssc_op_rewind, "REWIND", 0x01, 6, SCSI_DIR_NONE, SSC_MOVE, NULL,
	      SSC_FLUSH, 0x01, 0x01, 0x00, 0x00, 0x00, 0x05);
SSC_DRIVE_ROW(ssc_op_read, "READ(6)", 0x08, 6, SCSI_DIR_READ, SSC_MOVE,
	      ssc_rw_parse, SSC_IO, 0x08, 0x03, 0xff, 0xff, 0xff, 0x05);
SSC_DRIVE_ROW(ssc_op_write, "WRITE(6)", 0x0a, 6, SCSI_DIR_WRITE, SSC_WRITE,
	      ssc_rw_parse, SSC_IO, 0x0a, 0x01, 0xff, 0xff, 0xff, 0x05);
SSC_DRIVE_ROW(ssc_op_wfm, "WRITE FILEMARKS(6)", 0x10, 6, SCSI_DIR_NONE,
	      SSC_WRITE, ssc_wfm_parse, SSC_FLUSH, 0x10, 0x03, 0xff, 0xff, 0xff,
	      0x05);
SSC_DRIVE_ROW(ssc_op_space, "SPACE(6)", 0x11, 6, SCSI_DIR_NONE, SSC_MOVE,
	      ssc_space_parse, SSC_MEMORY, 0x11, 0x0f, 0xff, 0xff, 0xff, 0x05);
SSC_DRIVE_ROW(ssc_op_erase, "ERASE(6)", 0x19, 6, SCSI_DIR_NONE, SSC_WRITE, NULL,
	      SSC_FLUSH, 0x19, 0x03, 0x00, 0x00, 0x00, 0x05);
/* Without SCSI_OP_MEDIUM: LOAD is what brings the medium in. */
SSC_DRIVE_ROW(ssc_op_load, "LOAD UNLOAD", 0x1b, 6, SCSI_DIR_NONE,
	      SCSI_OP_PR_WRITE, ssc_load_parse, SSC_FLUSH, 0x1b, 0x01, 0x00,
	      0x00, 0x0f, 0x05);
static SCSI_OP_ROW(ssc_op_prevent_allow, "PREVENT ALLOW MEDIUM REMOVAL", 0x1e,
		   6, SCSI_DIR_NONE, SCSI_OP_PR_WRITE, NULL, ssc_prevent_allow,
		   SSC_MEMORY, 0x1e, 0x00, 0x00, 0x00, 0x03, 0x05);
SSC_DRIVE_ROW(ssc_op_locate10, "LOCATE(10)", 0x2b, 10, SCSI_DIR_NONE, SSC_MOVE,
	      ssc_locate_parse, SSC_MEMORY, 0x2b, 0x07, 0x00, 0xff, 0xff, 0xff,
	      0xff, 0x00, 0xff, 0x05);
SSC_DRIVE_ROW(ssc_op_locate16, "LOCATE(16)", 0x92, 16, SCSI_DIR_NONE, SSC_MOVE,
	      ssc_locate_parse, SSC_MEMORY, 0x92, 0x3b, 0x03, 0xff, 0xff, 0xff,
	      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x05);

#define SSC_RP_ROW(var, nm, sa)                                                \
	static const struct scsi_op var = {                                    \
	    .name = (nm),                                                      \
	    .opcode = 0x34,                                                    \
	    .service_action = (sa),                                            \
	    .cdb_len = 10,                                                     \
	    .dir = SCSI_DIR_READ,                                              \
	    .flags = SSC_MOVE | SCSI_OP_SA,                                    \
	    .max_data = SSC_RP_LONG_LEN,                                       \
	    .parse = ssc_rp_parse,                                             \
	    .execute = ssc_exec,                                               \
	    .abort = ssc_abort,                                                \
	    .usage = {0x34, (sa), 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,    \
		      0x05},                                                   \
	    .timeouts = SCSI_TIMEOUTS_MEMORY,                                  \
	}
SSC_RP_ROW(ssc_op_rp_short, "READ POSITION (SHORT FORM)", SSC_RP_SHORT);
SSC_RP_ROW(ssc_op_rp_short_vs, "READ POSITION (SHORT FORM, VS)",
	   SSC_RP_SHORT_VS);
SSC_RP_ROW(ssc_op_rp_long, "READ POSITION (LONG FORM)", SSC_RP_LONG);

static const struct scsi_op ssc_op_limits = {
    .name = "READ BLOCK LIMITS",
    .opcode = 0x05,
    .cdb_len = 6,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_PR_ALLOW,
    .max_data = 20,
    .parse = ssc_limits_parse,
    .execute = ssc_limits,
    .usage = {0x05, 0x01, 0x00, 0x00, 0x00, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

static const struct scsi_op ssc_op_density = {
    .name = "REPORT DENSITY SUPPORT",
    .opcode = 0x44,
    .cdb_len = 10,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_PR_ALLOW,
    .max_data = 56,
    .parse = ssc_density_parse,
    .execute = ssc_density,
    .usage = {0x44, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* clang-format off */
static const struct scsi_op *const ssc_ops[] = {
	&spc_op_test_unit_ready,
	&ssc_op_rewind,
	&spc_op_request_sense,
	&ssc_op_limits,
	&ssc_op_read,
	&ssc_op_write,
	&ssc_op_wfm,
	&ssc_op_space,
	&spc_op_inquiry,
	&spc_op_mode_select6,
	&spc_op_reserve6,
	&spc_op_release6,
	&ssc_op_erase,
	&spc_op_mode_sense6,
	&ssc_op_load,
	&ssc_op_prevent_allow,
	&ssc_op_locate10,
	&ssc_op_rp_short,
	&ssc_op_rp_short_vs,
	&ssc_op_rp_long,
	&ssc_op_density,
	&spc_op_mode_select10,
	&spc_op_reserve10,
	&spc_op_release10,
	&spc_op_mode_sense10,
	SPC_OPS_PERSISTENT_RESERVE,
	&ssc_op_locate16,
	&spc_op_report_luns,
	&spc_op_report_opcodes,
	&spc_op_report_tmfs,
	&spc_op_report_tpgs,
	&spc_op_set_tpgs,
};
/* clang-format on */

_Static_assert(SSC_COUNT(ssc_ops) <= SCSI_OPS_MAX,
	       "the tape's opcode table outgrew SCSI_OPS_MAX");

/* Not static: tests name it so that the linker keeps this object. */
struct scsi_device_type ssc_tape_type = {
    .name = "tape",
    .pdt = SCSI_PDT_TAPE,
    .product = "VIRTUAL TAPE",
    .versions = {SSC_VERSION_SSC3},
    .ops = ssc_ops,
    .nr_ops = SSC_COUNT(ssc_ops),
    .mode_pages = ssc_mode_pages,
    .nr_mode_pages = SSC_COUNT(ssc_mode_pages),
    .mode_device_param = ssc_mode_device_param,
    .mode_block_descriptor = ssc_mode_block_descriptor,
    .mode_select_check = ssc_mode_select_check,
    .mode_select_apply = ssc_mode_select_apply,
    .check_params = ssc_check_params,
    .medium_eject = ssc_medium_eject,
    .medium_load = ssc_medium_load,
    .medium_optional = true,
    .mode_page_zero = true,
    .lu_init = ssc_lu_init,
    .lu_exit = ssc_lu_exit,
    .lu_ready = ssc_lu_ready,
};

SCSI_DEVICE_TYPE_REGISTER(ssc_tape_type)
