/*
 * The iSNSP codec (RFC 4171 §5.1 header and flags, §5.3 payload of TLV
 * attributes: strings NUL-terminated and padded to 4 bytes, §5.4 status
 * codes, §5.7.1 a response's status): building PDUs into a growable buffer
 * capped at the 16-bit PDU Length, and parsing what a server sends as pure
 * functions that check every length against the bytes present (unit-tested and
 * fit for a fuzzer: no state, no allocation).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/isns.h"
#include "util/bytes.h"

int isns_pdu_parse(const uint8_t *buf, size_t len, struct isns_pdu *pdu)
{
	if (!buf || len < ISNS_HDR_LEN)
		return -EAGAIN;
	pdu->version = get_be16(buf);
	pdu->function = get_be16(buf + 2);
	pdu->length = get_be16(buf + 4);
	pdu->flags = get_be16(buf + 6);
	pdu->xid = get_be16(buf + 8);
	pdu->seq = get_be16(buf + 10);
	pdu->payload = buf + ISNS_HDR_LEN;
	if (pdu->version != 1 || pdu->length % 4)
		return -EPROTO;
	if (len - ISNS_HDR_LEN < pdu->length)
		return -EAGAIN;
	return 0;
}

int isns_tlv_next(const uint8_t *p, size_t len, size_t *off,
		  struct isns_tlv *tlv)
{
	size_t left;

	if (*off >= len)
		return 0;
	left = len - *off;
	if (left < 8)
		return -EPROTO;
	tlv->tag = get_be32(p + *off);
	tlv->len = get_be32(p + *off + 4);
	if (tlv->len % 4 || tlv->len > left - 8)
		return -EPROTO;
	tlv->value = p + *off + 8;
	*off += 8 + (size_t)tlv->len;
	return 1;
}

int isns_rsp_status(const struct isns_pdu *pdu, uint32_t *status)
{
	if (pdu->length < 4)
		return -EPROTO;
	*status = get_be32(pdu->payload);
	return 0;
}

const char *isns_status_name(uint32_t status)
{
	static const char *const names[] = {
	    "successful",
	    "unknown error",
	    "message format error",
	    "invalid registration",
	    "reserved",
	    "invalid query",
	    "source unknown",
	    "source absent",
	    "source unauthorized",
	    "no such entry",
	    "version not supported",
	    "internal error",
	    "busy",
	    "option not understood",
	    "invalid update",
	    "message not supported",
	    "SCN event rejected",
	    "SCN registration rejected",
	    "attribute not implemented",
	    "FC domain ID not available",
	    "FC domain ID not allocated",
	    "ESI not available",
	    "invalid deregistration",
	    "registration feature not supported",
	};

	if (status < sizeof(names) / sizeof(names[0]))
		return names[status];
	return "unknown status";
}

static void isns_buf_reserve(struct isns_buf *b, size_t more)
{
	size_t cap;
	uint8_t *p;

	if (b->err)
		return;
	if (b->len + more > ISNS_HDR_LEN + (size_t)ISNS_PAYLOAD_MAX) {
		b->err = -EMSGSIZE;
		return;
	}
	if (b->len + more <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->err = -ENOMEM;
		return;
	}
	b->data = p;
	b->cap = cap;
}

void isns_buf_start(struct isns_buf *b, uint16_t function, uint16_t flags,
		    uint16_t xid)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->err = 0;
	isns_buf_reserve(b, ISNS_HDR_LEN);
	if (b->err)
		return;
	put_be16(b->data, 1);
	put_be16(b->data + 2, function);
	put_be16(b->data + 4, 0);
	put_be16(b->data + 6, flags);
	put_be16(b->data + 8, xid);
	put_be16(b->data + 10, 0);
	b->len = ISNS_HDR_LEN;
}

void isns_buf_put(struct isns_buf *b, uint32_t tag, const void *v, uint32_t len)
{
	uint32_t padded = (len + 3) & ~3u;

	if (len > ISNS_PAYLOAD_MAX) {
		if (!b->err)
			b->err = -EMSGSIZE;
		return;
	}
	isns_buf_reserve(b, 8 + (size_t)padded);
	if (b->err)
		return;
	put_be32(b->data + b->len, tag);
	put_be32(b->data + b->len + 4, padded);
	if (len)
		memcpy(b->data + b->len + 8, v, len);
	memset(b->data + b->len + 8 + len, 0, padded - len);
	b->len += 8 + (size_t)padded;
}

void isns_buf_put_str(struct isns_buf *b, uint32_t tag, const char *s)
{
	size_t n = strlen(s) + 1;

	isns_buf_put(b, tag, s,
		     n > ISNS_PAYLOAD_MAX ? ISNS_PAYLOAD_MAX + 1 : (uint32_t)n);
}

void isns_buf_put_u32(struct isns_buf *b, uint32_t tag, uint32_t v)
{
	uint8_t be[4];

	put_be32(be, v);
	isns_buf_put(b, tag, be, 4);
}

int isns_buf_finish(struct isns_buf *b)
{
	if (b->err)
		return b->err;
	put_be16(b->data + 4, (uint16_t)(b->len - ISNS_HDR_LEN));
	return 0;
}

void isns_buf_free(struct isns_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
