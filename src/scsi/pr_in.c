/*
 * PERSISTENT RESERVE IN (SPC-5 §6.16): READ KEYS, READ RESERVATION,
 * REPORT CAPABILITIES and READ FULL STATUS with iSCSI TransportIDs
 * (§7.6.4.6). Each answer is
 * built whole under lu->lock and cut at the allocation length; the
 * ADDITIONAL LENGTH always tells the whole length.
 */
#include <errno.h>
#include <string.h>

#include "scsi/device.h"
#include "scsi/pr_internal.h"
#include "scsi/sense.h"
#include "scsi/target.h"
#include "util/bytes.h"

#define PR_IN_MAX_DATA 0xffff /* ALLOCATION LENGTH is two bytes */

#define PR_IN_READ_KEYS	       0x00
#define PR_IN_READ_RESERVATION 0x01
#define PR_IN_REPORT_CAPS      0x02
#define PR_IN_READ_FULL_STATUS 0x03

/* REPORT CAPABILITIES byte 2 and 3 (SPC-5 §6.16, REPORT CAPABILITIES). */
#define PR_CAP_SIP_C  0x08
#define PR_CAP_ATP_C  0x04
#define PR_CAP_PTPL_C 0x01
#define PR_CAP_TMV    0x80
/* ALLOW COMMANDS 011b: TEST UNIT READY runs under Write Exclusive and
 * Exclusive Access reservations, and MODE SENSE, RECEIVE COPY RESULTS,
 * REPORT SUPPORTED OPERATION CODES, REPORT SUPPORTED TASK MANAGEMENT
 * FUNCTIONS and READ DEFECT DATA under Write Exclusive ones (the
 * reservation classes of their rows, device.h). */
#define PR_CAP_ALLOW_COMMANDS (0x3 << 4)
#define PR_CAP_PTPL_A	      0x01

/* The header: PRGENERATION and ADDITIONAL LENGTH. */
static void pr_in_header(struct scsi_data_in *o, uint32_t generation,
			 size_t additional)
{
	uint8_t h[8];

	put_be32(h, generation);
	put_be32(h + 4, (uint32_t)additional);
	scsi_data_in_put(o, h, sizeof(h));
}

static void pr_in_read_keys(const struct pr_set *s, struct scsi_data_in *o)
{
	const struct pr_reg *reg;

	pr_in_header(o, s->generation, (size_t)s->nr_regs * 8);
	list_for_each_entry (reg, &s->regs, link) {
		uint8_t k[8];

		put_be64(k, reg->key);
		scsi_data_in_put(o, k, sizeof(k));
	}
}

static void pr_in_read_reservation(const struct pr_set *s,
				   struct scsi_data_in *o)
{
	uint8_t d[16];

	if (!s->reserved) {
		pr_in_header(o, s->generation, 0);
		return;
	}
	pr_in_header(o, s->generation, sizeof(d));
	memset(d, 0, sizeof(d));
	/* The all registrants types report key zero. */
	if (s->holder)
		put_be64(d, s->holder->key);
	d[13] = (uint8_t)(s->scope << 4 | s->type);
	scsi_data_in_put(o, d, sizeof(d));
}

