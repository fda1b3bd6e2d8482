/*
 * The disk's data-comparing and atomic commands (SBC-4), and the range
 * lock every write of the disk goes through:
 *   VERIFY (10/12/16) with BYTCHK 00b (medium verification), 01b (the
 *   Data-Out compared with the medium) and 11b (one block of Data-Out
 *   compared with every block of the range); WRITE AND VERIFY
 *   (10/12/16); COMPARE AND WRITE; ORWRITE (16); WRITE ATOMIC (16) with
 *   the atomic limits of the Block Limits VPD page (§6.6.4); PRE-FETCH
 *   (10/16); READ DEFECT DATA (10/12) with its empty lists (§6.2).
 *
 * Atomicity (SBC-4 §4.29, and COMPARE AND WRITE's "uninterrupted series
 * of actions"): COMPARE AND WRITE, ORWRITE, WRITE ATOMIC and WRITE AND
 * VERIFY hold their blocks exclusively in the LU's range lock
 * (range_lock.h) from their first store request to their last; every
 * other write takes the blocks it writes shared, in sbc_submit(), so it
 * neither runs inside such a command nor is torn by one, whichever
 * session or reactor sent it. Reads take no lock.
 *
 * A miscompare is MISCOMPARE / MISCOMPARE DURING VERIFY OPERATION with the
 * offset of the first differing byte of the Data-Out buffer in the
 * INFORMATION field.
 */
#include <errno.h>
#include <string.h>

#include "scsi/buf.h"
#include "scsi/device.h"
#include "scsi/sbc.h"
#include "scsi/sense.h"
#include "util/bytes.h"

/* MAXIMUM COMPARE AND WRITE LENGTH: the most the one-byte NUMBER OF
 * LOGICAL BLOCKS can ask (the Data-Out is twice that). */
#define CMP_CAW_MAX_BLOCKS 255u
/* MAXIMUM ATOMIC TRANSFER LENGTH in bytes: what one cached buffer holds. */
#define CMP_ATOMIC_MAX_BYTES SCSI_BUF_CACHE_MAX
/*
 * PRE-FETCH fills the host's page cache under the store: one read of at
 * most this much. A range that fits is reported cached (CONDITION MET);
 * a larger one has its first part fetched and GOOD (SBC-4 PRE-FETCH).
 */
#define CMP_PREFETCH_CACHE_BYTES SCSI_BUF_CACHE_MAX

/* ---- limits (VPD B0h) ---- */

/*
 * A medium other hosts write too (an RBD image behind several gateways)
 * is compared and written atomically only by the store itself; the range
 * lock here would guard against this process alone. There the limit is
 * the store's (one block of a 512-byte LU on pacific's librbd, none of a
 * 4096-byte one: the command is then not supported at all).
 */
static uint32_t cmp_caw_max_blocks(const struct scsi_lu *lu)
{
	uint32_t half = sbc_max_xfer_blocks(lu) / 2;

	if (lu->bs->caps & BS_CAP_SHARED) {
		if (!(lu->bs->caps & BS_CAP_COMPARE_WRITE))
			return 0;
		half = lu->bs->compare_write_max >> lu->block_shift;
	}

	return half < CMP_CAW_MAX_BLOCKS ? half : CMP_CAW_MAX_BLOCKS;
}

static uint32_t cmp_atomic_max_blocks(const struct scsi_lu *lu)
{
	return CMP_ATOMIC_MAX_BYTES >> lu->block_shift;
}

/*
 * ATOMIC ALIGNMENT and ATOMIC TRANSFER LENGTH GRANULARITY: whole physical
 * blocks, and at least a page of the host (4 KiB), the unit its file
 * systems write whole. Blocks of 4 KiB and more need no more than one.
 */
static uint32_t cmp_atomic_unit(const struct scsi_lu *lu)
{
	uint32_t bytes = lu->params.physical_block_size;
	uint32_t unit;

	if (bytes < SCSI_BUF_ALIGN)
		bytes = SCSI_BUF_ALIGN;
	unit = bytes >> lu->block_shift;
	return unit ? unit : 1;
}

void sbc_cmp_block_limits(const struct scsi_lu *lu, uint8_t *p)
{
	p[1] = (uint8_t)cmp_caw_max_blocks(lu);
	put_be32(p + 40, cmp_atomic_max_blocks(lu));
	put_be32(p + 44, cmp_atomic_unit(lu));
	put_be32(p + 48, cmp_atomic_unit(lu));
	/* With an ATOMIC BOUNDARY the write may be as long as any, and it
	 * is still written whole under the lock: stronger than asked. */
	put_be32(p + 52, sbc_max_xfer_blocks(lu));
	put_be32(p + 56, cmp_atomic_max_blocks(lu));
}

