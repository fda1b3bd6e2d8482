/*
 * Logical block provisioning of the disk (SBC-4 §4.7): the thin LU and the
 * commands that write or deallocate many blocks at once.
 *   §5.31 UNMAP, with the limits this file reports in the Block Limits VPD
 *   page (§6.6.4: MAXIMUM UNMAP LBA COUNT, MAXIMUM UNMAP BLOCK DESCRIPTOR
 *   COUNT, OPTIMAL UNMAP GRANULARITY, UNMAP GRANULARITY ALIGNMENT, MAXIMUM
 *   WRITE SAME LENGTH, WSNZ);
 *   §5.52/§5.53 WRITE SAME (10)/(16) with UNMAP and NDOB (ANCHOR is
 *   refused: ANC_SUP=0, no anchored state is kept);
 *   §5.8 GET LBA STATUS;
 * and the provisioning fields of READ CAPACITY (16) (§5.16: LBPME, LBPRZ,
 * LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT) and of the Logical Block
 * Provisioning VPD page (§6.6.7: LBPU, LBPWS, LBPWS10, LBPRZ, provisioning
 * type 010b thin).
 *
 * A thin LU deallocates through the store's BS_OP_DISCARD (rdwr punches
 * holes, so deallocated blocks read zeros: LBPRZ=1) and asks the store's
 * lba_status hook which blocks are mapped. A fully provisioned LU keeps
 * WRITE SAME without UNMAP and reports every block mapped. Every store
 * request of these commands takes the LU's range lock like a write
 * (sbc_write_range_begin), so COMPARE AND WRITE stays atomic.
 */
#include <errno.h>
#include <string.h>

#include "scsi/buf.h"
#include "scsi/device.h"
#include "scsi/mode.h"
#include "scsi/sbc.h"
#include "scsi/sense.h"
#include "util/bytes.h"

/* Block Limits: what UNMAP and WRITE SAME accept. */
#define SBC_UNMAP_MAX_LBAS  (1u << 20)
#define SBC_UNMAP_MAX_DESCS 1024u
#define SBC_UNMAP_HDR_LEN   8
#define SBC_UNMAP_DESC_LEN  16
/* What WRITE SAME (10) can name; WRITE SAME (16) is held to it as well so
 * that one command never occupies the store for long. */
#define SBC_WS_MAX_BLOCKS 0xffffu
/* Pattern writes of WRITE SAME go to the store in pieces of this size. */
#define SBC_WS_CHUNK (256u * 1024)

/* GET LBA STATUS: descriptors one command returns at most. */
#define SBC_LBAS_HDR_LEN   8
#define SBC_LBAS_DESC_LEN  16
#define SBC_LBAS_MAX_DESCS 1024u

/* Provisioning status of an LBA status descriptor (SBC-4 table 52). */
#define SBC_LBAS_MAPPED	     0x0
#define SBC_LBAS_DEALLOCATED 0x1

/* REPORT TYPE of GET LBA STATUS (SBC-4 §5.8.1). */
enum sbc_lbas_report {
	SBC_LBAS_ALL = 0,
	SBC_LBAS_NONZERO = 1,
	SBC_LBAS_ONLY_MAPPED = 2,
	SBC_LBAS_ONLY_DEALLOCATED = 3,
	SBC_LBAS_ONLY_ANCHORED = 4,
};

bool sbc_lu_thin(const struct scsi_lu *lu)
{
	return lu->params.thin;
}

unsigned sbc_lu_lbppbe(const struct scsi_lu *lu)
{
	uint32_t pbs = lu->params.physical_block_size;
	unsigned e = 0;

	while ((lu->block_size << e) < pbs)
		e++;
	return e;
}

/* ---- what the LU reports ---- */

void sbc_provision_capacity16(const struct scsi_lu *lu, uint8_t *d)
{
	d[13] = (uint8_t)(sbc_lu_lbppbe(lu) & 0x0f);
	if (sbc_lu_thin(lu))
		d[14] = 0x80 | 0x40; /* LBPME, LBPRZ: deallocated reads zeros */
	/* LOWEST ALIGNED LOGICAL BLOCK ADDRESS 0: LBA 0 starts a physical
	 * block. */
}

