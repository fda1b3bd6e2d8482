/*
 * iSCSI PDU codec: decoding of the initiator's Basic Header Segments and
 * encoding of the target's (RFC 7143 §11.3-11.17, field offsets as in the
 * RFC's figures), AHS parsing (§11.2.2), length checks (§11.2.1) and the
 * CRC32C header/data digests (§11.2.3; ISA-L, seeded and inverted so that
 * the RFC 3720 Appendix B.4 vectors hold).
 */
#include "iscsi/pdu.h"

#include <errno.h>
#include <isa-l/crc.h>
#include <limits.h>
#include <string.h>

bool iscsi_opcode_has_cmdsn(uint8_t opcode)
{
	switch (opcode) {
	case ISCSI_OP_NOP_OUT:
	case ISCSI_OP_SCSI_CMD:
	case ISCSI_OP_TMF_REQ:
	case ISCSI_OP_TEXT_REQ:
	case ISCSI_OP_LOGOUT_REQ:
		return true;
	default:
		return false;
	}
}

const char *iscsi_opcode_name(uint8_t opcode)
{
	switch (opcode) {
	case ISCSI_OP_NOP_OUT:
		return "NOP-Out";
	case ISCSI_OP_SCSI_CMD:
		return "SCSI Command";
	case ISCSI_OP_TMF_REQ:
		return "Task Management Request";
	case ISCSI_OP_LOGIN_REQ:
		return "Login Request";
	case ISCSI_OP_TEXT_REQ:
		return "Text Request";
	case ISCSI_OP_DATA_OUT:
		return "Data-Out";
	case ISCSI_OP_LOGOUT_REQ:
		return "Logout Request";
	case ISCSI_OP_SNACK:
		return "SNACK";
	case ISCSI_OP_NOP_IN:
		return "NOP-In";
	case ISCSI_OP_SCSI_RSP:
		return "SCSI Response";
	case ISCSI_OP_TMF_RSP:
		return "Task Management Response";
	case ISCSI_OP_LOGIN_RSP:
		return "Login Response";
	case ISCSI_OP_TEXT_RSP:
		return "Text Response";
	case ISCSI_OP_DATA_IN:
		return "Data-In";
	case ISCSI_OP_LOGOUT_RSP:
		return "Logout Response";
	case ISCSI_OP_R2T:
		return "R2T";
	case ISCSI_OP_ASYNC:
		return "Async Message";
	case ISCSI_OP_REJECT:
		return "Reject";
	default:
		return "unknown opcode";
	}
}

int iscsi_bhs_check_lengths(const uint8_t *bhs, uint32_t max_dlen)
{
	if (iscsi_bhs_ahs_len(bhs) &&
	    iscsi_bhs_opcode(bhs) != ISCSI_OP_SCSI_CMD)
		return -EPROTO;
	if (iscsi_bhs_dlen(bhs) > max_dlen)
		return -EMSGSIZE;
	return 0;
}

size_t iscsi_pdu_wire_len(const uint8_t *bhs, bool hdigest, bool ddigest)
{
	uint32_t dlen = iscsi_bhs_dlen(bhs);
	size_t n = iscsi_bhs_ahs_len(bhs);

	if (hdigest)
		n += ISCSI_DIGEST_LEN;
	if (dlen) {
		n += dlen + iscsi_pad_len(dlen);
		if (ddigest)
			n += ISCSI_DIGEST_LEN;
	}
	return n;
}

uint32_t iscsi_crc32c_update(uint32_t state, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* crc32_iscsi takes an int length: feed huge buffers in pieces. */
	while (len) {
		size_t n = len > INT_MAX ? (size_t)INT_MAX : len;

		state = crc32_iscsi((unsigned char *)p, (int)n, state);
		p += n;
		len -= n;
	}
	return state;
}

uint32_t iscsi_crc32c(const void *buf, size_t len)
{
	return iscsi_crc32c_final(
	    iscsi_crc32c_update(ISCSI_CRC_SEED, buf, len));
}

void iscsi_digest_put(uint8_t out[ISCSI_DIGEST_LEN], uint32_t crc)
{
	out[0] = (uint8_t)crc;
	out[1] = (uint8_t)(crc >> 8);
	out[2] = (uint8_t)(crc >> 16);
	out[3] = (uint8_t)(crc >> 24);
}