/* ---- the range lock of ordinary writes ---- */

/* Granted: the request goes to the store, unless the command was aborted
 * meanwhile; then it completes unsent (-ECANCELED) through its issuer's
 * own completion, which gives the range back and cleans up. */
static void cmp_write_resume(void *arg)
{
	struct scsi_cmd *cmd = arg;

	if (cmd->aborted) {
		bs_complete(&cmd->bs, -ECANCELED);
		return;
	}
	bs_submit(cmd->lu->bs, &cmd->bs);
}

bool sbc_write_range_begin(struct scsi_cmd *cmd)
{
	const struct bs_req *req = &cmd->bs;
	uint32_t shift = cmd->lu->block_shift;
	uint64_t first, end;

	if (req->op != BS_OP_WRITE && req->op != BS_OP_DISCARD &&
	    req->op != BS_OP_WRITE_ZEROES)
		return false;
	/* An exclusive holder writing its own blocks. */
	if (cmd->range.state != SCSI_RANGE_IDLE)
		return false;
	first = req->offset >> shift;
	end = (req->offset + req->len + (1u << shift) - 1) >> shift;
	return scsi_range_acquire(sbc_range_lock(cmd->lu), &cmd->range, first,
				  end - first, false, cmd->nexus->reactor,
				  cmp_write_resume, cmd) != 0;
}

void sbc_write_range_end(struct scsi_cmd *cmd)
{
	if (cmd->range.state != SCSI_RANGE_IDLE)
		scsi_range_release(sbc_range_lock(cmd->lu), &cmd->range);
}

/* ---- steps shared by the commands below ---- */

/* Runs step(cmd) once cmd holds [cmd->lba, + nr) exclusively: now, or
 * from its reactor when the holders before it are done. */
static int cmp_lock_then(struct scsi_cmd *cmd, uint64_t nr, reactor_msg_fn step)
{
	if (scsi_range_acquire(sbc_range_lock(cmd->lu), &cmd->range, cmd->lba,
			       nr, true, cmd->nexus->reactor, step, cmd) == 0)
		step(cmd);
	return -EINPROGRESS;
}

/* Gives the blocks back and completes. */
static void cmp_finish(struct scsi_cmd *cmd)
{
	scsi_range_release(sbc_range_lock(cmd->lu), &cmd->range);
	scsi_cmd_complete(cmd);
}

static void cmp_submit(struct scsi_cmd *cmd, enum bs_op op, unsigned flags,
		       uint64_t nr, void *buf, void (*done)(struct bs_req *))
{
	uint32_t shift = cmd->lu->block_shift;

	sbc_req_prep(cmd, op, flags, cmd->lba << shift, nr << shift, buf, done);
	bs_submit(cmd->lu->bs, &cmd->bs);
}

/* FUA as asked, or always when the write cache is off. */
static unsigned cmp_write_flags(const struct scsi_cmd *cmd)
{
	return (cmd->cdb[1] & 0x08) || !sbc_wce(cmd->lu) ? BS_F_FUA : 0;
}

/* A scratch buffer for what is read from the medium; BUSY without one. */
static void *cmp_aux_get(struct scsi_cmd *cmd, uint64_t nr)
{
	void *aux = scsi_buf_get((uint32_t)(nr << cmd->lu->block_shift));

	if (!aux)
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
	return aux;
}

/* Offset of the first byte where a and b differ, or -1. */
static int64_t cmp_first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t off = 0; off < len; off += SCSI_BUF_ALIGN) {
		size_t n =
		    len - off < SCSI_BUF_ALIGN ? len - off : SCSI_BUF_ALIGN;

		if (!memcmp(a + off, b + off, n))
			continue;
		for (size_t i = off; i < off + n; i++) {
			if (a[i] != b[i])
				return (int64_t)i;
		}
	}
	return -1;
}

static void cmp_set_miscompare(struct scsi_cmd *cmd, uint64_t offset)
{
	struct scsi_sense_info si;

	scsi_sense_info_init(&si, SCSI_SK_MISCOMPARE,
			     SCSI_ASC_MISCOMPARE_DURING_VERIFY);
	si.info_valid = true;
	si.info = offset;
	scsi_cmd_set_sense_full(cmd, &si);
}

