/*
 * The disk: direct access block device type (SBC-4). Its opcode table,
 * and the commands it implements:
 *   §5.15/§5.16 READ CAPACITY (10)/(16), §5.8-§5.11 READ (6/10/12/16)
 *   and §5.36-§5.39 WRITE (6/10/12/16) with DPO/FUA, §5.28/§5.29
 *   SYNCHRONIZE CACHE (10)/(16) (VERIFY and the other compare and atomic
 *   commands are sbc_compare.c's rows; UNMAP, WRITE SAME and GET LBA
 *   STATUS sbc_provision.c's; START STOP UNIT and PREVENT ALLOW MEDIUM
 *   REMOVAL sbc_media.c's; SANITIZE sbc_sanitize.c's);
 * its VPD pages B0h Block Limits (§6.6.4), B1h Block Device
 * Characteristics (§6.6.2), B2h Logical Block Provisioning (§6.6.7); its
 * mode pages 01h read-write error recovery (§6.5.10) and 08h caching
 * (§6.5.5), the WP/DPOFUA device-specific parameter (§6.5.1) and the
 * short and long LBA block descriptors (§6.5.2). INQUIRY, REPORT LUNS,
 * REPORT SUPPORTED OPERATION CODES, REPORT SUPPORTED TASK MANAGEMENT
 * FUNCTIONS, REQUEST SENSE and TEST UNIT READY are spc.c's rows; MODE
 * SENSE and MODE SELECT mode.c's, REPORT and SET TARGET PORT GROUPS tpg.c's.
 *
 * Writes honour the caching page: with WCE=0 every write is issued with
 * BS_F_FUA, so GOOD means stable.
 *
 * PERSISTENT RESERVE IN/OUT and RESERVE/RELEASE (6)/(10) are the rows of
 * pr_in.c, pr_out.c and pr.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bs/bs.h"
#include "scsi/buf.h"
#include "scsi/device.h"
#include "scsi/mode.h"
#include "scsi/pr.h"
#include "scsi/sbc.h"
#include "scsi/sense.h"
#include "scsi/xcopy.h"
#include "util/bytes.h"
#include "util/log.h"

/* Largest READ/WRITE the device server accepts (VPD B0h, enforced in
 * parse) and the size the buffer cache serves without allocating. */
#define SBC_MAX_XFER_BYTES (8u << 20)
#define SBC_OPT_XFER_BYTES SCSI_BUF_CACHE_MAX

#define SBC_VERSION_SBC4 0x0600
#define SBC_VERSION_SBC3 0x04c0

/* Per LU state of the disk (lu->dtype_priv). */
struct sbc_lu {
	struct scsi_range_lock range; /* writes vs atomic commands */
};

bool sbc_wce(const struct scsi_lu *lu)
{
	/* WCE of the caching page's current values (mode.c). */
	return scsi_mode_wce(lu);
}

uint32_t sbc_max_xfer_blocks(const struct scsi_lu *lu)
{
	return SBC_MAX_XFER_BYTES >> lu->block_shift;
}

struct scsi_range_lock *sbc_range_lock(const struct scsi_lu *lu)
{
	struct sbc_lu *s = lu->dtype_priv;

	return &s->range;
}

/* ---- I/O through the backing store ---- */