uint32_t iscsi_digest_get(const uint8_t in[ISCSI_DIGEST_LEN])
{
	return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 |
	       (uint32_t)in[3] << 24;
}

int iscsi_ahs_parse(const uint8_t *ahs, size_t len, uint8_t *ext_cdb,
		    size_t ext_cap, size_t *ext_len, uint32_t *bidi_len,
		    bool *has_bidi)
{
	bool have_ext = false;
	size_t pos = 0;

	*ext_len = 0;
	*has_bidi = false;
	*bidi_len = 0;
	while (pos < len) {
		size_t alen, total;
		uint8_t type;

		if (len - pos < 4)
			return -EINVAL;
		alen = get_be16(ahs + pos);
		type = ahs[pos + 2];
		total = 3 + alen;
		total += iscsi_pad_len((uint32_t)total);
		if (alen == 0 || total > len - pos)
			return -EINVAL;
		switch (type) {
		case ISCSI_AHS_EXT_CDB:
			/* byte 3 is reserved; the CDB continues after it */
			if (have_ext || alen - 1 > ext_cap)
				return -EINVAL;
			memcpy(ext_cdb, ahs + pos + 4, alen - 1);
			*ext_len = alen - 1;
			have_ext = true;
			break;
		case ISCSI_AHS_BIDI_READ_LEN:
			if (*has_bidi || alen != 5)
				return -EINVAL;
			*bidi_len = get_be32(ahs + pos + 4);
			*has_bidi = true;
			break;
		default:
			return -EINVAL;
		}
		pos += total;
	}
	return 0;
}

int iscsi_scsi_cmd_decode(const uint8_t *b, struct iscsi_scsi_cmd_hdr *h)
{
	if (iscsi_bhs_opcode(b) != ISCSI_OP_SCSI_CMD)
		return -EINVAL;
	h->immediate = iscsi_bhs_immediate(b);
	h->final = b[1] & ISCSI_FLAG_FINAL;
	h->read = b[1] & ISCSI_CMD_READ;
	h->write = b[1] & ISCSI_CMD_WRITE;
	h->attr = b[1] & ISCSI_CMD_ATTR_MASK;
	h->ahs_words = b[4];
	h->dlen = iscsi_bhs_dlen(b);
	memcpy(h->lun, b + 8, 8);
	h->itt = get_be32(b + 16);
	h->edtl = get_be32(b + 20);
	h->cmdsn = get_be32(b + 24);
	h->exp_statsn = get_be32(b + 28);
	memcpy(h->cdb, b + 32, 16);
	return 0;
}

int iscsi_data_out_decode(const uint8_t *b, struct iscsi_data_out_hdr *h)
{
	if (iscsi_bhs_opcode(b) != ISCSI_OP_DATA_OUT)
		return -EINVAL;
	h->final = b[1] & ISCSI_FLAG_FINAL;
	h->dlen = iscsi_bhs_dlen(b);
	memcpy(h->lun, b + 8, 8);
	h->itt = get_be32(b + 16);
	h->ttt = get_be32(b + 20);
	h->exp_statsn = get_be32(b + 28);
	h->datasn = get_be32(b + 36);
	h->offset = get_be32(b + 40);
	return 0;
}

int iscsi_nop_out_decode(const uint8_t *b, struct iscsi_nop_out_hdr *h)
{
	if (iscsi_bhs_opcode(b) != ISCSI_OP_NOP_OUT)
		return -EINVAL;
	h->immediate = iscsi_bhs_immediate(b);
	h->dlen = iscsi_bhs_dlen(b);
	memcpy(h->lun, b + 8, 8);
	h->itt = get_be32(b + 16);
	h->ttt = get_be32(b + 20);
	h->cmdsn = get_be32(b + 24);
	h->exp_statsn = get_be32(b + 28);
	return 0;
}

int iscsi_tmf_req_decode(const uint8_t *b, struct iscsi_tmf_req_hdr *h)
{
	if (iscsi_bhs_opcode(b) != ISCSI_OP_TMF_REQ)
		return -EINVAL;
	h->immediate = iscsi_bhs_immediate(b);
	h->function = b[1] & 0x7f;
	memcpy(h->lun, b + 8, 8);
	h->itt = get_be32(b + 16);
	h->rtt = get_be32(b + 20);
	h->cmdsn = get_be32(b + 24);
	h->exp_statsn = get_be32(b + 28);
	h->ref_cmdsn = get_be32(b + 32);
	h->exp_datasn = get_be32(b + 36);
	return 0;
}

