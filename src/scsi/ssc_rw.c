/*
 * The data commands of the tape drive (SSC-5): READ (6) and WRITE (6) in
 * fixed and variable block mode (§7.4, §7.10: SILI, incorrect length with
 * its INFORMATION residual, FILEMARK, BLANK CHECK at end of data), WRITE
 * FILEMARKS (6) (§7.11, IMMED), ERASE (§7.1: end of data at the current
 * position), and the early warning and VOLUME OVERFLOW of writes near
 * the end of the cartridge (§4.2.5). Each runs while it holds the drive
 * (ssc.c) and moves its bytes with one backing store request through a
 * staging buffer: records and their trailing EOD record are written by
 * one request, so that the chain on the medium always ends cleanly or
 * in a torn record the next load cuts off (docs/tape-format.md). In
 * unbuffered mode (BUFFERED MODE 0) the write is FUA: stable before
 * GOOD.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bs/bs.h"
#include "scsi/device.h"
#include "scsi/sbc.h"
#include "scsi/sense.h"
#include "scsi/ssc.h"
#include "util/bytes.h"

#define SSC_RW_FIXED	0x01 /* byte 1 of READ (6) / WRITE (6) */
#define SSC_RW_SILI	0x02 /* byte 1 of READ (6) */
#define SSC_IMMED	0x01 /* byte 1 of WRITE FILEMARKS (6) */
#define SSC_WSMK	0x02
#define SSC_ERASE_LONG	0x01
#define SSC_ERASE_IMMED 0x02

/* ---- CDBs ---- */

/*
 * READ (6) / WRITE (6): the block length of fixed mode is the one in
 * force now; it is kept in cmd->lba so that a MODE SELECT between parse
 * and execute cannot change what the transfer length meant.
 */
int ssc_rw_parse(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	bool fixed = cmd->cdb[1] & SSC_RW_FIXED;
	uint32_t count = get_be24(cmd->cdb + 2), blen;
	uint64_t bytes;

	if (cmd->cdb[0] == 0x08 && fixed && (cmd->cdb[1] & SSC_RW_SILI)) {
		scsi_cmd_set_invalid_field(cmd, 1, 1);
		return -EINVAL;
	}
	pthread_mutex_lock(&m->lock);
	blen = m->block_len;
	pthread_mutex_unlock(&m->lock);
	if (fixed && !blen) {
		scsi_cmd_set_invalid_field(cmd, 1, 0);
		return -EINVAL;
	}
	bytes = fixed ? (uint64_t)count * blen : count;
	if (bytes > SSC_XFER_MAX ||
	    (fixed &&
	     (uint64_t)count * (blen + SSC_REC_HDR_LEN) > SSC_STAGE_MAX) ||
	    (cmd->cdb[0] == 0x0a && !fixed && bytes > SSC_REC_MAX_LEN)) {
		scsi_cmd_set_invalid_field(cmd, 2, 7);
		return -EINVAL;
	}
	cmd->lba = fixed ? blen : 0;
	cmd->nr_blocks = count;
	cmd->cdb_xfer_len = (uint32_t)bytes;
	return 0;
}

int ssc_wfm_parse(struct scsi_cmd *cmd)
{
	if (cmd->cdb[1] & SSC_WSMK) { /* no setmarks */
		scsi_cmd_set_invalid_field(cmd, 1, 1);
		return -EINVAL;
	}
	return 0;
}

/* ---- READ (6) ---- */

/* Whether the record at p (the staging copy of object i) is whole. */
static bool ssc_record_ok(const uint8_t *p, const struct ssc_obj *o, uint64_t i)
{
	struct ssc_rec_hdr r;

	return ssc_rec_decode(p, &r) == 0 && r.object == i &&
	       r.type == o->type && r.len == o->len &&
	       r.data_crc ==
		   (o->len ? ssc_crc32c(p + SSC_REC_HDR_LEN, o->len) : 0);
}

static void ssc_medium_error(struct scsi_cmd *cmd)
{
	ssc_set_sense(cmd, SCSI_SK_MEDIUM_ERROR,
		      SCSI_ASC_UNRECOVERED_READ_ERROR, 0, false, 0);
}