void sbc_set_io_error(struct scsi_cmd *cmd, const struct bs_req *req)
{
	struct scsi_sense_info si;

	switch (req->result) {
	case -ERANGE: /* the medium shrank under us */
		scsi_sense_info_init(&si, SCSI_SK_ILLEGAL_REQUEST,
				     SCSI_ASC_LBA_OUT_OF_RANGE);
		break;
	case -EROFS:
		scsi_sense_info_init(&si, SCSI_SK_DATA_PROTECT,
				     SCSI_ASC_WRITE_PROTECTED);
		break;
	case -ENOSPC:
	case -EDQUOT:
		scsi_sense_info_init(&si, SCSI_SK_DATA_PROTECT,
				     SCSI_ASC_SPACE_ALLOC_FAILED_WP);
		break;
	case -ENOMEM:
	case -EAGAIN:
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return;
	case -ECANCELED: /* aborted before it reached the store */
		return;
	case -ETIMEDOUT:
		/* The medium did not answer within its timeout (a Ceph OSD
		 * down): nothing is known to be lost; the initiator retries
		 * an ABORTED COMMAND. */
		scsi_sense_info_init(&si, SCSI_SK_ABORTED_COMMAND,
				     SCSI_ASC_TIMEOUT_ON_LU);
		break;
	case -ENOLCK:
		/* Another gateway holds the medium's write lock: this port
		 * is on its way to standby; the initiator retries, or uses
		 * the path of the owner. */
		scsi_sense_info_init(&si, SCSI_SK_NOT_READY,
				     SCSI_ASC_ALUA_TRANSITION);
		break;
	case -ESHUTDOWN:
		/* This gateway was fenced (blocklisted by the cluster): its
		 * port is unavailable, and the initiator must take another
		 * path, not see a medium error. */
		scsi_sense_info_init(&si, SCSI_SK_NOT_READY,
				     SCSI_ASC_ALUA_UNAVAILABLE);
		break;
	default:
		if (req->op == BS_OP_READ)
			scsi_sense_info_init(&si, SCSI_SK_MEDIUM_ERROR,
					     SCSI_ASC_UNRECOVERED_READ_ERROR);
		else
			scsi_sense_info_init(&si, SCSI_SK_MEDIUM_ERROR,
					     SCSI_ASC_WRITE_ERROR);
		si.info_valid = true;
		si.info = cmd->lba;
		log_warn("target %s LUN %llu: %s of %llu bytes at block %llu "
			 "failed: %s",
			 cmd->lu->target->name,
			 (unsigned long long)cmd->lu->lun,
			 req->op == BS_OP_READ	  ? "read"
			 : req->op == BS_OP_WRITE ? "write"
						  : "flush",
			 (unsigned long long)req->len,
			 (unsigned long long)cmd->lba, strerror(-req->result));
		break;
	}
	scsi_cmd_set_sense_full(cmd, &si);
}

static void sbc_io_done(struct bs_req *req)
{
	struct scsi_cmd *cmd = req->issuer;

	sbc_write_range_end(cmd);
	if (req->result < 0)
		sbc_set_io_error(cmd, req);
	else if (req->op == BS_OP_READ)
		cmd->data_len = cmd->xfer_len;
	scsi_cmd_complete(cmd);
}

void sbc_req_prep(struct scsi_cmd *cmd, enum bs_op op, unsigned flags,
		  uint64_t offset, uint64_t len, void *buf,
		  void (*done)(struct bs_req *req))
{
	struct bs_req *req = &cmd->bs;

	req->op = op;
	req->flags = flags;
	req->offset = offset;
	req->len = len;
	req->buf = buf;
	req->result = 0;
	req->reactor = cmd->nexus->reactor;
	req->complete = done;
	req->issuer = cmd;
	list_init(&req->link);
}

static int sbc_submit(struct scsi_cmd *cmd, enum bs_op op, unsigned flags,
		      uint64_t len)
{
	sbc_req_prep(cmd, op, flags, cmd->lba << cmd->lu->block_shift, len,
		     cmd->buf, sbc_io_done);
	/* A write waits while an atomic command holds its blocks. */
	if (sbc_write_range_begin(cmd))
		return -EINPROGRESS;
	bs_submit(cmd->lu->bs, &cmd->bs);
	return -EINPROGRESS;
}

/* ---- CDB fields of block commands ---- */

/* The LBA range of a command and, for transfers, its byte count. */
int sbc_set_range(struct scsi_cmd *cmd, uint64_t lba, uint32_t nr,
		  uint16_t len_byte, bool transfers)
{
	if (transfers && nr > sbc_max_xfer_blocks(cmd->lu)) {
		scsi_cmd_set_invalid_field(cmd, len_byte, 7);
		return -EINVAL;
	}
	if (scsi_cmd_check_lba(cmd, lba, nr))
		return -ERANGE;
	cmd->lba = lba;
	cmd->nr_blocks = nr;
	if (transfers)
		cmd->cdb_xfer_len = nr << cmd->lu->block_shift;
	return 0;
}

