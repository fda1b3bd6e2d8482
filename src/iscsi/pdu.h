/*
 * iSCSI PDU wire format (RFC 7143 §11): the Basic Header Segment of every
 * opcode the target receives or sends, decoded into host-order structs and
 * encoded from them; AHS parsing; lengths, padding and CRC32C digests
 * (RFC 7143 §11.2.3, RFC 3720 Appendix B.4). Pure code: no sockets.
 */
#ifndef LUNAR_ISCSI_PDU_H
#define LUNAR_ISCSI_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/bytes.h"

#define ISCSI_BHS_LEN	 48
#define ISCSI_DIGEST_LEN 4
#define ISCSI_AHS_MAX	 (255 * 4) /* TotalAHSLength is in 4-byte words */
#define ISCSI_HDR_MAX	 (ISCSI_BHS_LEN + ISCSI_AHS_MAX + ISCSI_DIGEST_LEN)
#define ISCSI_RSVD_TAG	 0xffffffffu
#define ISCSI_DSL_MAX	 0xffffffu /* DataSegmentLength is 24 bits */

/* Opcodes (RFC 7143 §11.2.1.2). */
enum iscsi_opcode {
	ISCSI_OP_NOP_OUT = 0x00,
	ISCSI_OP_SCSI_CMD = 0x01,
	ISCSI_OP_TMF_REQ = 0x02,
	ISCSI_OP_LOGIN_REQ = 0x03,
	ISCSI_OP_TEXT_REQ = 0x04,
	ISCSI_OP_DATA_OUT = 0x05,
	ISCSI_OP_LOGOUT_REQ = 0x06,
	ISCSI_OP_SNACK = 0x10,
	ISCSI_OP_NOP_IN = 0x20,
	ISCSI_OP_SCSI_RSP = 0x21,
	ISCSI_OP_TMF_RSP = 0x22,
	ISCSI_OP_LOGIN_RSP = 0x23,
	ISCSI_OP_TEXT_RSP = 0x24,
	ISCSI_OP_DATA_IN = 0x25,
	ISCSI_OP_LOGOUT_RSP = 0x26,
	ISCSI_OP_R2T = 0x31,
	ISCSI_OP_ASYNC = 0x32,
	ISCSI_OP_REJECT = 0x3f,
};

#define ISCSI_OPCODE_MASK 0x3f
#define ISCSI_IMMEDIATE	  0x40

#define ISCSI_FLAG_FINAL 0x80
/* SCSI Command (§11.3) */
#define ISCSI_CMD_READ	    0x40
#define ISCSI_CMD_WRITE	    0x20
#define ISCSI_CMD_ATTR_MASK 0x07
/* Login (§11.12) */
#define ISCSI_LOGIN_TRANSIT  0x80
#define ISCSI_LOGIN_CONTINUE 0x40
/* Text (§11.10) */
#define ISCSI_TEXT_CONTINUE 0x40
/* Residual bits of SCSI Response (§11.4) and Data-In (§11.7) */
#define ISCSI_RESID_BIDI_OVERFLOW  0x10
#define ISCSI_RESID_BIDI_UNDERFLOW 0x08
#define ISCSI_RESID_OVERFLOW	   0x04
#define ISCSI_RESID_UNDERFLOW	   0x02
#define ISCSI_DATAIN_ACK	   0x40
#define ISCSI_DATAIN_STATUS	   0x01

/* AHS types (§11.2.2) */
#define ISCSI_AHS_EXT_CDB	1
#define ISCSI_AHS_BIDI_READ_LEN 2

/* Reject reasons (§11.17.1) */
enum iscsi_reject_reason {
	ISCSI_REJECT_DIGEST_ERROR = 0x02,
	ISCSI_REJECT_SNACK = 0x03,
	ISCSI_REJECT_PROTOCOL_ERROR = 0x04,
	ISCSI_REJECT_CMD_NOT_SUPPORTED = 0x05,
	ISCSI_REJECT_IMMEDIATE_REJECTED = 0x06,
	ISCSI_REJECT_TASK_IN_PROGRESS = 0x07,
	ISCSI_REJECT_INVALID_DATA_ACK = 0x08,
	ISCSI_REJECT_INVALID_PDU_FIELD = 0x09,
	ISCSI_REJECT_OUT_OF_RESOURCES = 0x0a,
	ISCSI_REJECT_WAITING_FOR_LOGOUT = 0x0c,
};