/* Variable mode: the one block read, its length against the request. */
static void ssc_read_variable_end(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	const struct ssc_obj *o = &m->ix.obj[m->pos];
	uint32_t want = cmd->nr_blocks;
	uint32_t n = o->len < cmd->xfer_len ? o->len : cmd->xfer_len;

	if (!ssc_record_ok(m->stage, o, m->pos)) {
		ssc_medium_error(cmd);
		return;
	}
	if (n) /* no buffer when the initiator expects no data */
		memcpy(cmd->buf, m->stage + SSC_REC_HDR_LEN, n);
	cmd->data_len = n;
	m->pos++;
	/* SSC-5 §7.4: SILI forgives a shorter block, never a longer one. */
	if (o->len > want || (o->len < want && !(cmd->cdb[1] & SSC_RW_SILI)))
		ssc_set_sense(cmd, SCSI_SK_NO_SENSE, 0, 0, SCSI_SENSE_ILI, true,
			      (int64_t)want - (int64_t)o->len);
}

/* Fixed mode: the blocks read, then why it stopped. */
static void ssc_read_fixed_end(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	uint64_t k = m->plan_n, resid, done = 0;
	uint32_t blen = (uint32_t)cmd->lba;

	for (uint64_t i = 0; i < k; i++) {
		const struct ssc_obj *o = &m->ix.obj[m->pos];
		/* The initiator may expect less than the CDB asks. */
		uint64_t room = cmd->xfer_len > done ? cmd->xfer_len - done : 0;
		uint64_t n = room < blen ? room : blen;

		if (!ssc_record_ok(m->stage + (o->off - m->plan_off), o,
				   m->pos)) {
			cmd->data_len = (uint32_t)done;
			ssc_medium_error(cmd);
			return;
		}
		if (n)
			memcpy(cmd->buf + done,
			       m->stage + (o->off - m->plan_off) +
				   SSC_REC_HDR_LEN,
			       n);
		done += n;
		m->pos++;
	}
	cmd->data_len = (uint32_t)done;
	resid = m->plan_req - k;
	switch (m->plan_stop) {
	case SSC_STOP_FILEMARK:
		m->pos++;
		ssc_set_sense(cmd, SCSI_SK_NO_SENSE, SCSI_ASC_FILEMARK_DETECTED,
			      SCSI_SENSE_FILEMARK, true, (int64_t)resid);
		break;
	case SSC_STOP_EOD:
		ssc_set_sense(cmd, SCSI_SK_BLANK_CHECK, SCSI_ASC_END_OF_DATA, 0,
			      true, (int64_t)resid);
		break;
	case SSC_STOP_ILI:
		m->pos++; /* after the block of the wrong length */
		ssc_set_sense(cmd, SCSI_SK_NO_SENSE, 0, 0, SCSI_SENSE_ILI, true,
			      (int64_t)resid);
		break;
	default:
		break;
	}
}

static void ssc_read_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;
	struct ssc_lu *m = cmd->lu->dtype_priv;

	if (req->result < 0)
		ssc_medium_error(cmd);
	else if (cmd->lba)
		ssc_read_fixed_end(cmd);
	else
		ssc_read_variable_end(cmd);
	free(m->stage);
	m->stage = NULL;
	ssc_finish(cmd);
}

/* How many whole blocks of the fixed length lie ahead, and what stops
 * the read before count. */
static uint64_t ssc_read_plan_fixed(struct ssc_lu *m, uint32_t blen,
				    uint64_t count, int *stop)
{
	uint64_t k = 0;

	*stop = SSC_STOP_NONE;
	while (k < count) {
		const struct ssc_obj *o;

		if (m->pos + k >= m->ix.nr) {
			*stop = SSC_STOP_EOD;
			break;
		}
		o = &m->ix.obj[m->pos + k];
		if (o->type == SSC_REC_FILEMARK) {
			*stop = SSC_STOP_FILEMARK;
			break;
		}
		if (o->len != blen) {
			*stop = SSC_STOP_ILI;
			break;
		}
		k++;
	}
	return k;
}

