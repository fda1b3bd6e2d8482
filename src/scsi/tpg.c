/*
 * Target port groups (SPC-5 §5.16, asymmetric logical unit access):
 * which group a target port belongs to and in which state, and the
 * command that reports them, §6.37 REPORT TARGET PORT GROUPS (MAINTENANCE
 * IN, service action 0Ah) in the length only (§6.37.2) and extended
 * header (§6.37.3) parameter data formats. INQUIRY (spc.c) reports TPGS
 * and the target port group designator of VPD page 83h from here.
 *
 * Each target is one target port group today: its target port (one per
 * target portal group tag, core.c) is always active/optimized, and the
 * access state never changes (implicit ALUA, no transitions).
 */
#include "scsi/tpg.h"

#include <errno.h>
#include <string.h>

#include "scsi/device.h"
#include "scsi/sense.h"
#include "util/bytes.h"

/* PARAMETER DATA FORMAT, byte 1 bits 7-5 of the CDB. */
#define TPG_FORMAT_LENGTH_ONLY 0x0
#define TPG_FORMAT_EXTENDED    0x1

#define TPG_HDR_LEN	  4
#define TPG_EXT_HDR_LEN	  8
#define TPG_DESC_LEN	  8
#define TPG_PORT_DESC_LEN 4
#define TPG_DATA_MAX                                                           \
	(TPG_EXT_HDR_LEN +                                                     \
	 SCSI_TPG_MAX *                                                        \
	     (TPG_DESC_LEN + SCSI_TPG_PORTS_MAX * TPG_PORT_DESC_LEN))

uint8_t scsi_tpg_tpgs(const struct scsi_lu *lu)
{
	/* The device server alone sets the states (it never changes
	 * them); SET TARGET PORT GROUPS is not supported. */
	return SCSI_TPGS_IMPLICIT;
}

uint16_t scsi_tpg_id(const struct scsi_nexus *n, const struct scsi_lu *lu)
{
	return SCSI_TPG_DEFAULT_ID;
}

unsigned scsi_tpg_list(const struct scsi_nexus *n, const struct scsi_lu *lu,
		       struct scsi_tpg_info *out, unsigned max)
{
	if (max == 0)
		return 1;
	memset(&out[0], 0, sizeof(out[0]));
	out[0].id = scsi_tpg_id(n, lu);
	out[0].state = SCSI_ALUA_ACTIVE_OPTIMIZED;
	out[0].supported = SCSI_ALUA_SUP_AO;
	/* The target's one target port: every nexus of the target comes
	 * through it (relative port identifiers follow the TPGT). */
	out[0].nr_ports = 1;
	out[0].ports[0] = n->rel_port_id;
	return 1;
}

int scsi_tpg_check(struct scsi_cmd *cmd)
{
	(void)cmd; /* every group is active/optimized */
	return 0;
}

static int tpg_report_parse(struct scsi_cmd *cmd)
{
	uint8_t format = cmd->cdb[1] >> 5;

	if (format != TPG_FORMAT_LENGTH_ONLY && format != TPG_FORMAT_EXTENDED) {
		scsi_cmd_set_invalid_field(cmd, 1, 7);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be32(cmd->cdb + 6);
	return 0;
}

static int tpg_report(struct scsi_cmd *cmd)
{
	struct scsi_tpg_info groups[SCSI_TPG_MAX];
	bool ext = (cmd->cdb[1] >> 5) == TPG_FORMAT_EXTENDED;
	size_t len = ext ? TPG_EXT_HDR_LEN : TPG_HDR_LEN;
	uint8_t d[TPG_DATA_MAX];
	unsigned n;

	memset(d, 0, sizeof(d));
	n = scsi_tpg_list(cmd->nexus, cmd->lu, groups, SCSI_TPG_MAX);
	if (n > SCSI_TPG_MAX)
		n = SCSI_TPG_MAX;
	if (ext) {
		d[4] = TPG_FORMAT_EXTENDED << 4; /* FORMAT TYPE */
		d[5] = 0; /* IMPLICIT TRANSITION TIME: none happen */
	}
	for (unsigned i = 0; i < n; i++) {
		const struct scsi_tpg_info *g = &groups[i];
		uint8_t *p = d + len;
		unsigned ports = g->nr_ports < SCSI_TPG_PORTS_MAX
				     ? g->nr_ports
				     : SCSI_TPG_PORTS_MAX;

		p[0] = (uint8_t)((g->pref ? 0x80 : 0) | (g->state & 0x0f));
		p[1] = g->supported;
		put_be16(p + 2, g->id);
		p[5] = g->status;
		p[7] = (uint8_t)ports;
		len += TPG_DESC_LEN;
		for (unsigned j = 0; j < ports; j++) {
			put_be16(d + len + 2, g->ports[j]);
			len += TPG_PORT_DESC_LEN;
		}
	}
	/* RETURN DATA LENGTH: every byte after itself, the extended
	 * header's included. */
	put_be32(d, (uint32_t)(len - 4));
	scsi_cmd_put_data(cmd, d, len);
	return 0;
}

/* MAINTENANCE IN / REPORT TARGET PORT GROUPS */
const struct scsi_op spc_op_report_tpgs = {
    .name = "REPORT TARGET PORT GROUPS",
    .opcode = 0xa3,
    .service_action = 0x0a,
    .cdb_len = 12,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_SA | SCSI_OP_ALUA_ANY | SCSI_OP_PR_ANY,
    .max_data = TPG_DATA_MAX,
    .parse = tpg_report_parse,
    .execute = tpg_report,
    /* PARAMETER DATA FORMAT, ALLOCATION LENGTH. */
    .usage = {0xa3, 0xea, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00,
	      0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};