void sbc_provision_block_limits(const struct scsi_lu *lu, uint8_t *p)
{
	uint32_t lbppb = 1u << sbc_lu_lbppbe(lu);

	/* p follows the 4-byte page header: p[n] is byte n + 4. WSNZ=0:
	 * NUMBER OF LOGICAL BLOCKS 0 means "to the last block". */
	if (sbc_lu_thin(lu)) {
		put_be32(p + 16, SBC_UNMAP_MAX_LBAS);
		put_be32(p + 20, SBC_UNMAP_MAX_DESCS);
		put_be32(p + 24, lbppb);       /* OPTIMAL UNMAP GRANULARITY */
		put_be32(p + 28, 0x80000000u); /* UGAVALID, ALIGNMENT 0 */
	}
	put_be64(p + 32, SBC_WS_MAX_BLOCKS);
}

size_t sbc_provision_vpd(const struct scsi_cmd *cmd, uint8_t *p)
{
	/* THRESHOLD EXPONENT 0: no thresholds. Full provisioning reports
	 * nothing else (LBPME=0 in READ CAPACITY (16)). */
	if (sbc_lu_thin(cmd->lu)) {
		/* LBPU, LBPWS, LBPWS10, LBPRZ 001b; ANC_SUP 0, DP 0. */
		p[1] = 0x80 | 0x40 | 0x20 | 0x04;
		p[2] = 0x02; /* PROVISIONING TYPE: thin */
	}
	return 4;
}

/* ---- store requests under the range lock ---- */

static void sbc_prov_submit(struct scsi_cmd *cmd, enum bs_op op, unsigned flags,
			    uint64_t lba, uint64_t nr, void *buf,
			    void (*done)(struct bs_req *req))
{
	uint32_t shift = cmd->lu->block_shift;

	sbc_req_prep(cmd, op, flags, lba << shift, nr << shift, buf, done);
	if (sbc_write_range_begin(cmd))
		return; /* submitted once granted */
	bs_submit(cmd->lu->bs, &cmd->bs);
}

/*
 * Completes a command whose last store request (a deallocation or zeros,
 * which carry no FUA) succeeded; with the write cache disabled (WCE=0)
 * the result is made stable first.
 */
static void sbc_prov_flushed(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	if (req->result < 0)
		sbc_set_io_error(cmd, req);
	scsi_cmd_complete(cmd);
}

static void sbc_prov_finish(struct scsi_cmd *cmd)
{
	if (cmd->aborted || sbc_wce(cmd->lu)) {
		scsi_cmd_complete(cmd);
		return;
	}
	sbc_prov_submit(cmd, BS_OP_FLUSH, 0, 0, 0, NULL, sbc_prov_flushed);
}

/* ---- UNMAP ---- */

static int sbc_unmap_parse(struct scsi_cmd *cmd)
{
	/* ANCHOR: ANC_SUP is 0. */
	if (cmd->cdb[1] & 0x01) {
		scsi_cmd_set_invalid_field(cmd, 1, 0);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 7);
	return 0;
}

/*
 * The block descriptors of the parameter list that arrived, after the
 * checks of SBC-4 §5.31.2 (all made before any block is deallocated).
 * Returns their number, or -1 with the sense set.
 */
static int sbc_unmap_descriptors(struct scsi_cmd *cmd)
{
	const uint8_t *d = cmd->buf;
	uint64_t cap = scsi_lu_blocks(cmd->lu), total = 0;
	uint32_t bddl, count;

	if (cmd->xfer_len < SBC_UNMAP_HDR_LEN) {
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_PARAMETER_LIST_LENGTH);
		return -1;
	}
	/* UNMAP BLOCK DESCRIPTOR DATA LENGTH, within what arrived; a
	 * descriptor cut short is ignored. */
	bddl = get_be16(d + 2);
	if (bddl > cmd->xfer_len - SBC_UNMAP_HDR_LEN)
		bddl = cmd->xfer_len - SBC_UNMAP_HDR_LEN;
	count = bddl / SBC_UNMAP_DESC_LEN;
	if (count > SBC_UNMAP_MAX_DESCS) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
					 2, 7);
		return -1;
	}
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e =
		    d + SBC_UNMAP_HDR_LEN + i * SBC_UNMAP_DESC_LEN;
		uint64_t lba = get_be64(e);
		uint32_t nr = get_be32(e + 8);

		if (lba > cap || nr > cap - lba) {
			scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
					   SCSI_ASC_LBA_OUT_OF_RANGE);
			return -1;
		}
		total += nr;
		if (total > SBC_UNMAP_MAX_LBAS) {
			scsi_cmd_set_param_error(
			    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
			    (uint16_t)(SBC_UNMAP_HDR_LEN +
				       i * SBC_UNMAP_DESC_LEN + 8),
			    7);
			return -1;
		}
	}
	return (int)count;
}