/* Task management functions and responses (§11.5.1, §11.6.1; 9-12 and
 * response 7 from RFC 7144 §4.3-4.4) */
enum iscsi_tmf_function {
	ISCSI_TMF_ABORT_TASK = 1,
	ISCSI_TMF_ABORT_TASK_SET = 2,
	ISCSI_TMF_CLEAR_ACA = 3,
	ISCSI_TMF_CLEAR_TASK_SET = 4,
	ISCSI_TMF_LUN_RESET = 5,
	ISCSI_TMF_TARGET_WARM_RESET = 6,
	ISCSI_TMF_TARGET_COLD_RESET = 7,
	ISCSI_TMF_TASK_REASSIGN = 8,
	ISCSI_TMF_QUERY_TASK = 9,
	ISCSI_TMF_QUERY_TASK_SET = 10,
	ISCSI_TMF_IT_NEXUS_RESET = 11,
	ISCSI_TMF_QUERY_ASYNC_EVENT = 12,
};

enum iscsi_tmf_response {
	ISCSI_TMF_RSP_COMPLETE = 0,
	ISCSI_TMF_RSP_NO_TASK = 1,
	ISCSI_TMF_RSP_NO_LUN = 2,
	ISCSI_TMF_RSP_TASK_ALLEGIANT = 3,
	ISCSI_TMF_RSP_NO_REASSIGN = 4,
	ISCSI_TMF_RSP_NOT_SUPPORTED = 5,
	ISCSI_TMF_RSP_AUTH_FAILED = 6,
	ISCSI_TMF_RSP_SUCCEEDED = 7, /* SAM-5 FUNCTION SUCCEEDED */
	ISCSI_TMF_RSP_REJECTED = 255,
};

/* Logout reasons and responses (§11.14.1, §11.15.1) */
#define ISCSI_LOGOUT_CLOSE_SESSION	 0
#define ISCSI_LOGOUT_CLOSE_CONNECTION	 1
#define ISCSI_LOGOUT_REMOVE_FOR_RECOVERY 2
#define ISCSI_LOGOUT_RSP_OK		 0
#define ISCSI_LOGOUT_RSP_NO_CID		 1
#define ISCSI_LOGOUT_RSP_NO_RECOVERY	 2
#define ISCSI_LOGOUT_RSP_CLEANUP_FAILED	 3

/* Async events (§11.9.1) */
#define ISCSI_ASYNC_LOGOUT_REQUEST 1

/* Common fields, valid for every opcode. */
static inline uint8_t iscsi_bhs_opcode(const uint8_t *bhs)
{
	return bhs[0] & ISCSI_OPCODE_MASK;
}

static inline bool iscsi_bhs_immediate(const uint8_t *bhs)
{
	return (bhs[0] & ISCSI_IMMEDIATE) != 0;
}

static inline uint32_t iscsi_bhs_ahs_len(const uint8_t *bhs)
{
	return (uint32_t)bhs[4] * 4;
}

static inline uint32_t iscsi_bhs_dlen(const uint8_t *bhs)
{
	return get_be24(bhs + 5);
}

static inline uint32_t iscsi_bhs_itt(const uint8_t *bhs)
{
	return get_be32(bhs + 16);
}

/* CmdSN sits at byte 24 of every initiator request that carries one. */
static inline uint32_t iscsi_bhs_cmdsn(const uint8_t *bhs)
{
	return get_be32(bhs + 24);
}

static inline uint32_t iscsi_pad_len(uint32_t len)
{
	return (4 - (len & 3)) & 3;
}

/* Whether an initiator opcode consumes a CmdSN (when not immediate). */
bool iscsi_opcode_has_cmdsn(uint8_t opcode);
const char *iscsi_opcode_name(uint8_t opcode);

