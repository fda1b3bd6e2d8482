/*
 * Sense data and the one place a command fails: SPC-5 §4.4.2 descriptor
 * format (72h) with the information (§4.4.2.2) and sense key specific
 * (§4.4.2.4) descriptors, the stream commands descriptor (§4.4.2.6:
 * FILEMARK, EOM, ILI of tapes), SPC-5 §4.4.3 fixed format (70h), and
 * the field pointer of ILLEGAL REQUEST (§4.4.2.4.2). Which format a command
 * gets follows the D_SENSE bit of the LU's control mode page (spc.c).
 */
#include "scsi/sense.h"

#include <errno.h>
#include <string.h>

#include "scsi/device.h"
#include "util/bytes.h"

#define SENSE_DESC_HDR_LEN    8
#define SENSE_DESC_INFO_LEN   12
#define SENSE_DESC_SKS_LEN    8
#define SENSE_DESC_STREAM_LEN 4

static size_t scsi_sense_build_fixed(uint8_t *s,
				     const struct scsi_sense_info *si)
{
	s[0] = 0x70;
	/* VALID only when the INFORMATION field can hold the value (a
	 * negative 32-bit residual is one). */
	if (si->info_valid &&
	    (si->info <= UINT32_MAX || si->info >= 0xffffffff80000000ull)) {
		s[0] |= 0x80;
		put_be32(s + 3, (uint32_t)si->info);
	}
	s[2] = (uint8_t)((si->key & 0x0f) |
			 (si->stream & (SCSI_SENSE_FILEMARK | SCSI_SENSE_EOM |
					SCSI_SENSE_ILI)));
	s[7] = SCSI_SENSE_FIXED_LEN - 8;
	if (si->csi_valid)
		put_be32(s + 8, (uint32_t)si->csi);
	s[12] = si->asc;
	s[13] = si->ascq;
	if (si->sks_valid)
		memcpy(s + 15, si->sks, 3);
	return SCSI_SENSE_FIXED_LEN;
}

static size_t scsi_sense_build_desc(uint8_t *s,
				    const struct scsi_sense_info *si)
{
	size_t len = SENSE_DESC_HDR_LEN;

	s[0] = 0x72;
	s[1] = si->key & 0x0f;
	s[2] = si->asc;
	s[3] = si->ascq;
	if (si->info_valid) {
		uint8_t *d = s + len;

		d[0] = 0x00; /* information */
		d[1] = SENSE_DESC_INFO_LEN - 2;
		d[2] = 0x80; /* VALID */
		put_be64(d + 4, si->info);
		len += SENSE_DESC_INFO_LEN;
	}
	if (si->csi_valid) {
		uint8_t *d = s + len;

		d[0] = 0x01; /* command-specific information */
		d[1] = SENSE_DESC_INFO_LEN - 2;
		put_be64(d + 4, si->csi);
		len += SENSE_DESC_INFO_LEN;
	}
	if (si->sks_valid) {
		uint8_t *d = s + len;

		d[0] = 0x02; /* sense key specific */
		d[1] = SENSE_DESC_SKS_LEN - 2;
		memcpy(d + 4, si->sks, 3);
		len += SENSE_DESC_SKS_LEN;
	}
	if (si->stream) {
		uint8_t *d = s + len;

		d[0] = 0x04; /* stream commands */
		d[1] = SENSE_DESC_STREAM_LEN - 2;
		d[3] = si->stream &
		       (SCSI_SENSE_FILEMARK | SCSI_SENSE_EOM | SCSI_SENSE_ILI);
		len += SENSE_DESC_STREAM_LEN;
	}
	s[7] = (uint8_t)(len - SENSE_DESC_HDR_LEN);
	return len;
}

size_t scsi_sense_build(uint8_t *out, size_t max, bool descriptor,
			const struct scsi_sense_info *si)
{
	uint8_t s[SENSE_DESC_HDR_LEN + 2 * SENSE_DESC_INFO_LEN +
		  SENSE_DESC_SKS_LEN + SENSE_DESC_STREAM_LEN];
	size_t len;

	memset(s, 0, sizeof(s));
	if (descriptor)
		len = scsi_sense_build_desc(s, si);
	else
		len = scsi_sense_build_fixed(s, si);
	memcpy(out, s, len < max ? len : max);
	return len;
}

void scsi_sense_field_pointer(struct scsi_sense_info *si, bool in_cdb,
			      uint16_t byte, int bit)
{
	si->sks_valid = true;
	si->sks[0] = 0x80; /* SKSV */
	if (in_cdb)
		si->sks[0] |= 0x40; /* C/D */
	if (bit >= 0 && bit <= 7)
		si->sks[0] |= 0x08 | (uint8_t)bit; /* BPV, BIT POINTER */
	put_be16(si->sks + 1, byte);
}

void scsi_cmd_set_sense_full(struct scsi_cmd *cmd,
			     const struct scsi_sense_info *si)
{
	size_t len = scsi_sense_build(cmd->sense, sizeof(cmd->sense),
				      spc_lu_d_sense(cmd->lu), si);

	cmd->status = SAM_STAT_CHECK_CONDITION;
	cmd->sense_len =
	    (uint16_t)(len < sizeof(cmd->sense) ? len : sizeof(cmd->sense));
}

void scsi_cmd_set_sense(struct scsi_cmd *cmd, uint8_t key, uint8_t asc,
			uint8_t ascq)
{
	struct scsi_sense_info si;

	scsi_sense_info_init(&si, key, asc, ascq);
	scsi_cmd_set_sense_full(cmd, &si);
}

void scsi_cmd_set_invalid_field(struct scsi_cmd *cmd, uint16_t byte, int bit)
{
	struct scsi_sense_info si;

	scsi_sense_info_init(&si, SCSI_SK_ILLEGAL_REQUEST,
			     SCSI_ASC_INVALID_FIELD_IN_CDB);
	scsi_sense_field_pointer(&si, true, byte, bit);
	scsi_cmd_set_sense_full(cmd, &si);
}

int scsi_cmd_set_param_error(struct scsi_cmd *cmd, uint8_t asc, uint8_t ascq,
			     long byte, int bit)
{
	struct scsi_sense_info si;

	scsi_sense_info_init(&si, SCSI_SK_ILLEGAL_REQUEST, asc, ascq);
	if (byte >= 0 && byte <= UINT16_MAX)
		scsi_sense_field_pointer(&si, false, (uint16_t)byte, bit);
	scsi_cmd_set_sense_full(cmd, &si);
	return -EINVAL;
}

void scsi_cmd_set_status(struct scsi_cmd *cmd, uint8_t status)
{
	cmd->status = status;
	cmd->sense_len = 0;
}