/*
 * The Data-Out the CDB describes must all come (exact: and no more) for a
 * command that compares it or writes it atomically: comparing part of it
 * would verify blocks nobody sent. The CDB itself is fine; the command's
 * expected data transfer length disagrees with it.
 */
static int cmp_check_data_out(struct scsi_cmd *cmd, bool exact)
{
	if (!cmd->cdb_xfer_len || (cmd->edir == SCSI_DIR_WRITE &&
				   (exact ? cmd->edtl == cmd->cdb_xfer_len
					  : cmd->edtl >= cmd->cdb_xfer_len)))
		return 0;
	scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
			   SCSI_ASC_INVALID_FIELD_IN_IU);
	return -EINVAL;
}

static uint8_t cmp_bytchk(const struct scsi_cmd *cmd)
{
	return (cmd->cdb[1] >> 1) & 0x03;
}

/* ---- VERIFY ---- */

/*
 * VRPROTECT, then BYTCHK 10b (reserved), then the range: an LBA past the
 * end is wrong whatever else the CDB says. BYTCHK 01b transfers the
 * blocks, 11b one block compared with each of them; both read the range
 * into one buffer, so both are bounded by the maximum transfer length.
 * Verifying no blocks compares nothing and is never an error.
 */
static int cmp_verify_parse(struct scsi_cmd *cmd, uint64_t lba, uint32_t nr,
			    uint16_t len_byte)
{
	uint8_t bytchk = cmp_bytchk(cmd);
	int rc;

	if (sbc_check_protect(cmd))
		return -EINVAL;
	if (bytchk == 0x02) {
		scsi_cmd_set_invalid_field(cmd, 1, 2);
		return -EINVAL;
	}
	rc = sbc_set_range(cmd, lba, nr, len_byte, bytchk != 0);
	if (rc)
		return rc;
	if (bytchk == 0x03 && nr)
		cmd->cdb_xfer_len = cmd->lu->block_size;
	return cmp_check_data_out(cmd, false);
}

static int cmp_verify10_parse(struct scsi_cmd *cmd)
{
	return cmp_verify_parse(cmd, get_be32(cmd->cdb + 2),
				get_be16(cmd->cdb + 7), 7);
}

static int cmp_verify12_parse(struct scsi_cmd *cmd)
{
	return cmp_verify_parse(cmd, get_be32(cmd->cdb + 2),
				get_be32(cmd->cdb + 6), 6);
}

static int cmp_verify16_parse(struct scsi_cmd *cmd)
{
	return cmp_verify_parse(cmd, get_be64(cmd->cdb + 2),
				get_be32(cmd->cdb + 10), 10);
}

static void cmp_verify_read_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;
	uint32_t bs = cmd->lu->block_size;
	const uint8_t *medium = req->buf;
	int64_t diff = -1;

	if (req->result < 0) {
		sbc_set_io_error(cmd, req);
	} else if (cmp_bytchk(cmd) == 0x01) {
		diff = cmp_first_diff(cmd->buf, medium, req->len);
	} else {
		/* 11b: the one block sent against each block read; the
		 * offset is within the Data-Out buffer, that one block. */
		for (uint64_t off = 0; off < req->len && diff < 0; off += bs)
			diff = cmp_first_diff(cmd->buf, medium + off, bs);
	}
	if (diff >= 0)
		cmp_set_miscompare(cmd, (uint64_t)diff);
	scsi_buf_put(req->buf, (uint32_t)req->len);
	scsi_cmd_complete(cmd);
}

static int cmp_verify(struct scsi_cmd *cmd)
{
	void *aux;

	/* BYTCHK=0: a medium verification. A file or block device keeps no
	 * error-correction data of ours to check; the blocks exist, which
	 * parse established. */
	if (!cmp_bytchk(cmd) || !cmd->nr_blocks)
		return 0;
	aux = cmp_aux_get(cmd, cmd->nr_blocks);
	if (!aux)
		return 0;
	cmp_submit(cmd, BS_OP_READ, 0, cmd->nr_blocks, aux,
		   cmp_verify_read_done);
	return -EINPROGRESS;
}

/* ---- WRITE AND VERIFY ---- */

/* WRPROTECT, BYTCHK (00b: read back, 01b: read back and compare; 10b and
 * 11b are reserved), the range. */
static int cmp_write_verify_parse(struct scsi_cmd *cmd, uint64_t lba,
				  uint32_t nr, uint16_t len_byte)
{
	if (sbc_check_protect(cmd))
		return -EINVAL;
	if (cmp_bytchk(cmd) & 0x02) {
		scsi_cmd_set_invalid_field(cmd, 1, 2);
		return -EINVAL;
	}
	return sbc_set_range(cmd, lba, nr, len_byte, true);
}