static void ssc_read_submit(struct scsi_cmd *cmd, uint64_t off, uint64_t len)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;

	m->stage = malloc(len);
	if (!m->stage) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		ssc_finish(cmd);
		return;
	}
	m->plan_off = off;
	sbc_req_prep(cmd, BS_OP_READ, 0, off, len, m->stage, ssc_read_done);
	bs_submit(cmd->lu->bs, &cmd->bs);
}

void ssc_read_start(struct scsi_cmd *cmd)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	uint64_t count = cmd->nr_blocks;
	const struct ssc_obj *o;

	if (!count) { /* SSC-5: no transfer and no motion */
		ssc_finish(cmd);
		return;
	}
	if (cmd->lba) {
		uint64_t k = ssc_read_plan_fixed(m, (uint32_t)cmd->lba, count,
						 &m->plan_stop);

		m->plan_n = k;
		m->plan_req = count;
		if (!k) {
			m->plan_off = 0;
			ssc_read_fixed_end(cmd);
			ssc_finish(cmd);
			return;
		}
		o = &m->ix.obj[m->pos + k - 1];
		ssc_read_submit(cmd, m->ix.obj[m->pos].off,
				o->off + SSC_REC_HDR_LEN + o->len -
				    m->ix.obj[m->pos].off);
		return;
	}
	if (m->pos >= m->ix.nr) {
		ssc_finish_sense(cmd, SCSI_SK_BLANK_CHECK, SCSI_ASC_END_OF_DATA,
				 0, true, (int64_t)count);
		return;
	}
	o = &m->ix.obj[m->pos];
	if (o->type == SSC_REC_FILEMARK) {
		m->pos++;
		ssc_finish_sense(cmd, SCSI_SK_NO_SENSE,
				 SCSI_ASC_FILEMARK_DETECTED,
				 SCSI_SENSE_FILEMARK, true, (int64_t)count);
		return;
	}
	ssc_read_submit(cmd, o->off, SSC_REC_HDR_LEN + (uint64_t)o->len);
}

/* ---- writes ---- */

static void ssc_write_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;
	struct ssc_lu *m = cmd->lu->dtype_priv;
	struct ssc_index *ix = &m->ix;
	uint64_t off = m->plan_off, n = m->plan_n;
	uint32_t len = (uint32_t)m->plan_len;

	free(m->stage);
	m->stage = NULL;
	if (req->result < 0) {
		/* What the medium holds from here on is unknown: the chain
		 * ends where this write began (its EOD may be lost too). */
		if (ix->nr > m->pos)
			ix->nr = m->pos;
		ix->eod_off = off;
		ssc_finish_sense(cmd, SCSI_SK_MEDIUM_ERROR,
				 SCSI_ASC_WRITE_ERROR, 0, false, 0);
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		ix->obj[m->pos + i] = (struct ssc_obj){
		    .off = off + i * (SSC_REC_HDR_LEN + (uint64_t)len),
		    .len = len,
		    .type = (uint8_t)m->plan_type};
	ix->nr = m->pos + n;
	ix->eod_off = off + n * (SSC_REC_HDR_LEN + (uint64_t)len);
	ix->max_gen = m->next_gen - 1;
	ix->clean_end = true;
	m->pos += n;
	if (m->plan_overflow)
		ssc_set_sense(cmd, SCSI_SK_VOLUME_OVERFLOW,
			      SCSI_ASC_EOP_EOM_DETECTED, SCSI_SENSE_EOM, true,
			      (int64_t)(m->plan_req - n));
	else if (ssc_past_ew(m, ix->eod_off))
		/* SSC-5 §4.2.5: the write is done; the initiator is told
		 * the end of the medium is near. */
		ssc_set_sense(cmd, SCSI_SK_NO_SENSE, SCSI_ASC_EOP_EOM_DETECTED,
			      SCSI_SENSE_EOM, true, 0);
	if (m->plan_flush)
		ssc_flush_then_finish(cmd);
	else
		ssc_finish(cmd);
}

/*
 * Writes n objects of type (data: len bytes each from data) at the
 * position, truncating the tape there, as many as fit before the end of
 * the cartridge (none of a variable block that does not fit whole).
 * req is what the initiator asked, for the residual. flush: FLUSH the
 * store after.
 */