/* RDPROTECT/WRPROTECT/VRPROTECT: no protection information here. */
int sbc_check_protect(struct scsi_cmd *cmd)
{
	if (cmd->cdb[1] & 0xe0) {
		scsi_cmd_set_invalid_field(cmd, 1, 7);
		return -EINVAL;
	}
	return 0;
}

static int sbc_rw6_parse(struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;
	uint32_t nr = cdb[4] ? cdb[4] : 256; /* 0 means 256 blocks */

	return sbc_set_range(cmd, get_be24(cdb + 1) & 0x1fffff, nr, 4, true);
}

static int sbc_rw10_parse(struct scsi_cmd *cmd)
{
	if (sbc_check_protect(cmd))
		return -EINVAL;
	return sbc_set_range(cmd, get_be32(cmd->cdb + 2),
			     get_be16(cmd->cdb + 7), 7, true);
}

static int sbc_rw12_parse(struct scsi_cmd *cmd)
{
	if (sbc_check_protect(cmd))
		return -EINVAL;
	return sbc_set_range(cmd, get_be32(cmd->cdb + 2),
			     get_be32(cmd->cdb + 6), 6, true);
}

static int sbc_rw16_parse(struct scsi_cmd *cmd)
{
	if (sbc_check_protect(cmd))
		return -EINVAL;
	return sbc_set_range(cmd, get_be64(cmd->cdb + 2),
			     get_be32(cmd->cdb + 10), 10, true);
}

/* FUA of READ/WRITE (10/12/16); the 6-byte CDBs have none. */
static bool sbc_fua(const struct scsi_cmd *cmd)
{
	return cmd->op->cdb_len > 6 && (cmd->cdb[1] & 0x08);
}

/* ---- READ and WRITE ---- */

static int sbc_read(struct scsi_cmd *cmd)
{
	uint32_t mask = cmd->lu->block_size - 1;

	/* Whole blocks covering what goes on the wire (EDTL may cut a
	 * block); buf is large enough (buf.h rounds to 4 KiB). The medium
	 * itself is read either way, so FUA needs nothing more. */
	if (!cmd->xfer_len)
		return 0;
	return sbc_submit(cmd, BS_OP_READ, 0, (cmd->xfer_len + mask) & ~mask);
}

static int sbc_write(struct scsi_cmd *cmd)
{
	unsigned flags = 0;

	/* The core made xfer_len whole blocks: all the data that came. */
	if (!cmd->xfer_len)
		return 0;
	if (sbc_fua(cmd) || !sbc_wce(cmd->lu))
		flags |= BS_F_FUA;
	return sbc_submit(cmd, BS_OP_WRITE, flags, cmd->xfer_len);
}

/* ---- SYNCHRONIZE CACHE ---- */

/* NUMBER OF LOGICAL BLOCKS 0 means "to the last block". */
static int sbc_sync_range(struct scsi_cmd *cmd, uint64_t lba, uint32_t nr,
			  uint16_t len_byte)
{
	if (nr == 0)
		return scsi_cmd_check_lba(cmd, lba, 0) ? -ERANGE : 0;
	return sbc_set_range(cmd, lba, nr, len_byte, false);
}

static int sbc_sync10_parse(struct scsi_cmd *cmd)
{
	cmd->lba = get_be32(cmd->cdb + 2);
	return sbc_sync_range(cmd, cmd->lba, get_be16(cmd->cdb + 7), 7);
}

static int sbc_sync16_parse(struct scsi_cmd *cmd)
{
	cmd->lba = get_be64(cmd->cdb + 2);
	return sbc_sync_range(cmd, cmd->lba, get_be32(cmd->cdb + 10), 10);
}

static int sbc_sync_cache(struct scsi_cmd *cmd)
{
	uint64_t nr = cmd->nr_blocks ? cmd->nr_blocks
				     : scsi_lu_blocks(cmd->lu) - cmd->lba;

	/* IMMED may answer early; waiting for the flush is always allowed. */
	return sbc_submit(cmd, BS_OP_FLUSH, 0, nr << cmd->lu->block_shift);
}

/* VERIFY, WRITE AND VERIFY and the other compare commands: sbc_compare.c. */