static void pr_in_report_caps(const struct scsi_pr *pr, struct scsi_data_in *o)
{
	uint8_t d[8];

	memset(d, 0, sizeof(d));
	put_be16(d, sizeof(d));
	/* CRH 0: RESERVE and RELEASE keep their SPC-2 meaning (pr.c). */
	d[2] = PR_CAP_SIP_C | PR_CAP_ATP_C;
	if (scsi_pr_store() || pr->shared)
		d[2] |= PR_CAP_PTPL_C;
	d[3] = PR_CAP_TMV | PR_CAP_ALLOW_COMMANDS;
	if (pr->set.aptpl)
		d[3] |= PR_CAP_PTPL_A;
	/* PERSISTENT RESERVATION TYPE MASK: all six types. */
	d[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; /* WR_EX_AR, EX_AC_RO,
						   WR_EX_RO, EX_AC, WR_EX */
	d[5] = 0x01;				 /* EX_AC_AR */
	scsi_data_in_put(o, d, sizeof(d));
}

/*
 * The iSCSI TransportID of id (SPC-5 §7.6.4.6): format 01b with the
 * initiator port ("<name>,i,0x<ISID>"), format 00b with the name alone;
 * NUL-terminated and padded to a multiple of four, at least 24 bytes.
 */
static size_t pr_in_transport_id(const struct pr_id *id, uint8_t *out)
{
	size_t n = strlen(id->tid) + 1;
	size_t len = (n + 3) & ~(size_t)3;

	if (len < 20)
		len = 20;
	memset(out, 0, 4 + len);
	out[0] = (uint8_t)((id->has_isid ? 0x40 : 0x00) | PR_PROTO_ISCSI);
	put_be16(out + 2, (uint16_t)len);
	memcpy(out + 4, id->tid, n - 1);
	return 4 + len;
}

static void pr_in_read_full_status(const struct pr_set *s,
				   struct scsi_data_in *o)
{
	uint8_t d[24 + 4 + SCSI_PR_TID_MAX + 4];
	const struct pr_reg *reg;
	size_t total = 0;

	list_for_each_entry (reg, &s->regs, link)
		total += 24 + pr_in_transport_id(&reg->id, d + 24);
	pr_in_header(o, s->generation, total);
	list_for_each_entry (reg, &s->regs, link) {
		size_t tid_len;

		memset(d, 0, 24);
		tid_len = pr_in_transport_id(&reg->id, d + 24);
		put_be64(d, reg->key);
		if (reg->all_tg_pt)
			d[12] |= 0x02;
		if (pr_is_holder(s, reg)) {
			d[12] |= 0x01; /* R_HOLDER */
			d[13] = (uint8_t)(s->scope << 4 | s->type);
		}
		/* With ALL_TG_PT the port is not relevant: one descriptor
		 * stands for every target port. */
		if (!reg->all_tg_pt)
			put_be16(d + 18, reg->rel_port_id);
		put_be32(d + 20, (uint32_t)tid_len);
		scsi_data_in_put(o, d, 24 + tid_len);
	}
}

static int pr_in_parse(struct scsi_cmd *cmd)
{
	cmd->cdb_xfer_len = get_be16(cmd->cdb + 7);
	return 0;
}

static int pr_in_execute(struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->lu;
	const struct scsi_pr *pr = lu->pr;
	struct scsi_data_in o;

	scsi_data_in_init(&o, cmd);
	pthread_mutex_lock(&lu->lock);
	switch (cmd->op->service_action) {
	case PR_IN_READ_KEYS:
		pr_in_read_keys(&pr->set, &o);
		break;
	case PR_IN_READ_RESERVATION:
		pr_in_read_reservation(&pr->set, &o);
		break;
	case PR_IN_REPORT_CAPS:
		pr_in_report_caps(pr, &o);
		break;
	default:
		pr_in_read_full_status(&pr->set, &o);
		break;
	}
	pthread_mutex_unlock(&lu->lock);
	scsi_data_in_finish(cmd, &o);
	return 0;
}

/* SERVICE ACTION and ALLOCATION LENGTH. PERSISTENT RESERVE IN runs under
 * any persistent reservation; under another nexus's SPC-2 reservation only
 * REPORT CAPABILITIES does. */
#define PR_IN_ROW(var, nm, sa, fl)                                             \
	const struct scsi_op var = {                                           \
	    .name = (nm),                                                      \
	    .opcode = 0x5e,                                                    \
	    .service_action = (sa),                                            \
	    .cdb_len = 10,                                                     \
	    .dir = SCSI_DIR_READ,                                              \
	    .flags = SCSI_OP_SA | SCSI_OP_ALUA_STANDBY | (fl),                 \
	    .max_data = PR_IN_MAX_DATA,                                        \
	    .parse = pr_in_parse,                                              \
	    .execute = pr_in_execute,                                          \
	    .usage = {0x5e, (sa), 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,    \
		      0x05},                                                   \
	    .timeouts = SCSI_TIMEOUTS_MEMORY,                                  \
	}

PR_IN_ROW(spc_op_pr_in_read_keys, "PERSISTENT RESERVE IN(READ KEYS)",
	  PR_IN_READ_KEYS, SCSI_OP_PR_ALLOW);
PR_IN_ROW(spc_op_pr_in_read_reservation,
	  "PERSISTENT RESERVE IN(READ RESERVATION)", PR_IN_READ_RESERVATION,
	  SCSI_OP_PR_ALLOW);
PR_IN_ROW(spc_op_pr_in_report_caps,
	  "PERSISTENT RESERVE IN(REPORT CAPABILITIES)", PR_IN_REPORT_CAPS,
	  SCSI_OP_PR_ANY);
PR_IN_ROW(spc_op_pr_in_read_full_status,
	  "PERSISTENT RESERVE IN(READ FULL STATUS)", PR_IN_READ_FULL_STATUS,
	  SCSI_OP_PR_ALLOW);