/*
 * Checks the lengths a BHS announces before any of them is used: AHS only
 * on a SCSI Command, DataSegmentLength at most max_dlen. Returns 0,
 * -EPROTO (AHS where none may be) or -EMSGSIZE (data segment too long).
 */
int iscsi_bhs_check_lengths(const uint8_t *bhs, uint32_t max_dlen);

/*
 * Bytes that follow the BHS on the wire: AHS, header digest, data segment,
 * padding and data digest.
 */
size_t iscsi_pdu_wire_len(const uint8_t *bhs, bool hdigest, bool ddigest);

/* CRC32C as iSCSI uses it: seed ~0, result inverted (RFC 3720 B.4). */
#define ISCSI_CRC_SEED 0xffffffffu
uint32_t iscsi_crc32c_update(uint32_t state, const void *buf, size_t len);
static inline uint32_t iscsi_crc32c_final(uint32_t state)
{
	return ~state;
}
uint32_t iscsi_crc32c(const void *buf, size_t len);
/* Digests travel least significant byte first. */
void iscsi_digest_put(uint8_t out[ISCSI_DIGEST_LEN], uint32_t crc);
uint32_t iscsi_digest_get(const uint8_t in[ISCSI_DIGEST_LEN]);

/*
 * Parses the AHS of a SCSI Command. The Extended CDB bytes (beyond the 16
 * in the BHS) are copied to ext_cdb (at most ext_cap bytes); a
 * Bidirectional Read Expected Data Transfer Length AHS sets *bidi_len and
 * *has_bidi. Returns 0 or -EINVAL (malformed, duplicate, or a CDB longer
 * than ext_cap allows).
 */
int iscsi_ahs_parse(const uint8_t *ahs, size_t len, uint8_t *ext_cdb,
		    size_t ext_cap, size_t *ext_len, uint32_t *bidi_len,
		    bool *has_bidi);

/* Initiator PDUs, decoded. Each decoder returns 0 or -EINVAL for another
 * opcode. */
struct iscsi_scsi_cmd_hdr {
	bool immediate, final, read, write;
	uint8_t attr;
	uint8_t ahs_words;
	uint32_t dlen;
	uint8_t lun[8];
	uint32_t itt, edtl, cmdsn, exp_statsn;
	uint8_t cdb[16];
};

struct iscsi_data_out_hdr {
	bool final;
	uint32_t dlen;
	uint8_t lun[8];
	uint32_t itt, ttt, exp_statsn, datasn, offset;
};

struct iscsi_nop_out_hdr {
	bool immediate;
	uint32_t dlen;
	uint8_t lun[8];
	uint32_t itt, ttt, cmdsn, exp_statsn;
};

struct iscsi_tmf_req_hdr {
	bool immediate;
	uint8_t function;
	uint8_t lun[8];
	uint32_t itt, rtt, cmdsn, exp_statsn, ref_cmdsn, exp_datasn;
};

struct iscsi_login_req_hdr {
	bool transit, cont;
	uint8_t csg, nsg, version_max, version_min;
	uint32_t dlen;
	uint8_t isid[6];
	uint16_t tsih;
	uint32_t itt;
	uint16_t cid;
	uint32_t cmdsn, exp_statsn;
};

struct iscsi_text_req_hdr {
	bool immediate, final, cont;
	uint32_t dlen;
	uint8_t lun[8];
	uint32_t itt, ttt, cmdsn, exp_statsn;
};

struct iscsi_logout_req_hdr {
	bool immediate;
	uint8_t reason;
	uint32_t itt;
	uint16_t cid;
	uint32_t cmdsn, exp_statsn;
};

int iscsi_scsi_cmd_decode(const uint8_t *bhs, struct iscsi_scsi_cmd_hdr *h);
int iscsi_data_out_decode(const uint8_t *bhs, struct iscsi_data_out_hdr *h);
int iscsi_nop_out_decode(const uint8_t *bhs, struct iscsi_nop_out_hdr *h);
int iscsi_tmf_req_decode(const uint8_t *bhs, struct iscsi_tmf_req_hdr *h);
int iscsi_login_req_decode(const uint8_t *bhs, struct iscsi_login_req_hdr *h);
int iscsi_text_req_decode(const uint8_t *bhs, struct iscsi_text_req_hdr *h);
int iscsi_logout_req_decode(const uint8_t *bhs, struct iscsi_logout_req_hdr *h);