static int cmp_write_verify10_parse(struct scsi_cmd *cmd)
{
	return cmp_write_verify_parse(cmd, get_be32(cmd->cdb + 2),
				      get_be16(cmd->cdb + 7), 7);
}

static int cmp_write_verify12_parse(struct scsi_cmd *cmd)
{
	return cmp_write_verify_parse(cmd, get_be32(cmd->cdb + 2),
				      get_be32(cmd->cdb + 6), 6);
}

static int cmp_write_verify16_parse(struct scsi_cmd *cmd)
{
	return cmp_write_verify_parse(cmd, get_be64(cmd->cdb + 2),
				      get_be32(cmd->cdb + 10), 10);
}

static void cmp_write_verify_read_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;
	int64_t diff;

	if (req->result < 0) {
		sbc_set_io_error(cmd, req);
	} else if (cmp_bytchk(cmd) == 0x01) {
		diff = cmp_first_diff(cmd->buf, req->buf, req->len);
		if (diff >= 0)
			cmp_set_miscompare(cmd, (uint64_t)diff);
	}
	scsi_buf_put(req->buf, (uint32_t)req->len);
	cmp_finish(cmd);
}

static void cmp_write_verify_written(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;
	uint64_t nr = req->len >> cmd->lu->block_shift;
	void *aux;

	if (req->result < 0) {
		sbc_set_io_error(cmd, req);
		cmp_finish(cmd);
		return;
	}
	aux = cmd->aborted ? NULL : cmp_aux_get(cmd, nr);
	if (!aux) {
		cmp_finish(cmd);
		return;
	}
	cmp_submit(cmd, BS_OP_READ, 0, nr, aux, cmp_write_verify_read_done);
}

static void cmp_write_verify_start(void *arg)
{
	struct scsi_cmd *cmd = arg;

	if (cmd->aborted) {
		cmp_finish(cmd);
		return;
	}
	/* Verified from the medium: written through to it first. */
	cmp_submit(cmd, BS_OP_WRITE, BS_F_FUA,
		   cmd->xfer_len >> cmd->lu->block_shift, cmd->buf,
		   cmp_write_verify_written);
}

static int cmp_write_verify(struct scsi_cmd *cmd)
{
	/* What came: EDTL may have cut the transfer (whole blocks). */
	if (!cmd->xfer_len)
		return 0;
	return cmp_lock_then(cmd, cmd->xfer_len >> cmd->lu->block_shift,
			     cmp_write_verify_start);
}

/* ---- COMPARE AND WRITE ---- */

/*
 * WRPROTECT; the blocks against MAXIMUM COMPARE AND WRITE LENGTH, those
 * of NUMBER OF LOGICAL BLOCKS and those of the Data-Out sent with it (the
 * field is one byte: a COMPARE AND WRITE of 256 blocks comes with 0
 * there and twice 256 blocks of data); the range. Zero blocks compare
 * and write nothing and the Data-Out is not used; otherwise it (verify
 * blocks, then write blocks) must be exactly twice the blocks: with any
 * other length the initiator and the device server would disagree where
 * the write data begins.
 */
static int cmp_caw_parse(struct scsi_cmd *cmd)
{
	uint32_t max = cmp_caw_max_blocks(cmd->lu);
	uint32_t nr = cmd->cdb[13];
	int rc;

	if (sbc_check_protect(cmd))
		return -EINVAL;
	if (nr > max || (cmd->edir == SCSI_DIR_WRITE &&
			 cmd->edtl > (2 * max) << cmd->lu->block_shift)) {
		scsi_cmd_set_invalid_field(cmd, 13, 7);
		return -EINVAL;
	}
	rc = sbc_set_range(cmd, get_be64(cmd->cdb + 2), nr, 13, false);
	if (rc)
		return rc;
	cmd->cdb_xfer_len = (2 * nr) << cmd->lu->block_shift;
	return cmp_check_data_out(cmd, true);
}

static void cmp_caw_written(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	if (req->result < 0)
		sbc_set_io_error(cmd, req);
	cmp_finish(cmd);
}

