/*
 * Sense data (SPC-5 §4.4): the sense keys and additional sense codes the
 * target core reports, the builder of fixed (70h) and descriptor (72h)
 * format sense data, and the helpers that fail a command with CHECK
 * CONDITION. Every SCSI failure goes through scsi_cmd_set_sense_full().
 */
#ifndef LUNAR_SCSI_SENSE_H
#define LUNAR_SCSI_SENSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scsi_cmd;

/* Sense keys (SPC-5 §4.4.8, table 49) */
#define SCSI_SK_NO_SENSE	0x0
#define SCSI_SK_RECOVERED_ERROR 0x1
#define SCSI_SK_NOT_READY	0x2
#define SCSI_SK_MEDIUM_ERROR	0x3
#define SCSI_SK_HARDWARE_ERROR	0x4
#define SCSI_SK_ILLEGAL_REQUEST 0x5
#define SCSI_SK_UNIT_ATTENTION	0x6
#define SCSI_SK_DATA_PROTECT	0x7
#define SCSI_SK_BLANK_CHECK	0x8 /* SSC: end of data */
#define SCSI_SK_ABORTED_COMMAND 0xb
#define SCSI_SK_VOLUME_OVERFLOW 0xd /* SSC: the physical end of medium */
#define SCSI_SK_MISCOMPARE	0xe

/*
 * Additional sense code / qualifier pairs (SPC-5 Annex F). Each macro
 * expands to "ASC, ASCQ" so that it fills both arguments of
 * scsi_cmd_set_sense() and scsi_ua_establish().
 */
#define SCSI_ASC_NO_ADDITIONAL_SENSE	   0x00, 0x00
#define SCSI_ASC_WRITE_ERROR		   0x0c, 0x00
#define SCSI_ASC_INVALID_FIELD_IN_IU	   0x0e, 0x03
#define SCSI_ASC_UNRECOVERED_READ_ERROR	   0x11, 0x00
#define SCSI_ASC_INVALID_OPCODE		   0x20, 0x00
#define SCSI_ASC_LBA_OUT_OF_RANGE	   0x21, 0x00
#define SCSI_ASC_INVALID_FIELD_IN_CDB	   0x24, 0x00
#define SCSI_ASC_LU_NOT_SUPPORTED	   0x25, 0x00
#define SCSI_ASC_WRITE_PROTECTED	   0x27, 0x00
#define SCSI_ASC_SPACE_ALLOC_FAILED_WP	   0x27, 0x07
#define SCSI_ASC_POWER_ON_RESET		   0x29, 0x00
#define SCSI_ASC_BUS_DEVICE_RESET	   0x29, 0x03
#define SCSI_ASC_SAVING_PARAMS_UNSUPPORTED 0x39, 0x00
#define SCSI_ASC_REPORTED_LUNS_CHANGED	   0x3f, 0x0e
#define SCSI_ASC_INTERNAL_TARGET_FAILURE   0x44, 0x00
/* Media, provisioning and sanitize (sbc_media.c, sbc_provision.c,
 * sbc_sanitize.c). */
#define SCSI_ASC_SANITIZE_IN_PROGRESS	  0x04, 0x1b
#define SCSI_ASC_PARAMETER_LIST_LENGTH	  0x1a, 0x00
#define SCSI_ASC_INVALID_FIELD_IN_PARAM	  0x26, 0x00
#define SCSI_ASC_MEDIUM_MAY_HAVE_CHANGED  0x28, 0x00
#define SCSI_ASC_SANITIZE_FAILED	  0x31, 0x03
#define SCSI_ASC_MEDIUM_NOT_PRESENT	  0x3a, 0x00
#define SCSI_ASC_MEDIUM_REMOVAL_PREVENTED 0x53, 0x02
/* Sequential-access positions (SSC-5, ssc.c). */
#define SCSI_ASC_FILEMARK_DETECTED 0x00, 0x01
#define SCSI_ASC_EOP_EOM_DETECTED  0x00, 0x02
#define SCSI_ASC_BOP_BOM_DETECTED  0x00, 0x04
#define SCSI_ASC_END_OF_DATA	   0x00, 0x05
/* A CD in a command only a DVD answers (mmc.c). */
#define SCSI_ASC_INCOMPATIBLE_MEDIUM 0x30, 0x02
/* Mode parameters (mode.c): SWP of the control page, MODE SELECT. */
#define SCSI_ASC_SOFTWARE_WRITE_PROTECTED 0x27, 0x02
#define SCSI_ASC_MODE_PARAMETERS_CHANGED  0x2a, 0x01
/* Compare commands and defect lists (sbc_compare.c). */
#define SCSI_ASC_DEFECT_LIST_NOT_FOUND	  0x1c, 0x00
#define SCSI_ASC_MISCOMPARE_DURING_VERIFY 0x1d, 0x00