int iscsi_login_req_decode(const uint8_t *b, struct iscsi_login_req_hdr *h)
{
	if (iscsi_bhs_opcode(b) != ISCSI_OP_LOGIN_REQ)
		return -EINVAL;
	h->transit = b[1] & ISCSI_LOGIN_TRANSIT;
	h->cont = b[1] & ISCSI_LOGIN_CONTINUE;
	h->csg = (b[1] >> 2) & 3;
	h->nsg = b[1] & 3;
	h->version_max = b[2];
	h->version_min = b[3];
	h->dlen = iscsi_bhs_dlen(b);
	memcpy(h->isid, b + 8, 6);
	h->tsih = get_be16(b + 14);
	h->itt = get_be32(b + 16);
	h->cid = get_be16(b + 20);
	h->cmdsn = get_be32(b + 24);
	h->exp_statsn = get_be32(b + 28);
	return 0;
}

int iscsi_text_req_decode(const uint8_t *b, struct iscsi_text_req_hdr *h)
{
	if (iscsi_bhs_opcode(b) != ISCSI_OP_TEXT_REQ)
		return -EINVAL;
	h->immediate = iscsi_bhs_immediate(b);
	h->final = b[1] & ISCSI_FLAG_FINAL;
	h->cont = b[1] & ISCSI_TEXT_CONTINUE;
	h->dlen = iscsi_bhs_dlen(b);
	memcpy(h->lun, b + 8, 8);
	h->itt = get_be32(b + 16);
	h->ttt = get_be32(b + 20);
	h->cmdsn = get_be32(b + 24);
	h->exp_statsn = get_be32(b + 28);
	return 0;
}

int iscsi_logout_req_decode(const uint8_t *b, struct iscsi_logout_req_hdr *h)
{
	if (iscsi_bhs_opcode(b) != ISCSI_OP_LOGOUT_REQ)
		return -EINVAL;
	h->immediate = iscsi_bhs_immediate(b);
	h->reason = b[1] & 0x7f;
	h->itt = get_be32(b + 16);
	h->cid = get_be16(b + 20);
	h->cmdsn = get_be32(b + 24);
	h->exp_statsn = get_be32(b + 28);
	return 0;
}

static void bhs_start(uint8_t *b, uint8_t opcode, uint8_t flags, uint32_t dlen)
{
	memset(b, 0, ISCSI_BHS_LEN);
	b[0] = opcode;
	b[1] = flags;
	put_be24(b + 5, dlen);
}

static void bhs_put_sn(uint8_t *b, const struct iscsi_sn *sn)
{
	put_be32(b + 24, sn->statsn);
	put_be32(b + 28, sn->exp_cmdsn);
	put_be32(b + 32, sn->max_cmdsn);
}

void iscsi_scsi_rsp_encode(uint8_t *b, const struct iscsi_scsi_rsp_hdr *h)
{
	bhs_start(b, ISCSI_OP_SCSI_RSP,
		  ISCSI_FLAG_FINAL | (h->resid_flags & 0x1e), h->dlen);
	b[2] = h->response;
	b[3] = h->status;
	put_be32(b + 16, h->itt);
	bhs_put_sn(b, &h->sn);
	put_be32(b + 36, h->exp_datasn);
	put_be32(b + 40, h->bidi_resid);
	put_be32(b + 44, h->resid);
}

void iscsi_data_in_encode(uint8_t *b, const struct iscsi_data_in_hdr *h)
{
	uint8_t flags = 0;

	if (h->final)
		flags |= ISCSI_FLAG_FINAL;
	if (h->has_status)
		flags |= ISCSI_DATAIN_STATUS |
			 (h->resid_flags &
			  (ISCSI_RESID_OVERFLOW | ISCSI_RESID_UNDERFLOW));
	bhs_start(b, ISCSI_OP_DATA_IN, flags, h->dlen);
	if (h->has_status)
		b[3] = h->status;
	memcpy(b + 8, h->lun, 8);
	put_be32(b + 16, h->itt);
	put_be32(b + 20, h->ttt);
	bhs_put_sn(b, &h->sn);
	if (!h->has_status)
		put_be32(b + 24, 0); /* StatSN is reserved without S */
	put_be32(b + 36, h->datasn);
	put_be32(b + 40, h->offset);
	if (h->has_status)
		put_be32(b + 44, h->resid);
}