static void cmp_caw_read_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;
	uint32_t len = (uint32_t)req->len;
	int64_t diff = -1;

	if (req->result < 0)
		sbc_set_io_error(cmd, req);
	else
		diff = cmp_first_diff(cmd->buf, req->buf, len);
	scsi_buf_put(req->buf, len);
	if (diff >= 0)
		cmp_set_miscompare(cmd, (uint64_t)diff);
	if (req->result < 0 || diff >= 0 || cmd->aborted) {
		cmp_finish(cmd);
		return;
	}
	cmp_submit(cmd, BS_OP_WRITE, cmp_write_flags(cmd), cmd->nr_blocks,
		   cmd->buf + len, cmp_caw_written);
}

static void cmp_caw_start(void *arg)
{
	struct scsi_cmd *cmd = arg;
	void *aux = cmd->aborted ? NULL : cmp_aux_get(cmd, cmd->nr_blocks);

	if (!aux) {
		cmp_finish(cmd);
		return;
	}
	cmp_submit(cmd, BS_OP_READ, 0, cmd->nr_blocks, aux, cmp_caw_read_done);
}

/* The store's own COMPARE_AND_WRITE finished. */
static void cmp_caw_store_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	if (req->result == -EILSEQ)
		cmp_set_miscompare(cmd, req->miscompare);
	else if (req->result < 0)
		sbc_set_io_error(cmd, req);
	cmp_finish(cmd);
}

static void cmp_caw_store_start(void *arg)
{
	struct scsi_cmd *cmd = arg;

	if (cmd->aborted) {
		cmp_finish(cmd);
		return;
	}
	/* The Data-Out is the verify blocks, then the write blocks: the
	 * layout BS_OP_COMPARE_AND_WRITE takes. */
	cmp_submit(cmd, BS_OP_COMPARE_AND_WRITE, 0, cmd->nr_blocks, cmd->buf,
		   cmp_caw_store_done);
}

static bool cmp_caw_by_store(const struct scsi_cmd *cmd)
{
	const struct bs_dev *bs = cmd->lu->bs;

	return (bs->caps & BS_CAP_COMPARE_WRITE) &&
	       (cmd->nr_blocks << cmd->lu->block_shift) <=
		   bs->compare_write_max;
}

static int cmp_caw(struct scsi_cmd *cmd)
{
	/* No blocks: nothing read, compared or written; not an error. */
	if (!cmd->nr_blocks)
		return 0;
	/* The range lock still orders it against this process's writes. */
	if (cmp_caw_by_store(cmd))
		return cmp_lock_then(cmd, cmd->nr_blocks, cmp_caw_store_start);
	return cmp_lock_then(cmd, cmd->nr_blocks, cmp_caw_start);
}

static bool cmp_caw_supported(const struct scsi_lu *lu)
{
	return cmp_caw_max_blocks(lu) > 0;
}

/* ---- ORWRITE ---- */

static int cmp_orwrite_parse(struct scsi_cmd *cmd)
{
	if (sbc_check_protect(cmd)) /* ORPROTECT */
		return -EINVAL;
	return sbc_set_range(cmd, get_be64(cmd->cdb + 2),
			     get_be32(cmd->cdb + 10), 10, true);
}

static void cmp_orwrite_written(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	if (req->result < 0)
		sbc_set_io_error(cmd, req);
	scsi_buf_put(req->buf, (uint32_t)req->len);
	cmp_finish(cmd);
}

static void cmp_orwrite_read_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;
	uint8_t *blocks = req->buf;

	if (req->result < 0 || cmd->aborted) {
		if (req->result < 0)
			sbc_set_io_error(cmd, req);
		scsi_buf_put(req->buf, (uint32_t)req->len);
		cmp_finish(cmd);
		return;
	}
	for (uint64_t i = 0; i < req->len; i++)
		blocks[i] |= cmd->buf[i];
	cmp_submit(cmd, BS_OP_WRITE, cmp_write_flags(cmd),
		   req->len >> cmd->lu->block_shift, blocks,
		   cmp_orwrite_written);
}

static void cmp_orwrite_start(void *arg)
{
	struct scsi_cmd *cmd = arg;
	uint64_t nr = cmd->xfer_len >> cmd->lu->block_shift;
	void *aux = cmd->aborted ? NULL : cmp_aux_get(cmd, nr);

	if (!aux) {
		cmp_finish(cmd);
		return;
	}
	cmp_submit(cmd, BS_OP_READ, 0, nr, aux, cmp_orwrite_read_done);
}

static int cmp_orwrite(struct scsi_cmd *cmd)
{
	if (!cmd->xfer_len)
		return 0;
	return cmp_lock_then(cmd, cmd->xfer_len >> cmd->lu->block_shift,
			     cmp_orwrite_start);
}

