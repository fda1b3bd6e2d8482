/*
 * The copy manager of a disk (xcopy.c): EXTENDED COPY (LID1), RECEIVE
 * COPY RESULTS and the Third-party Copy VPD page (SPC-4 §6.4, §6.18,
 * §7.8.17). The opcode rows themselves are declared in sbc.h with the
 * disk's other rows; this header holds what the copy manager shares with
 * the rest of the core and with its tests.
 */
#ifndef LUNAR_SCSI_XCOPY_H
#define LUNAR_SCSI_XCOPY_H

#include <stddef.h>
#include <stdint.h>

#include "scsi/scsi.h"

/* Limits the copy manager enforces and reports (RECEIVE COPY RESULTS
 * OPERATING PARAMETERS and VPD page 8Fh). */
#define XCOPY_MAX_CSCD	   16 /* CSCD descriptors in one list */
#define XCOPY_MAX_SEGMENTS 64 /* segment descriptors in one list */
#define XCOPY_HDR_LEN	   16
#define XCOPY_CSCD_LEN	   32 /* identification CSCD descriptor (E4h) */
#define XCOPY_B2B_LEN	   28 /* block to block segment descriptor (02h) */
#define XCOPY_MAX_DESC_LIST                                                    \
	(XCOPY_MAX_CSCD * XCOPY_CSCD_LEN + XCOPY_MAX_SEGMENTS * XCOPY_B2B_LEN)
#define XCOPY_MAX_INLINE    0 /* no segment type here uses inline data */
#define XCOPY_MAX_PARAM_LEN (XCOPY_HDR_LEN + XCOPY_MAX_DESC_LIST)
/* The most a block to block segment can ask: 65535 blocks of 4 KiB. */
#define XCOPY_MAX_SEGMENT_LEN (65535u * 4096u)
#define XCOPY_MAX_CONCURRENT  32	 /* copies in progress in the daemon */
#define XCOPY_HELD_MAX	      16	 /* results kept per I_T_L nexus */
#define XCOPY_CHUNK_BYTES     (1u << 20) /* one read then one write */

/* Descriptor type codes the copy manager implements. */
#define XCOPY_SEG_BLOCK_TO_BLOCK  0x02
#define XCOPY_CSCD_IDENTIFICATION 0xe4

/* VPD page 8Fh (Third-party Copy), for the device type's VPD table. */
size_t xcopy_vpd_third_party_copy(const struct scsi_cmd *cmd, uint8_t *out);

#endif
