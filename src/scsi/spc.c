/*
 * Commands every device type shares (SPC-5), as rows the device types'
 * opcode tables reference:
 *   §6.47 TEST UNIT READY, §6.39 REQUEST SENSE, §6.7 INQUIRY with the
 *   standard data (§6.7.2) and VPD pages 00h (§7.7.17), 80h (§7.7.18)
 *   and 83h (§7.7.6) with TPGS and the target port group (tpg.c),
 *   §6.33 REPORT LUNS, §6.35 REPORT SUPPORTED OPERATION
 *   CODES (generated from the device type's opcode table, the one source
 *   of truth of device.h) and §6.36 REPORT SUPPORTED TASK MANAGEMENT
 *   FUNCTIONS (what the nexus's transport carries).
 * Also what a LUN without a logical unit answers.
 */
#include <errno.h>
#include <string.h>

#include "scsi/device.h"
#include "scsi/sense.h"
#include "scsi/tpg.h"
#include "scsi/ua.h"
#include "util/bytes.h"
#include "version.h"

#define SPC_INQUIRY_STD_LEN 96
#define SPC_REPORT_LUNS_MIN 16 /* SPC-5 §6.33: smallest allocation length */
#define SPC_RSTMF_MIN	    4  /* SPC-5 §6.36: smallest allocation length */

/* Version descriptors (SPC-5 §6.7.2, table 152) of what every LU speaks. */
#define SPC_VERSION_SAM5 0x00a0
#define SPC_VERSION_SPC5 0x05c0
#define SPC_VERSION_SPC4 0x0460

/* Space-padded ASCII field (SPC-5 §4.3.1). */
static void spc_put_ascii(uint8_t *out, const char *s, size_t width)
{
	size_t n = strlen(s);

	memset(out, ' ', width);
	memcpy(out, s, n < width ? n : width);
}

static const struct scsi_device_type *spc_dtype(const struct scsi_cmd *cmd)
{
	return cmd->lu ? cmd->lu->dtype : &spc_no_lu_type;
}

/* PERIPHERAL QUALIFIER and DEVICE TYPE of INQUIRY data. */
static uint8_t spc_peripheral(const struct scsi_cmd *cmd)
{
	if (!cmd->lu)
		return SCSI_PQ_NOT_CAPABLE | SCSI_PDT_UNKNOWN;
	return cmd->lu->dtype->pdt;
}

/* ---- TEST UNIT READY ---- */

static int spc_test_unit_ready(struct scsi_cmd *cmd)
{
	/* A LU exists only with its medium open: it is ready. */
	return 0;
}

/* ---- REQUEST SENSE ---- */

static int spc_request_sense_parse(struct scsi_cmd *cmd)
{
	cmd->cdb_xfer_len = cmd->cdb[4];
	return 0;
}

static int spc_request_sense(struct scsi_cmd *cmd)
{
	struct scsi_sense_info si;
	uint8_t sense[SCSI_SENSE_MAX];
	uint8_t asc, ascq;
	size_t len;

	if (!cmd->lu)
		scsi_sense_info_init(&si, SCSI_SK_ILLEGAL_REQUEST,
				     SCSI_ASC_LU_NOT_SUPPORTED);
	else if (scsi_ua_take(cmd->itl, &asc, &ascq))
		scsi_sense_info_init(&si, SCSI_SK_UNIT_ATTENTION, asc, ascq);
	/* Not ready (no medium, sanitize with its progress): SPC-5 §6.39;
	 * lu_ready filled si then. */
	else if (!cmd->lu->dtype->lu_ready ||
		 cmd->lu->dtype->lu_ready(cmd->lu, &si))
		scsi_sense_info_init(&si, SCSI_SK_NO_SENSE,
				     SCSI_ASC_NO_ADDITIONAL_SENSE);
	/* DESC asks for descriptor format; the sense travels as data. */
	len = scsi_sense_build(sense, sizeof(sense), cmd->cdb[1] & 0x01, &si);
	scsi_cmd_put_data(cmd, sense, len);
	return 0;
}

/* ---- INQUIRY ---- */