/* ---- WRITE ATOMIC ---- */

/*
 * WRPROTECT; the range first (a write past the end is out of range
 * whatever its length); then, for a non-empty write, the length against
 * MAXIMUM ATOMIC TRANSFER LENGTH, or with an ATOMIC BOUNDARY the boundary
 * against MAXIMUM ATOMIC BOUNDARY SIZE and the length against MAXIMUM
 * ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY; the LBA against ATOMIC
 * ALIGNMENT and the length against ATOMIC TRANSFER LENGTH GRANULARITY.
 * All of the Data-Out must come: part of an atomic write is not one.
 */
static int cmp_write_atomic_parse(struct scsi_cmd *cmd)
{
	const struct scsi_lu *lu = cmd->lu;
	uint64_t lba = get_be64(cmd->cdb + 2);
	uint16_t boundary = get_be16(cmd->cdb + 10);
	uint32_t nr = get_be16(cmd->cdb + 12);
	uint32_t unit = cmp_atomic_unit(lu);
	int rc;

	if (sbc_check_protect(cmd))
		return -EINVAL;
	if (scsi_cmd_check_lba(cmd, lba, nr))
		return -ERANGE;
	if (nr) {
		if (!boundary && nr > cmp_atomic_max_blocks(lu)) {
			scsi_cmd_set_invalid_field(cmd, 12, 7);
			return -EINVAL;
		}
		if (boundary > cmp_atomic_max_blocks(lu)) {
			scsi_cmd_set_invalid_field(cmd, 10, 7);
			return -EINVAL;
		}
		if (lba % unit) {
			scsi_cmd_set_invalid_field(cmd, 2, 7);
			return -EINVAL;
		}
		if (nr % unit) {
			scsi_cmd_set_invalid_field(cmd, 12, 7);
			return -EINVAL;
		}
	}
	/* With a boundary: up to the maximum transfer length, checked here. */
	rc = sbc_set_range(cmd, lba, nr, 12, true);
	if (rc)
		return rc;
	return cmp_check_data_out(cmd, false);
}

static void cmp_write_atomic_written(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	if (req->result < 0)
		sbc_set_io_error(cmd, req);
	cmp_finish(cmd);
}

static void cmp_write_atomic_start(void *arg)
{
	struct scsi_cmd *cmd = arg;

	if (cmd->aborted) {
		cmp_finish(cmd);
		return;
	}
	cmp_submit(cmd, BS_OP_WRITE, cmp_write_flags(cmd), cmd->nr_blocks,
		   cmd->buf, cmp_write_atomic_written);
}

static int cmp_write_atomic(struct scsi_cmd *cmd)
{
	if (!cmd->nr_blocks)
		return 0;
	return cmp_lock_then(cmd, cmd->nr_blocks, cmp_write_atomic_start);
}

/* ---- PRE-FETCH ---- */

/* PREFETCH LENGTH 0 means "to the last block". IMMED is honoured by
 * waiting, which is always allowed. */
static int cmp_prefetch_range(struct scsi_cmd *cmd, uint64_t lba, uint32_t nr)
{
	if (scsi_cmd_check_lba(cmd, lba, nr))
		return -ERANGE;
	cmd->lba = lba;
	cmd->nr_blocks = nr;
	return 0;
}

static int cmp_prefetch10_parse(struct scsi_cmd *cmd)
{
	return cmp_prefetch_range(cmd, get_be32(cmd->cdb + 2),
				  get_be16(cmd->cdb + 7));
}

static int cmp_prefetch16_parse(struct scsi_cmd *cmd)
{
	return cmp_prefetch_range(cmd, get_be64(cmd->cdb + 2),
				  get_be32(cmd->cdb + 10));
}

static uint64_t cmp_prefetch_total(const struct scsi_cmd *cmd)
{
	return cmd->nr_blocks ? cmd->nr_blocks
			      : scsi_lu_blocks(cmd->lu) - cmd->lba;
}

static bool cmp_prefetch_fits(const struct scsi_cmd *cmd)
{
	return cmp_prefetch_total(cmd) <=
	       (CMP_PREFETCH_CACHE_BYTES >> cmd->lu->block_shift);
}

static void cmp_prefetch_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	scsi_buf_put(req->buf, (uint32_t)req->len);
	if (req->result < 0)
		sbc_set_io_error(cmd, req);
	else if (cmp_prefetch_fits(cmd))
		scsi_cmd_set_status(cmd, SAM_STAT_CONDITION_MET);
	scsi_cmd_complete(cmd);
}