/* ---- READ CAPACITY ---- */

/* PMI=0 with a LOGICAL BLOCK ADDRESS is invalid (SBC-3 §5.15/§5.16). */
static int sbc_capacity_check(struct scsi_cmd *cmd, bool pmi, uint64_t lba)
{
	if (!pmi && lba) {
		scsi_cmd_set_invalid_field(cmd, 2, 7);
		return -EINVAL;
	}
	return 0;
}

static int sbc_capacity10_parse(struct scsi_cmd *cmd)
{
	if (sbc_capacity_check(cmd, cmd->cdb[8] & 0x01, get_be32(cmd->cdb + 2)))
		return -EINVAL;
	cmd->cdb_xfer_len = 8;
	return 0;
}

static int sbc_capacity10(struct scsi_cmd *cmd)
{
	uint64_t last = scsi_lu_blocks(cmd->lu) - 1;
	uint8_t d[8];

	/* FFFFFFFFh: too large, ask READ CAPACITY (16). */
	put_be32(d, last >= UINT32_MAX ? UINT32_MAX : (uint32_t)last);
	put_be32(d + 4, cmd->lu->block_size);
	scsi_cmd_put_data(cmd, d, sizeof(d));
	return 0;
}

static int sbc_capacity16_parse(struct scsi_cmd *cmd)
{
	if (sbc_capacity_check(cmd, cmd->cdb[14] & 0x01,
			       get_be64(cmd->cdb + 2)))
		return -EINVAL;
	cmd->cdb_xfer_len = get_be32(cmd->cdb + 10);
	return 0;
}

static int sbc_capacity16(struct scsi_cmd *cmd)
{
	uint8_t d[32];

	memset(d, 0, sizeof(d));
	put_be64(d, scsi_lu_blocks(cmd->lu) - 1);
	put_be32(d + 8, cmd->lu->block_size);
	/* No protection information; LBPPBE, LBPME and LBPRZ as the LU's
	 * options say (sbc_provision.c; VPD B2h agrees). */
	sbc_provision_capacity16(cmd->lu, d);
	scsi_cmd_put_data(cmd, d, sizeof(d));
	return 0;
}

/* START STOP UNIT and PREVENT ALLOW MEDIUM REMOVAL: sbc_media.c. */

/* ---- VPD pages ---- */

/* B0h Block Limits: what parse enforces. */
static size_t sbc_vpd_block_limits(const struct scsi_cmd *cmd, uint8_t *p)
{
	const struct scsi_lu *lu = cmd->lu;
	uint32_t gran = SCSI_BUF_ALIGN >> lu->block_shift;

	put_be16(p + 2, (uint16_t)(gran ? gran : 1));
	put_be32(p + 4, sbc_max_xfer_blocks(lu));
	put_be32(p + 8, SBC_OPT_XFER_BYTES >> lu->block_shift);
	sbc_cmp_block_limits(lu, p);	   /* compare and atomic write limits */
	sbc_provision_block_limits(lu, p); /* UNMAP and WRITE SAME limits */
	return 0x3c;
}

/* B1h Block Device Characteristics. */
static size_t sbc_vpd_characteristics(const struct scsi_cmd *cmd, uint8_t *p)
{
	put_be16(p, 0x0001); /* MEDIUM ROTATION RATE: non-rotating */
	p[3] = sbc_sanitize_vpd_b1(cmd->lu); /* WABEREQ, WACEREQ */
	return 0x3c;
}

/* B2h Logical Block Provisioning: sbc_provision.c, as READ CAPACITY (16)
 * says. */
static size_t sbc_vpd_provisioning(const struct scsi_cmd *cmd, uint8_t *p)
{
	return sbc_provision_vpd(cmd, p);
}

static const struct scsi_vpd_page sbc_vpd_pages[] = {
    {.code = 0x8f, .build = xcopy_vpd_third_party_copy},
    {.code = 0xb0, .build = sbc_vpd_block_limits},
    {.code = 0xb1, .build = sbc_vpd_characteristics},
    {.code = 0xb2, .build = sbc_vpd_provisioning},
};

/* ---- mode parameters ---- */