static size_t spc_inquiry_standard(const struct scsi_cmd *cmd, uint8_t *d)
{
	const struct scsi_device_type *dt = spc_dtype(cmd);
	const uint16_t common[] = {SPC_VERSION_SAM5, SPC_VERSION_SPC5,
				   SPC_VERSION_SPC4};
	char rev[5] = "";
	unsigned nv = 0;

	d[0] = spc_peripheral(cmd);
	if (cmd->lu && cmd->lu->params.removable)
		d[1] = 0x80; /* RMB */
	/* VERSION 06h (SPC-4): initiators' conformance tools reject 07h;
	 * the version descriptors below name SPC-5 as well. */
	d[2] = 0x06;
	d[3] = 0x10 | 0x02; /* HISUP, RESPONSE DATA FORMAT 2 */
	d[4] = SPC_INQUIRY_STD_LEN - 5;
	if (cmd->lu)
		d[5] = scsi_tpg_tpgs(cmd->lu); /* TPGS (ALUA) */
	/* 3PC: a copy manager answers here (EXTENDED COPY in the table). */
	if (cmd->lu && scsi_opcode_first(dt, 0x83))
		d[5] |= 0x08;
	d[7] = 0x02; /* CMDQUE */
	spc_put_ascii(d + 8, SCSI_VENDOR_ID, 8);
	spc_put_ascii(d + 16, dt->product, 16);
	/* "0.1.0" -> "0.1 ": four characters, no dangling separator. */
	memcpy(rev, LUNAR_VERSION, strnlen(LUNAR_VERSION, 4));
	if (strlen(rev) == 4 && rev[3] == '.')
		rev[3] = '\0';
	spc_put_ascii(d + 32, rev, 4);
	if (cmd->lu) {
		for (unsigned i = 0; i < sizeof(common) / sizeof(common[0]);
		     i++)
			put_be16(d + 58 + 2 * nv++, common[i]);
		for (unsigned i = 0; i < 4 && dt->versions[i]; i++)
			put_be16(d + 58 + 2 * nv++, dt->versions[i]);
	}
	return SPC_INQUIRY_STD_LEN;
}

/* 00h: the pages of this LU in ascending order. */
static size_t spc_vpd_supported(const struct scsi_cmd *cmd, uint8_t *out)
{
	const struct scsi_device_type *dt = spc_dtype(cmd);
	size_t n = 0;

	out[n++] = 0x00;
	if (!cmd->lu)
		return n;
	out[n++] = 0x80;
	out[n++] = 0x83;
	for (unsigned i = 0; i < dt->nr_vpd_pages; i++)
		out[n++] = dt->vpd_pages[i].code;
	return n;
}

/* 80h: UNIT SERIAL NUMBER. */
static size_t spc_vpd_serial(const struct scsi_cmd *cmd, uint8_t *out)
{
	size_t n = strlen(cmd->lu->serial);

	memcpy(out, cmd->lu->serial, n);
	return n;
}

/* A designation descriptor header (SPC-5 §7.7.6.1). */
static uint8_t *spc_designator(uint8_t *p, uint8_t code_set, uint8_t assoc_type,
			       size_t len)
{
	p[0] = code_set;
	p[1] = assoc_type;
	p[3] = (uint8_t)len;
	return p + 4;
}

/* SCSI name string designator (SPC-5 §7.7.6.11): NUL-terminated UTF-8
 * padded to a multiple of four bytes, at most 252 (DESIGNATOR LENGTH is
 * one byte). name is a string in an array of size bytes. */
static size_t spc_name_designator(uint8_t *p, uint8_t assoc_type,
				  const char *name, size_t size)
{
	size_t n = strnlen(name, size - 1 < 251 ? size - 1 : 251);
	size_t len = (n + 1 + 3) & ~(size_t)3;

	memcpy(spc_designator(p, 0x03, assoc_type, len), name, n);
	return 4 + len;
}

/* 83h: DEVICE IDENTIFICATION. */
static size_t spc_vpd_device_id(const struct scsi_cmd *cmd, uint8_t *out)
{
	const struct scsi_lu *lu = cmd->lu;
	const struct scsi_nexus *n = cmd->nexus;
	size_t slen = strlen(lu->serial);
	uint8_t *p = out, *v;

	/* The LU: NAA IEEE Registered Extended (binary, type 3). */
	memcpy(spc_designator(p, 0x01, 0x03, sizeof(lu->naa)), lu->naa,
	       sizeof(lu->naa));
	p += 4 + sizeof(lu->naa);
	/* The LU: T10 vendor ID based (ASCII, type 1). */
	v = spc_designator(p, 0x02, 0x01, 8 + slen);
	spc_put_ascii(v, SCSI_VENDOR_ID, 8);
	memcpy(v + 8, lu->serial, slen);
	p += 4 + 8 + slen;
	/* The target port: relative target port (association 01b, type 4). */
	v = spc_designator(p, 0x01, 0x14, 4);
	put_be16(v + 2, n->rel_port_id);
	p += 8;
	/* The target port's target port group (association 01b, type 5). */
	v = spc_designator(p, 0x01, 0x15, 4);
	put_be16(v + 2, scsi_tpg_id(n, lu));
	p += 8;
	/* The target port and the target device by name (type 8). */
	p += spc_name_designator(p, 0x18, n->target_port,
				 sizeof(n->target_port));
	p += spc_name_designator(p, 0x28, n->target->name,
				 sizeof(n->target->name));
	return (size_t)(p - out);
}