/* Descriptor i of the parameter list. */
static void sbc_unmap_desc(const struct scsi_cmd *cmd, uint32_t i,
			   uint64_t *lba, uint32_t *nr)
{
	const uint8_t *e =
	    cmd->buf + SBC_UNMAP_HDR_LEN + (size_t)i * SBC_UNMAP_DESC_LEN;

	*lba = get_be64(e);
	*nr = get_be32(e + 8);
}

/*
 * Deallocates the next non-empty descriptor from cmd->lba on (the index
 * of the next descriptor while UNMAP runs; cmd->nr_blocks is their
 * number). Returns false when none is left.
 */
static void sbc_unmap_done(struct bs_req *req);

static bool sbc_unmap_next(struct scsi_cmd *cmd)
{
	while (cmd->lba < cmd->nr_blocks) {
		uint64_t lba;
		uint32_t nr;

		sbc_unmap_desc(cmd, (uint32_t)cmd->lba++, &lba, &nr);
		if (!nr)
			continue;
		sbc_prov_submit(cmd, BS_OP_DISCARD, 0, lba, nr, NULL,
				sbc_unmap_done);
		return true;
	}
	return false;
}

static void sbc_unmap_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	sbc_write_range_end(cmd);
	if (req->result < 0) {
		sbc_set_io_error(cmd, req);
		scsi_cmd_complete(cmd);
	} else if (cmd->aborted || !sbc_unmap_next(cmd)) {
		sbc_prov_finish(cmd);
	}
}

static int sbc_unmap(struct scsi_cmd *cmd)
{
	int count;

	if (!cmd->xfer_len)
		return 0; /* no parameter list: nothing to do */
	count = sbc_unmap_descriptors(cmd);
	if (count < 0)
		return -EINVAL;
	cmd->lba = 0;
	cmd->nr_blocks = (uint32_t)count;
	return sbc_unmap_next(cmd) ? -EINPROGRESS : 0;
}

/* ---- WRITE SAME ---- */

#define SBC_WS_ANCHOR 0x10
#define SBC_WS_UNMAP  0x08
#define SBC_WS_NDOB   0x01 /* (16) only */

/*
 * The checks common to both CDBs: WRPROTECT, the obsolete PBDATA/LBDATA,
 * ANCHOR (refused: ANC_SUP=0, and never without UNMAP), UNMAP (only on a
 * thin LU, LBPWS/LBPWS10), the range with NUMBER OF LOGICAL BLOCKS 0 up to
 * the last block (WSNZ=0), MAXIMUM WRITE SAME LENGTH and the one block of
 * Data-Out the initiator must send unless NDOB.
 */
static int sbc_ws_parse(struct scsi_cmd *cmd, uint64_t lba, uint32_t nr,
			uint16_t len_byte, bool ndob)
{
	uint8_t b1 = cmd->cdb[1];
	uint64_t cap = scsi_lu_blocks(cmd->lu);
	uint64_t n = nr;
	/* A write-protected LU refuses the write whatever it is (DATA
	 * PROTECT in the core after parse): what it could not do is moot. */
	bool wp = scsi_lu_readonly(cmd->lu) || scsi_mode_swp(cmd->lu);

	if (sbc_check_protect(cmd))
		return -EINVAL;
	if (b1 & 0x06) {
		scsi_cmd_set_invalid_field(cmd, 1, b1 & 0x04 ? 2 : 1);
		return -EINVAL;
	}
	if (b1 & SBC_WS_ANCHOR) {
		scsi_cmd_set_invalid_field(cmd, 1, 4);
		return -EINVAL;
	}
	if ((b1 & SBC_WS_UNMAP) && !sbc_lu_thin(cmd->lu) && !wp) {
		scsi_cmd_set_invalid_field(cmd, 1, 3);
		return -EINVAL;
	}
	if (lba > cap) {
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_LBA_OUT_OF_RANGE);
		return -ERANGE;
	}
	if (n == 0)
		n = cap - lba;
	if (n > SBC_WS_MAX_BLOCKS) {
		scsi_cmd_set_invalid_field(cmd, len_byte, 7);
		return -EINVAL;
	}
	if (scsi_cmd_check_lba(cmd, lba, n))
		return -ERANGE;
	cmd->lba = lba;
	cmd->nr_blocks = (uint32_t)n;
	if (ndob || wp)
		return 0;
	cmd->cdb_xfer_len = cmd->lu->block_size;
	/* Exactly one logical block: less cannot be written, more is not a
	 * WRITE SAME (the EDTL of the command IU is wrong for it). */
	if (cmd->edir != SCSI_DIR_WRITE || cmd->edtl != cmd->cdb_xfer_len) {
		cmd->cdb_xfer_len = 0;
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_INVALID_FIELD_IN_IU);
		return -EINVAL;
	}
	return 0;
}