void iscsi_r2t_encode(uint8_t *b, const struct iscsi_r2t_hdr *h)
{
	bhs_start(b, ISCSI_OP_R2T, ISCSI_FLAG_FINAL, 0);
	memcpy(b + 8, h->lun, 8);
	put_be32(b + 16, h->itt);
	put_be32(b + 20, h->ttt);
	bhs_put_sn(b, &h->sn);
	put_be32(b + 36, h->r2tsn);
	put_be32(b + 40, h->offset);
	put_be32(b + 44, h->desired_len);
}

void iscsi_nop_in_encode(uint8_t *b, const struct iscsi_nop_in_hdr *h)
{
	bhs_start(b, ISCSI_OP_NOP_IN, ISCSI_FLAG_FINAL, h->dlen);
	memcpy(b + 8, h->lun, 8);
	put_be32(b + 16, h->itt);
	put_be32(b + 20, h->ttt);
	bhs_put_sn(b, &h->sn);
}

void iscsi_tmf_rsp_encode(uint8_t *b, const struct iscsi_tmf_rsp_hdr *h)
{
	bhs_start(b, ISCSI_OP_TMF_RSP, ISCSI_FLAG_FINAL, 0);
	b[2] = h->response;
	memcpy(b + 8, h->add_rsp_info, 3);
	put_be32(b + 16, h->itt);
	bhs_put_sn(b, &h->sn);
}

void iscsi_login_rsp_encode(uint8_t *b, const struct iscsi_login_rsp_hdr *h)
{
	uint8_t flags = (uint8_t)((h->csg & 3) << 2 | (h->nsg & 3));

	if (h->transit)
		flags |= ISCSI_LOGIN_TRANSIT;
	if (h->cont)
		flags |= ISCSI_LOGIN_CONTINUE;
	bhs_start(b, ISCSI_OP_LOGIN_RSP, flags, h->dlen);
	b[2] = h->version_max;
	b[3] = h->version_active;
	memcpy(b + 8, h->isid, 6);
	put_be16(b + 14, h->tsih);
	put_be32(b + 16, h->itt);
	bhs_put_sn(b, &h->sn);
	b[36] = (uint8_t)(h->status >> 8);
	b[37] = (uint8_t)h->status;
}

void iscsi_text_rsp_encode(uint8_t *b, const struct iscsi_text_rsp_hdr *h)
{
	uint8_t flags = 0;

	if (h->final)
		flags |= ISCSI_FLAG_FINAL;
	if (h->cont)
		flags |= ISCSI_TEXT_CONTINUE;
	bhs_start(b, ISCSI_OP_TEXT_RSP, flags, h->dlen);
	memcpy(b + 8, h->lun, 8);
	put_be32(b + 16, h->itt);
	put_be32(b + 20, h->ttt);
	bhs_put_sn(b, &h->sn);
}

void iscsi_logout_rsp_encode(uint8_t *b, const struct iscsi_logout_rsp_hdr *h)
{
	bhs_start(b, ISCSI_OP_LOGOUT_RSP, ISCSI_FLAG_FINAL, 0);
	b[2] = h->response;
	put_be32(b + 16, h->itt);
	bhs_put_sn(b, &h->sn);
	put_be16(b + 40, h->time2wait);
	put_be16(b + 42, h->time2retain);
}

void iscsi_reject_encode(uint8_t *b, const struct iscsi_reject_hdr *h)
{
	bhs_start(b, ISCSI_OP_REJECT, ISCSI_FLAG_FINAL, h->dlen);
	b[2] = h->reason;
	put_be32(b + 16, ISCSI_RSVD_TAG);
	bhs_put_sn(b, &h->sn);
	put_be32(b + 36, h->datasn);
}

void iscsi_async_encode(uint8_t *b, const struct iscsi_async_hdr *h)
{
	bhs_start(b, ISCSI_OP_ASYNC, ISCSI_FLAG_FINAL, h->dlen);
	memcpy(b + 8, h->lun, 8);
	put_be32(b + 16, ISCSI_RSVD_TAG);
	bhs_put_sn(b, &h->sn);
	b[36] = h->event;
	b[37] = h->vcode;
	put_be16(b + 38, h->param1);
	put_be16(b + 40, h->param2);
	put_be16(b + 42, h->param3);
}