static uint8_t sbc_mode_device_param(const struct scsi_lu *lu)
{
	uint8_t v = 0x10; /* DPOFUA: DPO and FUA are honoured */

	/* WP: read-only, or software write protected (control page SWP). */
	if (scsi_lu_readonly(lu) || scsi_mode_swp(lu))
		v |= 0x80;
	return v;
}

static size_t sbc_mode_block_descriptor(const struct scsi_lu *lu, bool long_lba,
					uint8_t *d)
{
	uint64_t blocks = scsi_lu_blocks(lu);

	if (long_lba) {
		put_be64(d, blocks);
		put_be32(d + 12, lu->block_size);
		return 16;
	}
	put_be32(d, blocks > UINT32_MAX ? UINT32_MAX : (uint32_t)blocks);
	put_be24(d + 5, lu->block_size);
	return 8;
}

/* 01h: nothing to tune; the store reports errors as they happen. */
static void sbc_mode_error_recovery(const struct scsi_lu *lu,
				    enum scsi_mode_pc pc, uint8_t *p)
{
	p[0] = 0x01;
	p[1] = 0x0a;
}

/* 08h Caching: WCE, on by default and changeable (MODE SELECT, mode.c);
 * with WCE=0 every write is issued with FUA. */
static void sbc_mode_caching(const struct scsi_lu *lu, enum scsi_mode_pc pc,
			     uint8_t *p)
{
	p[0] = 0x08;
	p[1] = 0x12;
	p[2] = 0x04; /* WCE: the default, and the one changeable bit */
}

static const struct scsi_mode_page sbc_mode_pages[] = {
    {.code = 0x01, .len = 12, .build = sbc_mode_error_recovery},
    {.code = 0x08, .len = 20, .build = sbc_mode_caching},
};

/* ---- LU state ---- */

/* A disk's parameters: 512- or 4096-byte blocks, a physical block of a
 * power-of-two number of them (LBPPBE, 4 bits), thin provisioning only
 * on a store that reports allocation. */
static int sbc_check_params(struct scsi_lu_params *p, const struct bs_ops *ops,
			    char *err, size_t errlen)
{
	uint32_t bsize;

	if (!p->block_size)
		p->block_size = 512;
	bsize = p->block_size;
	if (bsize != 512 && bsize != 4096) {
		snprintf(err, errlen,
			 "block size %u is not supported for a disk; use 512 "
			 "or 4096",
			 bsize);
		return -EINVAL;
	}
	if (p->physical_block_size &&
	    (p->physical_block_size < bsize ||
	     (p->physical_block_size & (p->physical_block_size - 1)) ||
	     p->physical_block_size / bsize > (1u << 15))) {
		snprintf(err, errlen,
			 "physical block size %u is not a power-of-two "
			 "multiple of the %u-byte block size (at most %u "
			 "blocks); use for example %u",
			 p->physical_block_size, bsize, 1u << 15,
			 bsize < 4096 ? 4096 : bsize);
		return -EINVAL;
	}
	if (p->thin && ops && !ops->lba_status) {
		snprintf(err, errlen,
			 "bstype '%s' cannot report which blocks are "
			 "allocated, which thin provisioning needs; drop the "
			 "thin option or use rdwr",
			 ops->name);
		return -EINVAL;
	}
	return 0;
}

static int sbc_lu_init(struct scsi_lu *lu, char *err, size_t errlen)
{
	struct sbc_lu *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	scsi_range_lock_init(&s->range);
	lu->dtype_priv = s;
	return 0;
}

static void sbc_lu_exit(struct scsi_lu *lu)
{
	struct sbc_lu *s = lu->dtype_priv;

	if (s)
		scsi_range_lock_destroy(&s->range);
	sbc_sanitize_lu_exit(lu);
	free(lu->dtype_priv);
	lu->dtype_priv = NULL;
}

/* ---- the opcode table ---- */

/*
 * A row (device.h): the last arguments are its CDB usage data. Byte 1 of
 * READ/WRITE (10/12/16) is F8h: RDPROTECT/WRPROTECT (only 000b is
 * accepted), DPO (a hint this device server always satisfies: it keeps no
 * cache of its own) and FUA (honoured); RARC and the GROUP NUMBER are
 * ignored.
 */