static int sbc_ws10_parse(struct scsi_cmd *cmd)
{
	return sbc_ws_parse(cmd, get_be32(cmd->cdb + 2), get_be16(cmd->cdb + 7),
			    7, false);
}

static int sbc_ws16_parse(struct scsi_cmd *cmd)
{
	return sbc_ws_parse(cmd, get_be64(cmd->cdb + 2),
			    get_be32(cmd->cdb + 10), 10,
			    cmd->cdb[1] & SBC_WS_NDOB);
}

static bool sbc_all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i])
			return false;
	}
	return true;
}

static unsigned sbc_ws_flags(const struct scsi_cmd *cmd)
{
	return sbc_wce(cmd->lu) ? 0 : BS_F_FUA;
}

/* One store request for the whole range (deallocate, or zeros). */
static void sbc_ws_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	sbc_write_range_end(cmd);
	if (req->result < 0) {
		sbc_set_io_error(cmd, req);
		scsi_cmd_complete(cmd);
		return;
	}
	sbc_prov_finish(cmd);
}

/*
 * A pattern goes to the store a chunk at a time from a buffer holding the
 * block repeated: cmd->lba and cmd->nr_blocks are what remains to write.
 */
static void sbc_ws_pattern_done(struct bs_req *req);

static void sbc_ws_pattern_next(struct scsi_cmd *cmd, void *pattern)
{
	uint32_t per = SBC_WS_CHUNK >> cmd->lu->block_shift;
	uint32_t nr = cmd->nr_blocks < per ? cmd->nr_blocks : per;

	sbc_prov_submit(cmd, BS_OP_WRITE, sbc_ws_flags(cmd), cmd->lba, nr,
			pattern, sbc_ws_pattern_done);
}

static void sbc_ws_pattern_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;
	uint32_t nr = (uint32_t)(req->len >> cmd->lu->block_shift);

	sbc_write_range_end(cmd);
	if (req->result < 0) {
		sbc_set_io_error(cmd, req);
	} else {
		cmd->lba += nr;
		cmd->nr_blocks -= nr;
		if (cmd->nr_blocks && !cmd->aborted) {
			sbc_ws_pattern_next(cmd, req->buf);
			return;
		}
	}
	scsi_buf_put(req->buf, SBC_WS_CHUNK);
	scsi_cmd_complete(cmd);
}

static int sbc_write_same(struct scsi_cmd *cmd)
{
	uint32_t bs = cmd->lu->block_size;
	bool ndob = cmd->op->cdb_len == 16 && (cmd->cdb[1] & SBC_WS_NDOB);
	uint8_t *pattern;
	uint64_t fill;

	if (!cmd->nr_blocks)
		return 0;
	if (cmd->cdb[1] & SBC_WS_UNMAP) {
		/* Deallocate (the Data-Out block is not kept: deallocated
		 * blocks read zeros, LBPRZ=1). */
		sbc_prov_submit(cmd, BS_OP_DISCARD, 0, cmd->lba, cmd->nr_blocks,
				NULL, sbc_ws_done);
		return -EINPROGRESS;
	}
	if (ndob || sbc_all_zero(cmd->buf, bs)) {
		sbc_prov_submit(cmd, BS_OP_WRITE_ZEROES, 0, cmd->lba,
				cmd->nr_blocks, NULL, sbc_ws_done);
		return -EINPROGRESS;
	}
	pattern = scsi_buf_get(SBC_WS_CHUNK);
	if (!pattern) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return -ENOMEM;
	}
	fill = (uint64_t)cmd->nr_blocks * bs;
	if (fill > SBC_WS_CHUNK)
		fill = SBC_WS_CHUNK;
	for (uint64_t off = 0; off < fill; off += bs)
		memcpy(pattern + off, cmd->buf, bs);
	sbc_ws_pattern_next(cmd, pattern);
	return -EINPROGRESS;
}