/* The sequence numbers every target response carries. */
struct iscsi_sn {
	uint32_t statsn, exp_cmdsn, max_cmdsn;
};

/* Target PDUs, encoded into a zeroed 48-byte BHS. */
struct iscsi_scsi_rsp_hdr {
	uint8_t resid_flags; /* ISCSI_RESID_* */
	uint8_t response;    /* 0: command completed at target */
	uint8_t status;
	uint32_t dlen;
	uint32_t itt;
	struct iscsi_sn sn;
	uint32_t exp_datasn;
	uint32_t bidi_resid, resid;
};

struct iscsi_data_in_hdr {
	bool final;
	bool has_status; /* S bit: status, StatSN and residual valid */
	uint8_t resid_flags;
	uint8_t status;
	uint32_t dlen;
	uint8_t lun[8];
	uint32_t itt, ttt;
	struct iscsi_sn sn;
	uint32_t datasn, offset, resid;
};

struct iscsi_r2t_hdr {
	uint8_t lun[8];
	uint32_t itt, ttt;
	struct iscsi_sn sn;
	uint32_t r2tsn, offset, desired_len;
};

struct iscsi_nop_in_hdr {
	uint32_t dlen;
	uint8_t lun[8];
	uint32_t itt, ttt;
	struct iscsi_sn sn;
};

struct iscsi_tmf_rsp_hdr {
	uint8_t response;
	/* RFC 7144: bytes 8-10, SAM-5's Additional Response Information
	 * (QUERY ASYNCHRONOUS EVENT); zero otherwise */
	uint8_t add_rsp_info[3];
	uint32_t itt;
	struct iscsi_sn sn;
};

struct iscsi_login_rsp_hdr {
	bool transit, cont;
	uint8_t csg, nsg, version_max, version_active;
	uint32_t dlen;
	uint8_t isid[6];
	uint16_t tsih;
	uint32_t itt;
	struct iscsi_sn sn;
	uint16_t status; /* class << 8 | detail */
};

struct iscsi_text_rsp_hdr {
	bool final, cont;
	uint32_t dlen;
	uint8_t lun[8];
	uint32_t itt, ttt;
	struct iscsi_sn sn;
};

struct iscsi_logout_rsp_hdr {
	uint8_t response;
	uint32_t itt;
	struct iscsi_sn sn;
	uint16_t time2wait, time2retain;
};

struct iscsi_reject_hdr {
	uint8_t reason;
	uint32_t dlen;
	struct iscsi_sn sn;
	uint32_t datasn;
};

struct iscsi_async_hdr {
	uint32_t dlen;
	uint8_t lun[8];
	struct iscsi_sn sn;
	uint8_t event, vcode;
	uint16_t param1, param2, param3;
};

void iscsi_scsi_rsp_encode(uint8_t *bhs, const struct iscsi_scsi_rsp_hdr *h);
void iscsi_data_in_encode(uint8_t *bhs, const struct iscsi_data_in_hdr *h);
void iscsi_r2t_encode(uint8_t *bhs, const struct iscsi_r2t_hdr *h);
void iscsi_nop_in_encode(uint8_t *bhs, const struct iscsi_nop_in_hdr *h);
void iscsi_tmf_rsp_encode(uint8_t *bhs, const struct iscsi_tmf_rsp_hdr *h);
void iscsi_login_rsp_encode(uint8_t *bhs, const struct iscsi_login_rsp_hdr *h);
void iscsi_text_rsp_encode(uint8_t *bhs, const struct iscsi_text_rsp_hdr *h);
void iscsi_logout_rsp_encode(uint8_t *bhs,
			     const struct iscsi_logout_rsp_hdr *h);
void iscsi_reject_encode(uint8_t *bhs, const struct iscsi_reject_hdr *h);
void iscsi_async_encode(uint8_t *bhs, const struct iscsi_async_hdr *h);

#endif