#define SBC_DATA_READ (SCSI_OP_BLOCKS | SCSI_OP_MEDIUM | SCSI_OP_PR_READ)
#define SBC_DATA_WRITE                                                         \
	(SCSI_OP_BLOCKS | SCSI_OP_WRITES | SCSI_OP_MEDIUM | SCSI_OP_PR_WRITE)
#define SBC_MEMORY SCSI_TIMEOUTS_MEMORY
#define SBC_IO	   SCSI_TIMEOUTS_IO
#define SBC_FLUSH  SCSI_TIMEOUTS_FLUSH

static SCSI_OP_ROW(sbc_op_read6, "READ(6)", 0x08, 6, SCSI_DIR_READ,
		   SBC_DATA_READ, sbc_rw6_parse, sbc_read, SBC_IO, 0x08, 0x1f,
		   0xff, 0xff, 0xff, 0x05);
static SCSI_OP_ROW(sbc_op_write6, "WRITE(6)", 0x0a, 6, SCSI_DIR_WRITE,
		   SBC_DATA_WRITE, sbc_rw6_parse, sbc_write, SBC_IO, 0x0a, 0x1f,
		   0xff, 0xff, 0xff, 0x05);
static SCSI_OP_ROW(sbc_op_read10, "READ(10)", 0x28, 10, SCSI_DIR_READ,
		   SBC_DATA_READ, sbc_rw10_parse, sbc_read, SBC_IO, 0x28, 0xf8,
		   0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x05);
static SCSI_OP_ROW(sbc_op_write10, "WRITE(10)", 0x2a, 10, SCSI_DIR_WRITE,
		   SBC_DATA_WRITE, sbc_rw10_parse, sbc_write, SBC_IO, 0x2a,
		   0xf8, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x05);
static SCSI_OP_ROW(sbc_op_sync10, "SYNCHRONIZE CACHE(10)", 0x35, 10,
		   SCSI_DIR_NONE, SCSI_OP_MEDIUM | SCSI_OP_PR_WRITE,
		   sbc_sync10_parse, sbc_sync_cache, SBC_FLUSH, 0x35, 0x02,
		   0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x05);
static SCSI_OP_ROW(sbc_op_read16, "READ(16)", 0x88, 16, SCSI_DIR_READ,
		   SBC_DATA_READ, sbc_rw16_parse, sbc_read, SBC_IO, 0x88, 0xf8,
		   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		   0xff, 0xff, 0x00, 0x05);
static SCSI_OP_ROW(sbc_op_write16, "WRITE(16)", 0x8a, 16, SCSI_DIR_WRITE,
		   SBC_DATA_WRITE, sbc_rw16_parse, sbc_write, SBC_IO, 0x8a,
		   0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		   0xff, 0xff, 0xff, 0x00, 0x05);
static SCSI_OP_ROW(sbc_op_sync16, "SYNCHRONIZE CACHE(16)", 0x91, 16,
		   SCSI_DIR_NONE, SCSI_OP_MEDIUM | SCSI_OP_PR_WRITE,
		   sbc_sync16_parse, sbc_sync_cache, SBC_FLUSH, 0x91, 0x02,
		   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		   0xff, 0xff, 0x00, 0x05);
static SCSI_OP_ROW(sbc_op_read12, "READ(12)", 0xa8, 12, SCSI_DIR_READ,
		   SBC_DATA_READ, sbc_rw12_parse, sbc_read, SBC_IO, 0xa8, 0xf8,
		   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x05);
static SCSI_OP_ROW(sbc_op_write12, "WRITE(12)", 0xaa, 12, SCSI_DIR_WRITE,
		   SBC_DATA_WRITE, sbc_rw12_parse, sbc_write, SBC_IO, 0xaa,
		   0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
		   0x05);