/* ---- GET LBA STATUS ---- */

static int sbc_lbas_parse(struct scsi_cmd *cmd)
{
	uint64_t lba = get_be64(cmd->cdb + 2);

	if (cmd->cdb[14] > SBC_LBAS_ONLY_ANCHORED) {
		scsi_cmd_set_invalid_field(cmd, 14, 7);
		return -EINVAL;
	}
	if (lba >= scsi_lu_blocks(cmd->lu)) {
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_LBA_OUT_OF_RANGE);
		return -ERANGE;
	}
	cmd->lba = lba;
	cmd->cdb_xfer_len = get_be32(cmd->cdb + 10);
	return 0;
}

/*
 * The extent of blocks from lba on with one provisioning status (at most
 * max blocks). A fully provisioned LU maps everything; a thin one asks
 * its store, a block counting as mapped if any of its bytes is.
 */
static int sbc_lbas_extent(const struct scsi_lu *lu, uint64_t lba, uint64_t max,
			   bool *mapped, uint64_t *nr)
{
	const struct bs_dev *bs = lu->bs;
	uint32_t shift = lu->block_shift;
	uint64_t run;
	int rc;

	*mapped = true;
	*nr = max;
	if (!sbc_lu_thin(lu) || !bs->ops->lba_status)
		return 0;
	rc = bs->ops->lba_status(lu->bs, lba << shift, max << shift, mapped,
				 &run);
	if (rc < 0)
		return rc;
	if (*mapped) {
		*nr = (run + lu->block_size - 1) >> shift;
	} else {
		*nr = run >> shift;
		if (*nr == 0) { /* a hole inside one block: it is mapped */
			*mapped = true;
			*nr = 1;
		}
	}
	if (*nr > max)
		*nr = max;
	return 0;
}

static bool sbc_lbas_wanted(enum sbc_lbas_report type, bool mapped)
{
	switch (type) {
	case SBC_LBAS_ALL:
		return true;
	case SBC_LBAS_ONLY_MAPPED:
		return mapped;
	case SBC_LBAS_NONZERO:
	case SBC_LBAS_ONLY_DEALLOCATED:
		return !mapped;
	case SBC_LBAS_ONLY_ANCHORED:
		return false;
	}
	return false;
}