typedef size_t (*spc_vpd_fn)(const struct scsi_cmd *cmd, uint8_t *out);

static spc_vpd_fn spc_vpd_find(const struct scsi_cmd *cmd, uint8_t page)
{
	const struct scsi_device_type *dt = spc_dtype(cmd);

	if (page == 0x00)
		return spc_vpd_supported;
	if (!cmd->lu)
		return NULL;
	if (page == 0x80)
		return spc_vpd_serial;
	if (page == 0x83)
		return spc_vpd_device_id;
	for (unsigned i = 0; i < dt->nr_vpd_pages; i++) {
		if (dt->vpd_pages[i].code == page)
			return dt->vpd_pages[i].build;
	}
	return NULL;
}

static int spc_inquiry_parse(struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;

	if (cdb[1] & 0x02) { /* CMDDT: obsolete */
		scsi_cmd_set_invalid_field(cmd, 1, 1);
		return -EINVAL;
	}
	if (cdb[1] & 0x01) {
		if (!spc_vpd_find(cmd, cdb[2])) {
			scsi_cmd_set_invalid_field(cmd, 2, 7);
			return -EINVAL;
		}
	} else if (cdb[2]) { /* a page code without EVPD */
		scsi_cmd_set_invalid_field(cmd, 2, 7);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be16(cdb + 3);
	return 0;
}

static int spc_inquiry(struct scsi_cmd *cmd)
{
	uint8_t d[SCSI_VPD_MAX];
	size_t len;

	memset(d, 0, sizeof(d));
	if (cmd->cdb[1] & 0x01) {
		uint8_t page = cmd->cdb[2];

		d[0] = spc_peripheral(cmd);
		d[1] = page;
		len = spc_vpd_find(cmd, page)(cmd, d + 4);
		put_be16(d + 2, (uint16_t)len);
		len += 4;
	} else {
		len = spc_inquiry_standard(cmd, d);
	}
	scsi_cmd_put_data(cmd, d, len);
	return 0;
}

/* Mode pages, MODE SENSE and MODE SELECT: mode.c. */

/* ---- REPORT LUNS ---- */

static int spc_report_luns_parse(struct scsi_cmd *cmd)
{
	uint8_t select = cmd->cdb[2];
	uint32_t alloc = get_be32(cmd->cdb + 6);

	/* 00h all, 01h well known (none here), 02h both; 10h/11h the
	 * administrative LUs (none). 12h is only for an administrative
	 * LU, which this never is. */
	if (select != 0x00 && select != 0x01 && select != 0x02 &&
	    select != 0x10 && select != 0x11) {
		scsi_cmd_set_invalid_field(cmd, 2, 7);
		return -EINVAL;
	}
	if (alloc < SPC_REPORT_LUNS_MIN) {
		scsi_cmd_set_invalid_field(cmd, 6, 7);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = alloc;
	return 0;
}

static int spc_report_luns(struct scsi_cmd *cmd)
{
	const struct scsi_lun_map *m = cmd->nexus->lun_map;
	uint8_t select = cmd->cdb[2];
	unsigned count = 0;
	uint8_t ent[8];
	size_t off;

	if ((select == 0x00 || select == 0x02) && m)
		count = m->count;
	memset(ent, 0, sizeof(ent));
	put_be32(ent, count * 8u); /* LUN LIST LENGTH */
	scsi_cmd_put_data(cmd, ent, sizeof(ent));
	/* The list goes straight into buf, cut at the transfer length. */
	off = cmd->data_len;
	for (unsigned i = 0; i < count && off < cmd->xfer_len; i++) {
		size_t n = cmd->xfer_len - off < 8 ? cmd->xfer_len - off : 8;

		scsi_lun_encode(m->ent[i].lun, ent);
		memcpy(cmd->buf + off, ent, n);
		off += n;
	}
	cmd->data_len = (uint32_t)off;
	/* The initiator now knows the inventory (SPC-5 §6.33). */
	if (cmd->itl)
		scsi_ua_clear(cmd->itl, SCSI_ASC_REPORTED_LUNS_CHANGED);
	return 0;
}

/* ---- REPORT SUPPORTED OPERATION CODES ---- */

/* REPORTING OPTIONS (SPC-5 §6.35.1): all_commands format, or one
 * command: an opcode without service actions, an opcode and service
 * action, an opcode with its service action if it has them. */
enum spc_rsoc_options {
	SPC_RSOC_ALL = 0,
	SPC_RSOC_OPCODE = 1,
	SPC_RSOC_OPCODE_SA = 2,
	SPC_RSOC_OPCODE_ANY = 3,
};

#define SPC_RSOC_RCTD	       0x80
#define SPC_RSOC_DESC_LEN      8
#define SPC_RSOC_TIMEOUTS_LEN  12
#define SPC_RSOC_SUPPORTED     0x03 /* SUPPORT: conforming to a standard */
#define SPC_RSOC_NOT_SUPPORTED 0x01
#define SPC_RSOC_CTDP_ONE      0x80 /* CTDP of the one_command data */
#define SPC_RSOC_CTDP_DESC     0x02 /* CTDP of a command descriptor */
#define SPC_RSOC_SERVACTV      0x01

static enum spc_rsoc_options spc_rsoc_options(const struct scsi_cmd *cmd)
{
	return cmd->cdb[2] & 0x07;
}

static bool spc_rsoc_rctd(const struct scsi_cmd *cmd)
{
	return cmd->cdb[2] & SPC_RSOC_RCTD;
}

/*
 * The row a one-command request names, NULL for a command the type does
 * not support. parse has refused the requests that name an opcode with
 * service actions as one without, or the other way round.
 */
/* Whether the LU supports a row of its type's table (device.h). */
static bool spc_op_supported(const struct scsi_cmd *cmd,
			     const struct scsi_op *op)
{
	return !op->supported || (cmd->lu && op->supported(cmd->lu));
}

static const struct scsi_op *spc_rsoc_requested(const struct scsi_cmd *cmd)
{
	const struct scsi_device_type *dt = spc_dtype(cmd);
	const struct scsi_op *first = scsi_opcode_first(dt, cmd->cdb[3]);
	uint16_t sa = get_be16(cmd->cdb + 4);
	const struct scsi_op *op;

	if (!first)
		return NULL;
	if (first->flags & SCSI_OP_SA) {
		op = scsi_op_find(dt, cmd->cdb[3], sa);
		return op && spc_op_supported(cmd, op) ? op : NULL;
	}
	if (!spc_op_supported(cmd, first))
		return NULL;
	/* 001b ignores REQUESTED SERVICE ACTION; 011b asks for a command
	 * with that service action, which a plain opcode has only as 0. */
	if (spc_rsoc_options(cmd) == SPC_RSOC_OPCODE_ANY && sa)
		return NULL;
	return first;
}

static int spc_rsoc_parse(struct scsi_cmd *cmd)
{
	enum spc_rsoc_options opts = spc_rsoc_options(cmd);
	const struct scsi_op *first;

	if (opts > SPC_RSOC_OPCODE_ANY) {
		scsi_cmd_set_invalid_field(cmd, 2, 2);
		return -EINVAL;
	}
	first = scsi_opcode_first(spc_dtype(cmd), cmd->cdb[3]);
	/* 001b for an opcode with service actions, 010b for one without:
	 * the requested opcode does not fit the reporting option. An opcode
	 * the type does not support is answered "not supported". */
	if (first &&
	    ((opts == SPC_RSOC_OPCODE && (first->flags & SCSI_OP_SA)) ||
	     (opts == SPC_RSOC_OPCODE_SA && !(first->flags & SCSI_OP_SA)))) {
		scsi_cmd_set_invalid_field(cmd, 3, 7);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be32(cmd->cdb + 6);
	return 0;
}

/* Command timeouts descriptor (SPC-5 §6.35.4). */
static void spc_rsoc_timeouts(const struct scsi_op *op, uint8_t *d)
{
	put_be16(d, SPC_RSOC_TIMEOUTS_LEN - 2);
	d[2] = 0;
	d[3] = 0; /* COMMAND SPECIFIC: defined for none of these commands */
	put_be32(d + 4, op->timeouts.nominal);
	put_be32(d + 8, op->timeouts.recommended);
}

/* All_commands parameter data (SPC-5 §6.35.2): every row, in table order. */
static void spc_rsoc_all(struct scsi_cmd *cmd)
{
	const struct scsi_device_type *dt = spc_dtype(cmd);
	bool rctd = spc_rsoc_rctd(cmd);
	size_t desc_len =
	    SPC_RSOC_DESC_LEN + (rctd ? SPC_RSOC_TIMEOUTS_LEN : 0);
	struct scsi_data_in o;
	uint8_t d[SPC_RSOC_DESC_LEN + SPC_RSOC_TIMEOUTS_LEN];

	unsigned nr = 0;

	scsi_data_in_init(&o, cmd);
	for (unsigned i = 0; i < dt->nr_ops; i++)
		nr += spc_op_supported(cmd, dt->ops[i]);
	/* COMMAND DATA LENGTH: the whole list, whatever fits. */
	put_be32(d, (uint32_t)(nr * desc_len));
	scsi_data_in_put(&o, d, 4);
	for (unsigned i = 0; i < dt->nr_ops; i++) {
		const struct scsi_op *op = dt->ops[i];

		if (!spc_op_supported(cmd, op))
			continue;
		memset(d, 0, sizeof(d));
		d[0] = op->opcode;
		if (op->flags & SCSI_OP_SA) {
			put_be16(d + 2, op->service_action);
			d[5] |= SPC_RSOC_SERVACTV;
		}
		if (rctd) {
			d[5] |= SPC_RSOC_CTDP_DESC;
			spc_rsoc_timeouts(op, d + SPC_RSOC_DESC_LEN);
		}
		put_be16(d + 6, op->cdb_len);
		scsi_data_in_put(&o, d, desc_len);
	}
	scsi_data_in_finish(cmd, &o);
}

/* One_command parameter data (SPC-5 §6.35.3). */
static void spc_rsoc_one(struct scsi_cmd *cmd)
{
	const struct scsi_op *op = spc_rsoc_requested(cmd);
	uint8_t d[4 + SCSI_CDB_MAX + SPC_RSOC_TIMEOUTS_LEN];
	size_t len = 4;

	memset(d, 0, sizeof(d));
	if (!op) {
		/* Everything after byte 1 is undefined: CDB SIZE 0. */
		d[1] = SPC_RSOC_NOT_SUPPORTED;
		scsi_cmd_put_data(cmd, d, len);
		return;
	}
	d[1] = SPC_RSOC_SUPPORTED;
	put_be16(d + 2, op->cdb_len);
	memcpy(d + 4, op->usage, op->cdb_len);
	len += op->cdb_len;
	if (spc_rsoc_rctd(cmd)) {
		d[1] |= SPC_RSOC_CTDP_ONE;
		spc_rsoc_timeouts(op, d + len);
		len += SPC_RSOC_TIMEOUTS_LEN;
	}
	scsi_cmd_put_data(cmd, d, len);
}

static int spc_rsoc(struct scsi_cmd *cmd)
{
	if (spc_rsoc_options(cmd) == SPC_RSOC_ALL)
		spc_rsoc_all(cmd);
	else
		spc_rsoc_one(cmd);
	return 0;
}

/* ---- REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS ---- */

#define SPC_RSTMF_REPD	    0x80
#define SPC_RSTMF_BASIC_LEN 4
#define SPC_RSTMF_EXT_LEN   16

static int spc_rstmf_parse(struct scsi_cmd *cmd)
{
	uint32_t alloc = get_be32(cmd->cdb + 6);

	if (alloc < SPC_RSTMF_MIN) {
		scsi_cmd_set_invalid_field(cmd, 6, 7);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = alloc;
	return 0;
}

static int spc_rstmf(struct scsi_cmd *cmd)
{
	uint8_t d[SPC_RSTMF_EXT_LEN];

	memset(d, 0, sizeof(d));
	put_be16(d, cmd->nexus->tmfs);
	if (!(cmd->cdb[2] & SPC_RSTMF_REPD)) {
		scsi_cmd_put_data(cmd, d, SPC_RSTMF_BASIC_LEN);
		return 0;
	}
	/* Extended data: TMFTMOV 0, no timeouts recommended. */
	d[3] = SPC_RSTMF_EXT_LEN - SPC_RSTMF_BASIC_LEN;
	scsi_cmd_put_data(cmd, d, SPC_RSTMF_EXT_LEN);
	return 0;
}

/* ---- the rows ---- */

const struct scsi_op spc_op_test_unit_ready = {
    .name = "TEST UNIT READY",
    .opcode = 0x00,
    .cdb_len = 6,
    .dir = SCSI_DIR_NONE,
    .flags = SCSI_OP_MEDIUM | SCSI_OP_PR_ALLOW, /* NOT READY from the core */
    .execute = spc_test_unit_ready,
    .usage = {0x00, 0x00, 0x00, 0x00, 0x00, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

const struct scsi_op spc_op_request_sense = {
    .name = "REQUEST SENSE",
    .opcode = 0x03,
    .cdb_len = 6,
    .dir = SCSI_DIR_READ,
    .max_data = SCSI_SENSE_MAX,
    .flags = SCSI_OP_UA_OK | SCSI_OP_ALUA_ANY | SCSI_OP_PR_ANY,
    .parse = spc_request_sense_parse,
    .execute = spc_request_sense,
    .usage = {0x03, 0x01, 0x00, 0x00, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

const struct scsi_op spc_op_inquiry = {
    .name = "INQUIRY",
    .opcode = 0x12,
    .cdb_len = 6,
    .dir = SCSI_DIR_READ,
    .max_data = SCSI_VPD_MAX,
    .flags = SCSI_OP_UA_OK | SCSI_OP_ALUA_ANY | SCSI_OP_PR_ANY,
    .parse = spc_inquiry_parse,
    .execute = spc_inquiry,
    .usage = {0x12, 0x03, 0xff, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

const struct scsi_op spc_op_report_luns = {
    .name = "REPORT LUNS",
    .opcode = 0xa0,
    .cdb_len = 12,
    .dir = SCSI_DIR_READ,
    .max_data = 8 + 8 * (SCSI_MAX_LUN + 1),
    .flags = SCSI_OP_UA_OK | SCSI_OP_ALUA_ANY | SCSI_OP_PR_ANY,
    .parse = spc_report_luns_parse,
    .execute = spc_report_luns,
    .usage = {0xa0, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00,
	      0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* MAINTENANCE IN / REPORT SUPPORTED OPERATION CODES */
const struct scsi_op spc_op_report_opcodes = {
    .name = "REPORT SUPPORTED OPERATION CODES",
    .opcode = 0xa3,
    .service_action = 0x0c,
    .cdb_len = 12,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_SA | SCSI_OP_ALUA_ANY | SCSI_OP_PR_ANY,
    .max_data = 4 + SCSI_OPS_MAX * (SPC_RSOC_DESC_LEN + SPC_RSOC_TIMEOUTS_LEN),
    .parse = spc_rsoc_parse,
    .execute = spc_rsoc,
    /* RCTD and REPORTING OPTIONS, REQUESTED OPERATION CODE, REQUESTED
     * SERVICE ACTION, ALLOCATION LENGTH. */
    .usage = {0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
	      0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* MAINTENANCE IN / REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS */
const struct scsi_op spc_op_report_tmfs = {
    .name = "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS",
    .opcode = 0xa3,
    .service_action = 0x0d,
    .cdb_len = 12,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_SA | SCSI_OP_ALUA_ANY | SCSI_OP_PR_ANY,
    .max_data = SPC_RSTMF_EXT_LEN,
    .parse = spc_rstmf_parse,
    .execute = spc_rstmf,
    /* REPD, ALLOCATION LENGTH. */
    .usage = {0xa3, 0x0d, 0x80, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00,
	      0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* ---- a LUN without a logical unit ---- */

static const struct scsi_op *const spc_no_lu_ops[] = {
    &spc_op_request_sense,
    &spc_op_inquiry,
    &spc_op_report_luns,
};

struct scsi_device_type spc_no_lu_type = {
    .pdt = SCSI_PDT_UNKNOWN,
    .product = "NO LOGICAL UNIT",
    .ops = spc_no_lu_ops,
    .nr_ops = sizeof(spc_no_lu_ops) / sizeof(spc_no_lu_ops[0]),
};

SCSI_DEVICE_TYPE_REGISTER(spc_no_lu_type)