/* Unit attentions of shared access (SAM-5 §5.14, SPC-5 §5.13): resets,
 * reservations, task management by another nexus, LU inventory and
 * data changes, asymmetric access (ua.c ranks them). */
#define SCSI_ASC_IT_NEXUS_LOSS		   0x29, 0x07
#define SCSI_ASC_RESERVATIONS_PREEMPTED	   0x2a, 0x03
#define SCSI_ASC_RESERVATIONS_RELEASED	   0x2a, 0x04
#define SCSI_ASC_REGISTRATIONS_PREEMPTED   0x2a, 0x05
#define SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED 0x2a, 0x06
#define SCSI_ASC_CAPACITY_DATA_CHANGED	   0x2a, 0x09
#define SCSI_ASC_COMMANDS_CLEARED_BY_OTHER 0x2f, 0x00
#define SCSI_ASC_INQUIRY_DATA_CHANGED	   0x3f, 0x03
/* Persistent reservations (pr.c). */
#define SCSI_ASC_INVALID_RELEASE_OF_PR	    0x26, 0x04
#define SCSI_ASC_COMMAND_SEQUENCE_ERROR	    0x2c, 0x00
#define SCSI_ASC_INSUFFICIENT_REG_RESOURCES 0x55, 0x04
/* Asymmetric access states (tpg.c, SPC-5 §5.16.2.4). */
#define SCSI_ASC_ALUA_TRANSITION  0x04, 0x0a
#define SCSI_ASC_ALUA_STANDBY	  0x04, 0x0b
#define SCSI_ASC_ALUA_UNAVAILABLE 0x04, 0x0c
#define SCSI_ASC_SET_TPGS_FAILED  0x67, 0x0a
/* A shared medium that stopped answering (a Ceph OSD down: sbc.c). */
#define SCSI_ASC_TIMEOUT_ON_LU 0x3e, 0x02

#define SCSI_SENSE_FIXED_LEN 18 /* fixed format with the SKS bytes */

/* The contents of one sense data report, whatever its format. */
struct scsi_sense_info {
	uint8_t key;
	uint8_t asc;
	uint8_t ascq;
	bool info_valid; /* INFORMATION field (e.g. an LBA or an offset) */
	uint64_t info;
	/* COMMAND-SPECIFIC INFORMATION (EXTENDED COPY: segment number). */
	bool csi_valid;
	uint64_t csi;
	bool sks_valid; /* SENSE KEY SPECIFIC bytes (SKSV set in sks[0]) */
	uint8_t sks[3];
	/* FILEMARK, EOM and ILI (SCSI_SENSE_FILEMARK ...): byte 2 of fixed
	 * format, a stream commands descriptor in descriptor format. */
	uint8_t stream;
};

/* Bits of scsi_sense_info.stream (SPC-5 §4.4.2.6, SSC-5). An INFORMATION
 * value that is a negative 32-bit residual (an overlength block) is
 * given sign-extended in info; fixed format keeps its low 32 bits. */
#define SCSI_SENSE_FILEMARK 0x80
#define SCSI_SENSE_EOM	    0x40
#define SCSI_SENSE_ILI	    0x20

static inline void scsi_sense_info_init(struct scsi_sense_info *si, uint8_t key,
					uint8_t asc, uint8_t ascq)
{
	*si = (struct scsi_sense_info){.key = key, .asc = asc, .ascq = ascq};
}

/*
 * Writes sense data in descriptor (72h) or fixed (70h) format into out,
 * truncated to max bytes; returns the full length of the sense data.
 */
size_t scsi_sense_build(uint8_t *out, size_t max, bool descriptor,
			const struct scsi_sense_info *si);

/*
 * SPC-5 §4.4.2.4.2 field pointer: byte (and bit, or -1 when the whole
 * byte is meant) of the CDB (in_cdb) or of the parameter data.
 */
void scsi_sense_field_pointer(struct scsi_sense_info *si, bool in_cdb,
			      uint16_t byte, int bit);

/* CHECK CONDITION with the sense in the format the LU's D_SENSE asks. */
void scsi_cmd_set_sense_full(struct scsi_cmd *cmd,
			     const struct scsi_sense_info *si);
/* ILLEGAL REQUEST / INVALID FIELD IN CDB pointing at byte/bit (-1: none). */
void scsi_cmd_set_invalid_field(struct scsi_cmd *cmd, uint16_t byte, int bit);
/* ILLEGAL REQUEST with asc/ascq about the parameter list, and a field
 * pointer to byte (and bit, -1 for none) when byte is 0..65535. Returns
 * -EINVAL so that a parser can return it. */
int scsi_cmd_set_param_error(struct scsi_cmd *cmd, uint8_t asc, uint8_t ascq,
			     long byte, int bit);
/* A status without sense data (BUSY, TASK SET FULL, ...). */
void scsi_cmd_set_status(struct scsi_cmd *cmd, uint8_t status);

#endif