static int sbc_get_lba_status(struct scsi_cmd *cmd)
{
	const struct scsi_lu *lu = cmd->lu;
	enum sbc_lbas_report type = cmd->cdb[14];
	uint64_t cap = scsi_lu_blocks(lu), lba = cmd->lba;
	uint32_t room =
	    cmd->xfer_len < SBC_LBAS_HDR_LEN
		? 0
		: (cmd->xfer_len - SBC_LBAS_HDR_LEN) / SBC_LBAS_DESC_LEN;
	uint8_t hdr[SBC_LBAS_HDR_LEN];
	uint32_t n = 0;
	/* Bounds the scan of a fragmented file whatever is asked. */
	unsigned probes = 4 * SBC_LBAS_MAX_DESCS;

	if (room > SBC_LBAS_MAX_DESCS)
		room = SBC_LBAS_MAX_DESCS;
	/* At least one descriptor is always described (the header says
	 * how long the data are, even when none of it fits). */
	if (room == 0)
		room = 1;
	while (lba < cap && n < room && probes--) {
		uint64_t nr;
		bool mapped;
		int rc = sbc_lbas_extent(lu, lba, cap - lba, &mapped, &nr);

		if (rc < 0) {
			struct bs_req req = {.op = BS_OP_READ, .result = rc};

			cmd->lba = lba;
			sbc_set_io_error(cmd, &req);
			return rc;
		}
		/* Extents longer than a descriptor holds go in pieces. */
		if (nr > UINT32_MAX)
			nr = UINT32_MAX;
		if (sbc_lbas_wanted(type, mapped)) {
			uint8_t d[SBC_LBAS_DESC_LEN];
			size_t off =
			    SBC_LBAS_HDR_LEN + (size_t)n * SBC_LBAS_DESC_LEN;

			memset(d, 0, sizeof(d));
			put_be64(d, lba);
			put_be32(d + 8, (uint32_t)nr);
			d[12] = mapped ? SBC_LBAS_MAPPED : SBC_LBAS_DEALLOCATED;
			if (off < cmd->xfer_len)
				memcpy(cmd->buf + off, d,
				       cmd->xfer_len - off < sizeof(d)
					   ? cmd->xfer_len - off
					   : sizeof(d));
			n++;
		}
		lba += nr;
	}
	memset(hdr, 0, sizeof(hdr));
	/* PARAMETER DATA LENGTH: the bytes after this field. */
	put_be32(hdr, 4 + n * SBC_LBAS_DESC_LEN);
	/* ALLOCATION LENGTH 0 is no error, and leaves no buffer. */
	if (cmd->xfer_len)
		memcpy(cmd->buf, hdr,
		       cmd->xfer_len < sizeof(hdr) ? cmd->xfer_len
						   : sizeof(hdr));
	cmd->data_len = SBC_LBAS_HDR_LEN + n * SBC_LBAS_DESC_LEN;
	if (cmd->data_len > cmd->xfer_len)
		cmd->data_len = cmd->xfer_len;
	return 0;
}

/* ---- the rows ---- */

#define SBC_PROV_WRITES (SCSI_OP_WRITES | SCSI_OP_MEDIUM | SCSI_OP_PR_WRITE)

const struct scsi_op sbc_op_write_same10 = {
    .name = "WRITE SAME(10)",
    .opcode = 0x41,
    .cdb_len = 10,
    .dir = SCSI_DIR_WRITE,
    .flags = SBC_PROV_WRITES,
    .parse = sbc_ws10_parse,
    .execute = sbc_write_same,
    /* WRPROTECT, ANCHOR, UNMAP, PBDATA, LBDATA; the GROUP NUMBER is
     * ignored. */
    .usage = {0x41, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x05},
    .timeouts = {.nominal = 5, .recommended = 60},
};

const struct scsi_op sbc_op_unmap = {
    .name = "UNMAP",
    .opcode = 0x42,
    .cdb_len = 10,
    .dir = SCSI_DIR_WRITE,
    .flags = SBC_PROV_WRITES,
    .max_data = 0,
    .parse = sbc_unmap_parse,
    .execute = sbc_unmap,
    .supported = sbc_lu_thin,
    /* ANCHOR, PARAMETER LIST LENGTH; the GROUP NUMBER is ignored. */
    .usage = {0x42, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x05},
    .timeouts = {.nominal = 5, .recommended = 60},
};

const struct scsi_op sbc_op_write_same16 = {
    .name = "WRITE SAME(16)",
    .opcode = 0x93,
    .cdb_len = 16,
    .dir = SCSI_DIR_WRITE,
    .flags = SBC_PROV_WRITES,
    .parse = sbc_ws16_parse,
    .execute = sbc_write_same,
    /* WRPROTECT, ANCHOR, UNMAP, PBDATA, LBDATA, NDOB. */
    .usage = {0x93, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	      0xff, 0xff, 0xff, 0x00, 0x05},
    .timeouts = {.nominal = 5, .recommended = 60},
};

/* SERVICE ACTION IN (16) / GET LBA STATUS */
const struct scsi_op sbc_op_get_lba_status = {
    .name = "GET LBA STATUS",
    .opcode = 0x9e,
    .service_action = 0x12,
    .cdb_len = 16,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_SA | SCSI_OP_MEDIUM | SCSI_OP_PR_READ,
    .max_data = SBC_LBAS_HDR_LEN + SBC_LBAS_MAX_DESCS * SBC_LBAS_DESC_LEN,
    .parse = sbc_lbas_parse,
    .execute = sbc_get_lba_status,
    /* STARTING LBA, ALLOCATION LENGTH, REPORT TYPE. */
    .usage = {0x9e, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	      0xff, 0xff, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};