static int cmp_prefetch(struct scsi_cmd *cmd)
{
	uint64_t cache = CMP_PREFETCH_CACHE_BYTES >> cmd->lu->block_shift;
	uint64_t nr = cmp_prefetch_total(cmd);
	void *aux;

	/* With O_DIRECT nothing is cached on the way: GOOD, none fetched. */
	if (cmd->lu->params.direct)
		return 0;
	if (!nr) {
		scsi_cmd_set_status(cmd, SAM_STAT_CONDITION_MET);
		return 0;
	}
	if (nr > cache)
		nr = cache;
	aux = cmp_aux_get(cmd, nr);
	if (!aux)
		return 0;
	cmp_submit(cmd, BS_OP_READ, 0, nr, aux, cmp_prefetch_done);
	return -EINPROGRESS;
}

/* ---- READ DEFECT DATA ---- */

#define CMP_DEFECT_FORMAT_LONG	 0x3 /* long block format address */
#define CMP_DEFECT_FORMAT_VENDOR 0x6
#define CMP_DEFECT_FORMAT_RSVD	 0x7

/*
 * The lists of a virtual disk are empty, so any address descriptor format
 * (short and long block, bytes from index, physical sector, and their
 * extended forms) represents them. The vendor specific format has no
 * meaning here: the lists go out in long block format, then RECOVERED
 * ERROR / DEFECT LIST NOT FOUND (SBC-4 READ DEFECT DATA). 111b is
 * reserved.
 */
static int cmp_defect_format_check(struct scsi_cmd *cmd, uint16_t byte)
{
	if ((cmd->cdb[byte] & 0x07) == CMP_DEFECT_FORMAT_RSVD) {
		scsi_cmd_set_invalid_field(cmd, byte, 2);
		return -EINVAL;
	}
	return 0;
}

static int cmp_read_defect10_parse(struct scsi_cmd *cmd)
{
	if (cmp_defect_format_check(cmd, 2))
		return -EINVAL;
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 7);
	return 0;
}

static int cmp_read_defect12_parse(struct scsi_cmd *cmd)
{
	if (cmp_defect_format_check(cmd, 1))
		return -EINVAL;
	cmd->cdb_xfer_len = get_be32(cmd->cdb + 6);
	return 0;
}

/* Header of (10): 4 bytes, LENGTH at 2; of (12): 8 bytes, GENERATION
 * CODE (0: none kept) at 2 and LENGTH at 4. The lists are empty. */
static int cmp_read_defect(struct scsi_cmd *cmd, uint8_t flags, size_t len)
{
	uint8_t asked = flags & 0x07;
	uint8_t format =
	    asked == CMP_DEFECT_FORMAT_VENDOR ? CMP_DEFECT_FORMAT_LONG : asked;
	uint8_t d[8] = {0};

	/* PLISTV and GLISTV: the lists asked for (REQ_PLIST, REQ_GLIST). */
	d[1] = (uint8_t)((flags & 0x18) | format);
	scsi_cmd_put_data(cmd, d, len);
	if (format != asked)
		scsi_cmd_set_sense(cmd, SCSI_SK_RECOVERED_ERROR,
				   SCSI_ASC_DEFECT_LIST_NOT_FOUND);
	return 0;
}

static int cmp_read_defect10(struct scsi_cmd *cmd)
{
	return cmp_read_defect(cmd, cmd->cdb[2], 4);
}

static int cmp_read_defect12(struct scsi_cmd *cmd)
{
	return cmp_read_defect(cmd, cmd->cdb[1], 8);
}

/* ---- the rows (sbc.c's table lists them) ---- */

/*
 * CDB usage data: byte 1 is F6h for VERIFY and WRITE AND VERIFY
 * (VRPROTECT/WRPROTECT, DPO, BYTCHK), F8h for COMPARE AND WRITE, ORWRITE
 * and WRITE ATOMIC (WRPROTECT/ORPROTECT, DPO, FUA); DPO is a hint always
 * satisfied (no cache of our own). GROUP NUMBER is ignored everywhere.
 */

#define CMP_COMPARE (SCSI_OP_BLOCKS | SCSI_OP_MEDIUM | SCSI_OP_PR_READ)
#define CMP_WRITE                                                              \
	(SCSI_OP_BLOCKS | SCSI_OP_WRITES | SCSI_OP_MEDIUM | SCSI_OP_PR_WRITE)
#define CMP_IO SCSI_TIMEOUTS_IO