static const struct scsi_op sbc_op_capacity10 = {
    .name = "READ CAPACITY(10)",
    .opcode = 0x25,
    .cdb_len = 10,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_MEDIUM | SCSI_OP_PR_ALLOW,
    .max_data = 8,
    .parse = sbc_capacity10_parse,
    .execute = sbc_capacity10,
    .usage = {0x25, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* SERVICE ACTION IN (16) / READ CAPACITY (16) */
static const struct scsi_op sbc_op_capacity16 = {
    .name = "READ CAPACITY(16)",
    .opcode = 0x9e,
    .service_action = 0x10,
    .cdb_len = 16,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_SA | SCSI_OP_MEDIUM | SCSI_OP_PR_ALLOW,
    .max_data = 32,
    .parse = sbc_capacity16_parse,
    .execute = sbc_capacity16,
    /* Byte 1 holds the service action (SPC-5 §6.35.3). */
    .usage = {0x9e, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	      0xff, 0xff, 0xff, 0x01, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* clang-format off */
static const struct scsi_op *const sbc_ops[] = {
	&spc_op_test_unit_ready,
	&spc_op_request_sense,
	&sbc_op_read6,
	&sbc_op_write6,
	&spc_op_inquiry,
	&spc_op_mode_select6,
	&spc_op_reserve6,
	&spc_op_release6,
	&spc_op_mode_sense6,
	&sbc_op_start_stop,
	&sbc_op_prevent_allow,
	&sbc_op_write_same10,
	&sbc_op_unmap,
	&sbc_op_sanitize_overwrite,
	&sbc_op_sanitize_block_erase,
	&sbc_op_sanitize_crypto_erase,
	&sbc_op_sanitize_exit_failure,
	&sbc_op_write_same16,
	&sbc_op_get_lba_status,
	&sbc_op_capacity10,
	&sbc_op_read10,
	&sbc_op_write10,
	&sbc_op_verify10,
	&sbc_op_sync10,
	&spc_op_mode_select10,
	&spc_op_reserve10,
	&spc_op_release10,
	&spc_op_mode_sense10,
	SPC_OPS_PERSISTENT_RESERVE,
	&sbc_op_read16,
	&sbc_op_write16,
	&sbc_op_verify16,
	&sbc_op_sync16,
	&sbc_op_capacity16,
	&spc_op_report_luns,
	&spc_op_report_opcodes,
	&spc_op_report_tmfs,
	&spc_op_report_tpgs,
	&spc_op_set_tpgs,
	&sbc_op_read12,
	&sbc_op_write12,
	&sbc_op_verify12,
	&sbc_op_write_verify10,
	&sbc_op_write_verify12,
	&sbc_op_write_verify16,
	&sbc_op_compare_and_write,
	&sbc_op_orwrite16,
	&sbc_op_prefetch10,
	&sbc_op_prefetch16,
	&sbc_op_write_atomic16,
	&sbc_op_read_defect10,
	&sbc_op_read_defect12,
	&xcopy_op_extended_copy,
	&xcopy_op_rcr_copy_status,
	&xcopy_op_rcr_receive_data,
	&xcopy_op_rcr_op_params,
	&xcopy_op_rcr_failed_segment,
};
/* clang-format on */

#define SBC_COUNT(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(SBC_COUNT(sbc_ops) <= SCSI_OPS_MAX,
	       "the disk's opcode table outgrew SCSI_OPS_MAX");

/* Not static: tests name it so that the linker keeps this object. */
struct scsi_device_type sbc_disk_type = {
    .name = "disk",
    .pdt = SCSI_PDT_DISK,
    .product = "VIRTUAL DISK",
    .versions = {SBC_VERSION_SBC4, SBC_VERSION_SBC3},
    .ops = sbc_ops,
    .nr_ops = SBC_COUNT(sbc_ops),
    .vpd_pages = sbc_vpd_pages,
    .nr_vpd_pages = SBC_COUNT(sbc_vpd_pages),
    .mode_pages = sbc_mode_pages,
    .nr_mode_pages = SBC_COUNT(sbc_mode_pages),
    .mode_device_param = sbc_mode_device_param,
    .mode_block_descriptor = sbc_mode_block_descriptor,
    .check_params = sbc_check_params,
    .resizable = true,
    .lu_init = sbc_lu_init,
    .lu_exit = sbc_lu_exit,
    .lu_ready = sbc_lu_ready,
};

SCSI_DEVICE_TYPE_REGISTER(sbc_disk_type)
