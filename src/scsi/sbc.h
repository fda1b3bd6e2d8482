/*
 * The disk (SBC-4) across its files: the opcode rows each file defines for
 * the table in sbc.c, and the helpers sbc.c shares with them. One
 * declaration a line, so that each file adds its own lines.
 */
#ifndef LUNAR_SCSI_SBC_H
#define LUNAR_SCSI_SBC_H

#include <stdbool.h>
#include <stdint.h>

#include "bs/bs.h"
#include "scsi/device.h"
#include "scsi/range_lock.h"

/* ---- sbc.c: helpers of block commands ---- */

/* Write cache enabled (caching mode page WCE): without it every write is
 * issued with BS_F_FUA. */
bool sbc_wce(const struct scsi_lu *lu);
/* Largest transfer in blocks (VPD B0h MAXIMUM TRANSFER LENGTH). */
uint32_t sbc_max_xfer_blocks(const struct scsi_lu *lu);
/* The sense of a failed store request (MEDIUM ERROR, BUSY, ...). */
void sbc_set_io_error(struct scsi_cmd *cmd, const struct bs_req *req);
/* RDPROTECT/WRPROTECT/VRPROTECT/ORPROTECT other than 000b: no PI here. */
int sbc_check_protect(struct scsi_cmd *cmd);
/* Checks [lba, lba + nr) (and nr against the maximum transfer length when
 * transfers); sets lba, nr_blocks and, when transfers, cdb_xfer_len. */
int sbc_set_range(struct scsi_cmd *cmd, uint64_t lba, uint32_t nr,
		  uint16_t len_byte, bool transfers);
/* The LU's range lock (range_lock.h). */
struct scsi_range_lock *sbc_range_lock(const struct scsi_lu *lu);
/* Fills cmd->bs for one store request of the command (bytes offset..len,
 * completing through done on the command's reactor); the caller submits
 * it, through the range lock when it writes. */
void sbc_req_prep(struct scsi_cmd *cmd, enum bs_op op, unsigned flags,
		  uint64_t offset, uint64_t len, void *buf,
		  void (*done)(struct bs_req *req));

/* ---- sbc_compare.c: writes under the range lock, compare commands ---- */

/* Ordinary writes (sbc_submit): takes the shared range of the request the
 * command filled in cmd->bs; true if parked (the request is submitted when
 * granted). sbc_write_range_end gives it back on completion. */
bool sbc_write_range_begin(struct scsi_cmd *cmd);
void sbc_write_range_end(struct scsi_cmd *cmd);
/* Fills the compare and atomic fields of VPD B0h (p: after the header). */
void sbc_cmp_block_limits(const struct scsi_lu *lu, uint8_t *p);

/* ---- sbc_provision.c, sbc_media.c, sbc_sanitize.c: LU options ---- */

/* Thin provisioning (LBPME), removable medium (RMB), and the LOGICAL
 * BLOCKS PER PHYSICAL BLOCK EXPONENT of the LU. */
bool sbc_lu_thin(const struct scsi_lu *lu);
bool sbc_lu_removable(const struct scsi_lu *lu);
unsigned sbc_lu_lbppbe(const struct scsi_lu *lu);
/* READ CAPACITY (16) bytes 13-15 (d: the whole parameter data). */
void sbc_provision_capacity16(const struct scsi_lu *lu, uint8_t *d);
/* The UNMAP and WRITE SAME fields of VPD B0h (p: after the header). */
void sbc_provision_block_limits(const struct scsi_lu *lu, uint8_t *p);
/* VPD B2h Logical Block Provisioning after its header; its length. */
size_t sbc_provision_vpd(const struct scsi_cmd *cmd, uint8_t *p);
/* The disk's lu_ready (device.h): medium present, no sanitize running. */
bool sbc_lu_ready(const struct scsi_lu *lu, struct scsi_sense_info *si);
/* True, with si filled, while a sanitize runs or has failed. */
bool sbc_sanitize_progress(const struct scsi_lu *lu,
			   struct scsi_sense_info *si);
/* WABEREQ/WACEREQ byte of VPD B1h (byte 7). */
uint8_t sbc_sanitize_vpd_b1(const struct scsi_lu *lu);
/* Frees the LU's sanitize state (lu_exit). */
void sbc_sanitize_lu_exit(struct scsi_lu *lu);

extern const struct scsi_op sbc_op_start_stop;
extern const struct scsi_op sbc_op_prevent_allow;
extern const struct scsi_op sbc_op_write_same10;
extern const struct scsi_op sbc_op_unmap;
extern const struct scsi_op sbc_op_sanitize_overwrite;
extern const struct scsi_op sbc_op_sanitize_block_erase;
extern const struct scsi_op sbc_op_sanitize_crypto_erase;
extern const struct scsi_op sbc_op_sanitize_exit_failure;
extern const struct scsi_op sbc_op_write_same16;
extern const struct scsi_op sbc_op_get_lba_status;

extern const struct scsi_op sbc_op_verify10;
extern const struct scsi_op sbc_op_verify12;
extern const struct scsi_op sbc_op_verify16;
extern const struct scsi_op sbc_op_write_verify10;
extern const struct scsi_op sbc_op_write_verify12;
extern const struct scsi_op sbc_op_write_verify16;
extern const struct scsi_op sbc_op_compare_and_write;
extern const struct scsi_op sbc_op_orwrite16;
extern const struct scsi_op sbc_op_prefetch10;
extern const struct scsi_op sbc_op_prefetch16;
extern const struct scsi_op sbc_op_write_atomic16;
extern const struct scsi_op sbc_op_read_defect10;
extern const struct scsi_op sbc_op_read_defect12;
extern const struct scsi_op xcopy_op_extended_copy;
extern const struct scsi_op xcopy_op_rcr_copy_status;
extern const struct scsi_op xcopy_op_rcr_receive_data;
extern const struct scsi_op xcopy_op_rcr_op_params;
extern const struct scsi_op xcopy_op_rcr_failed_segment;

#endif