/* clang-format off */
SCSI_OP_ROW(sbc_op_verify10, "VERIFY(10)", 0x2f, 10, SCSI_DIR_WRITE, CMP_COMPARE,
	cmp_verify10_parse, cmp_verify, CMP_IO,
	0x2f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x05);
SCSI_OP_ROW(sbc_op_verify12, "VERIFY(12)", 0xaf, 12, SCSI_DIR_WRITE, CMP_COMPARE,
	cmp_verify12_parse, cmp_verify, CMP_IO,
	0xaf, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x05);
SCSI_OP_ROW(sbc_op_verify16, "VERIFY(16)", 0x8f, 16, SCSI_DIR_WRITE, CMP_COMPARE,
	cmp_verify16_parse, cmp_verify, CMP_IO,
	0x8f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0x00, 0x05);
SCSI_OP_ROW(sbc_op_write_verify10, "WRITE AND VERIFY(10)", 0x2e, 10,
	SCSI_DIR_WRITE, CMP_WRITE, cmp_write_verify10_parse, cmp_write_verify,
	CMP_IO,
	0x2e, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x05);
SCSI_OP_ROW(sbc_op_write_verify12, "WRITE AND VERIFY(12)", 0xae, 12,
	SCSI_DIR_WRITE, CMP_WRITE, cmp_write_verify12_parse, cmp_write_verify,
	CMP_IO,
	0xae, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x05);
SCSI_OP_ROW(sbc_op_write_verify16, "WRITE AND VERIFY(16)", 0x8e, 16,
	SCSI_DIR_WRITE, CMP_WRITE, cmp_write_verify16_parse, cmp_write_verify,
	CMP_IO,
	0x8e, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0x00, 0x05);
SCSI_OP_ROW(sbc_op_orwrite16, "ORWRITE(16)", 0x8b, 16, SCSI_DIR_WRITE, CMP_WRITE,
	cmp_orwrite_parse, cmp_orwrite, CMP_IO,
	0x8b, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0x00, 0x05);
SCSI_OP_ROW(sbc_op_prefetch10, "PRE-FETCH(10)", 0x34, 10, SCSI_DIR_NONE,
	SCSI_OP_MEDIUM | SCSI_OP_PR_READ, cmp_prefetch10_parse, cmp_prefetch, CMP_IO,
	0x34, 0x02, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x05);
SCSI_OP_ROW(sbc_op_prefetch16, "PRE-FETCH(16)", 0x90, 16, SCSI_DIR_NONE,
	SCSI_OP_MEDIUM | SCSI_OP_PR_READ, cmp_prefetch16_parse, cmp_prefetch, CMP_IO,
	0x90, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0x00, 0x05);
SCSI_OP_ROW(sbc_op_write_atomic16, "WRITE ATOMIC(16)", 0x9c, 16, SCSI_DIR_WRITE,
	CMP_WRITE, cmp_write_atomic_parse, cmp_write_atomic, CMP_IO,
	0x9c, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0x00, 0x05);
/* clang-format on */

/* Not supported where the medium cannot do it atomically for every
 * host (cmp_caw_max_blocks). */
const struct scsi_op sbc_op_compare_and_write = {
    .name = "COMPARE AND WRITE",
    .opcode = 0x89,
    .cdb_len = 16,
    .dir = SCSI_DIR_WRITE,
    .flags = CMP_WRITE,
    .parse = cmp_caw_parse,
    .execute = cmp_caw,
    .supported = cmp_caw_supported,
    .usage = {0x89, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
	      0x00, 0x00, 0xff, 0x00, 0x05},
    .timeouts = CMP_IO,
};

/* REQ_PLIST, REQ_GLIST and the format are examined, and so is the
 * ADDRESS DESCRIPTOR INDEX of (12) (past the end of an empty list). */
const struct scsi_op sbc_op_read_defect10 = {
    .name = "READ DEFECT DATA(10)",
    .opcode = 0x37,
    .cdb_len = 10,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_MEDIUM | SCSI_OP_PR_READ,
    .max_data = 4,
    .parse = cmp_read_defect10_parse,
    .execute = cmp_read_defect10,
    .usage = {0x37, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

const struct scsi_op sbc_op_read_defect12 = {
    .name = "READ DEFECT DATA(12)",
    .opcode = 0xb7,
    .cdb_len = 12,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_MEDIUM | SCSI_OP_PR_READ,
    .max_data = 8,
    .parse = cmp_read_defect12_parse,
    .execute = cmp_read_defect12,
    .usage = {0xb7, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
	      0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};