static void ssc_write_objects(struct scsi_cmd *cmd, enum ssc_rec_type type,
			      const uint8_t *data, uint32_t len, uint64_t n,
			      bool whole, bool flush)
{
	struct ssc_lu *m = cmd->lu->dtype_priv;
	uint64_t off = ssc_index_off(&m->ix, m->pos);
	uint64_t room = m->hdr.capacity - off, fit = 0, gen = m->next_gen;
	bool wp;

	pthread_mutex_lock(&m->lock);
	wp = m->wp;
	pthread_mutex_unlock(&m->lock);
	if (wp) {
		ssc_finish_sense(cmd, SCSI_SK_DATA_PROTECT,
				 SCSI_ASC_WRITE_PROTECTED, 0, false, 0);
		return;
	}
	if (room >= SSC_REC_HDR_LEN)
		fit = (room - SSC_REC_HDR_LEN) /
		      (SSC_REC_HDR_LEN + (uint64_t)len);
	m->plan_req = whole ? len : n;
	m->plan_overflow = fit < n;
	if (fit < n)
		n = whole ? 0 : fit;
	if (m->plan_overflow && !n) {
		ssc_finish_sense(cmd, SCSI_SK_VOLUME_OVERFLOW,
				 SCSI_ASC_EOP_EOM_DETECTED, SCSI_SENSE_EOM,
				 true, (int64_t)m->plan_req);
		return;
	}
	if (m->pos + n > m->ix.nr &&
	    ssc_index_reserve(&m->ix, m->pos + n - m->ix.nr) < 0) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		ssc_finish(cmd);
		return;
	}
	m->stage = malloc(ssc_fmt_write_len(len, n));
	if (!m->stage) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		ssc_finish(cmd);
		return;
	}
	ssc_fmt_build(m->stage, type, data, len, n, m->pos, &gen);
	/* Generations are spent whether or not the write succeeds: a
	 * failed write may have left some of its records. */
	m->next_gen = gen;
	if (whole)
		m->plan_req = 0; /* a variable block that fits is whole */
	m->plan_off = off;
	m->plan_n = n;
	m->plan_len = len;
	m->plan_type = type;
	m->plan_flush = flush;
	pthread_mutex_lock(&m->lock);
	flush = !m->buffered;
	pthread_mutex_unlock(&m->lock);
	sbc_req_prep(cmd, BS_OP_WRITE, flush ? BS_F_FUA : 0, off,
		     ssc_fmt_write_len(len, n), m->stage, ssc_write_done);
	bs_submit(cmd->lu->bs, &cmd->bs);
}

void ssc_write_start(struct scsi_cmd *cmd)
{
	uint32_t blen = (uint32_t)cmd->lba, count = cmd->nr_blocks;

	if (!count) {
		ssc_finish(cmd);
		return;
	}
	if (cmd->xfer_len < cmd->cdb_xfer_len) {
		/* The initiator sent less than the CDB says (a shorter
		 * expected length): no partial block reaches the tape. */
		ssc_finish_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				 SCSI_ASC_INVALID_FIELD_IN_CDB, 0, false, 0);
		return;
	}
	if (blen)
		ssc_write_objects(cmd, SSC_REC_DATA, cmd->buf, blen, count,
				  false, false);
	else
		ssc_write_objects(cmd, SSC_REC_DATA, cmd->buf, count, 1, true,
				  false);
}

void ssc_wfm_start(struct scsi_cmd *cmd)
{
	uint32_t count = get_be24(cmd->cdb + 2);
	bool immed = cmd->cdb[1] & SSC_IMMED;

	if (!count) { /* SSC-5 §7.11: a flush of what is buffered */
		if (immed)
			ssc_finish(cmd);
		else
			ssc_flush_then_finish(cmd);
		return;
	}
	ssc_write_objects(cmd, SSC_REC_FILEMARK, NULL, 0, count, false, !immed);
}

/* ERASE: end of data at the position; the rest of the cartridge can no
 * longer be reached (LONG changes nothing more: nothing beyond EOD is
 * ever read). */
void ssc_erase_start(struct scsi_cmd *cmd)
{
	ssc_write_objects(cmd, SSC_REC_DATA, NULL, 0, 0, false,
			  !(cmd->cdb[1] & SSC_ERASE_IMMED));
}
