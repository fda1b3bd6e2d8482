/*
 * Unit tests of the iSNSP codec in src/iscsi/isns_pdu.c through isns.h: the
 * header and TLV layout a DevAttrReg gets (RFC 4171 §5.1, §5.5: strings
 * NUL-terminated and padded to 4 bytes, lengths that count the padding),
 * the round trip through isns_pdu_parse and isns_tlv_next, and what a
 * malformed or truncated server answer gives (never a read past the
 * buffer: run under SANITIZE=1); and the discovery domain cache of
 * isns_dd.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event/reactor.h"
#include "iscsi/isns.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void test_header_layout(void **state)
{
	struct isns_buf b;

	isns_buf_start(&b, ISNS_FUNC_DEV_ATTR_REG,
		       ISNS_FLAG_CLIENT | ISNS_FLAG_FIRST | ISNS_FLAG_LAST |
			   ISNS_FLAG_REPLACE,
		       0x1234);
	isns_buf_put_u32(&b, ISNS_TAG_ENTITY_PROTOCOL,
			 ISNS_ENTITY_PROTOCOL_ISCSI);
	assert_int_equal(isns_buf_finish(&b), 0);
	assert_int_equal(b.len, ISNS_HDR_LEN + 12);
	assert_int_equal(be16(b.data), 1);	/* version */
	assert_int_equal(be16(b.data + 2), 1);	/* DevAttrReg */
	assert_int_equal(be16(b.data + 4), 12); /* payload */
	assert_int_equal(be16(b.data + 6), 0x8000 | 0x0400 | 0x0800 | 0x1000);
	assert_int_equal(be16(b.data + 8), 0x1234); /* xid */
	assert_int_equal(be16(b.data + 10), 0);	    /* seq */
	assert_int_equal(be32(b.data + 12), 2);	    /* tag */
	assert_int_equal(be32(b.data + 16), 4);	    /* length */
	assert_int_equal(be32(b.data + 20), 2);	    /* iSCSI */
	isns_buf_free(&b);
}

static void test_string_padding(void **state)
{
	/* lengths 0..8 of text: NUL + padding to a multiple of 4 */
	static const char *const s[] = {"",    "a",    "ab",
					"abc", "abcd", "abcdefgh"};
	static const uint32_t want[] = {4, 4, 4, 4, 8, 12};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		struct isns_buf b;

		isns_buf_start(&b, ISNS_FUNC_DEV_ATTR_REG, 0, 1);
		isns_buf_put_str(&b, ISNS_TAG_ISCSI_NAME, s[i]);
		assert_int_equal(isns_buf_finish(&b), 0);
		assert_int_equal(be32(b.data + 16), want[i]);
		assert_int_equal(b.len, ISNS_HDR_LEN + 8 + want[i]);
		assert_memory_equal(b.data + 20, s[i], strlen(s[i]));
		for (size_t j = strlen(s[i]); j < want[i]; j++)
			assert_int_equal(b.data[20 + j], 0);
		isns_buf_free(&b);
	}
}

static void test_round_trip(void **state)
{
	static const uint8_t ip[16] = {0, 0, 0,	   0,	 0,   0, 0, 0,
				       0, 0, 0xff, 0xff, 127, 0, 0, 1};
	struct isns_buf b;
	struct isns_pdu pdu;
	struct isns_tlv tlv;
	size_t off = 0;

	isns_buf_start(&b, ISNS_FUNC_DEV_ATTR_REG, ISNS_FLAG_CLIENT, 7);
	isns_buf_put_str(&b, ISNS_TAG_ISCSI_NAME, "iqn.2026-12.org.lunar:t");
	isns_buf_put_str(&b, ISNS_TAG_ENTITY_ID, "lunar:host");
	isns_buf_put(&b, ISNS_TAG_DELIMITER, NULL, 0);
	isns_buf_put(&b, ISNS_TAG_PORTAL_IP, ip, 16);
	isns_buf_put_u32(&b, ISNS_TAG_PORTAL_PORT, 3260);
	assert_int_equal(isns_buf_finish(&b), 0);

	assert_int_equal(isns_pdu_parse(b.data, b.len, &pdu), 0);
	assert_int_equal(pdu.function, ISNS_FUNC_DEV_ATTR_REG);
	assert_int_equal(pdu.xid, 7);
	assert_int_equal(ISNS_HDR_LEN + pdu.length, b.len);

	assert_int_equal(isns_tlv_next(pdu.payload, pdu.length, &off, &tlv), 1);
	assert_int_equal(tlv.tag, ISNS_TAG_ISCSI_NAME);
	assert_string_equal((const char *)tlv.value, "iqn.2026-12.org.lunar:t");
	assert_int_equal(isns_tlv_next(pdu.payload, pdu.length, &off, &tlv), 1);
	assert_int_equal(tlv.tag, ISNS_TAG_ENTITY_ID);
	assert_string_equal((const char *)tlv.value, "lunar:host");
	assert_int_equal(isns_tlv_next(pdu.payload, pdu.length, &off, &tlv), 1);
	assert_int_equal(tlv.tag, ISNS_TAG_DELIMITER);
	assert_int_equal(tlv.len, 0);
	assert_int_equal(isns_tlv_next(pdu.payload, pdu.length, &off, &tlv), 1);
	assert_int_equal(tlv.tag, ISNS_TAG_PORTAL_IP);
	assert_memory_equal(tlv.value, ip, 16);
	assert_int_equal(isns_tlv_next(pdu.payload, pdu.length, &off, &tlv), 1);
	assert_int_equal(tlv.tag, ISNS_TAG_PORTAL_PORT);
	assert_int_equal(be32(tlv.value), 3260);
	assert_int_equal(isns_tlv_next(pdu.payload, pdu.length, &off, &tlv), 0);
	isns_buf_free(&b);
}

/* A response as a server sends it: header, status, attributes. */
static size_t make_rsp(uint8_t *buf, uint16_t func, uint16_t len,
		       uint32_t status)
{
	memset(buf, 0, ISNS_HDR_LEN + 4);
	buf[1] = 1;
	buf[2] = (uint8_t)(func >> 8);
	buf[3] = (uint8_t)func;
	buf[4] = (uint8_t)(len >> 8);
	buf[5] = (uint8_t)len;
	buf[6] = 0x4c; /* server, first, last */
	buf[15] = (uint8_t)status;
	return ISNS_HDR_LEN + len;
}

static void test_parse_truncated(void **state)
{
	uint8_t buf[64];
	struct isns_pdu pdu;
	uint32_t status;
	size_t n = make_rsp(buf, 0x8001, 4, 9);

	for (size_t i = 0; i < n; i++)
		assert_int_equal(isns_pdu_parse(buf, i, &pdu), -EAGAIN);
	assert_int_equal(isns_pdu_parse(NULL, 0, &pdu), -EAGAIN);
	assert_int_equal(isns_pdu_parse(buf, n, &pdu), 0);
	assert_int_equal(isns_rsp_status(&pdu, &status), 0);
	assert_int_equal(status, 9);
	assert_string_equal(isns_status_name(status), "no such entry");
	assert_string_equal(isns_status_name(0xffffffffu), "unknown status");

	/* a response without room for the status */
	n = make_rsp(buf, 0x8001, 0, 0);
	assert_int_equal(isns_pdu_parse(buf, n, &pdu), 0);
	assert_int_equal(isns_rsp_status(&pdu, &status), -EPROTO);
}

static void test_parse_malformed_header(void **state)
{
	uint8_t buf[64];
	struct isns_pdu pdu;

	make_rsp(buf, 0x8001, 4, 0);
	buf[1] = 2; /* version 2 */
	assert_int_equal(isns_pdu_parse(buf, 16, &pdu), -EPROTO);
	make_rsp(buf, 0x8001, 6, 0); /* not a multiple of 4 */
	assert_int_equal(isns_pdu_parse(buf, 64, &pdu), -EPROTO);
	/* a length far beyond the bytes present just waits for them */
	make_rsp(buf, 0x8001, 0xfffc, 0);
	assert_int_equal(isns_pdu_parse(buf, 64, &pdu), -EAGAIN);
}

static void test_tlv_malformed(void **state)
{
	uint8_t p[32] = {0};
	struct isns_tlv tlv;
	size_t off;

	/* fewer than 8 bytes left */
	off = 0;
	assert_int_equal(isns_tlv_next(p, 4, &off, &tlv), -EPROTO);
	/* a length past the end */
	p[7] = 12;
	off = 0;
	assert_int_equal(isns_tlv_next(p, 16, &off, &tlv), -EPROTO);
	assert_int_equal(off, 0);
	/* a length that would wrap size_t arithmetic */
	p[4] = p[5] = p[6] = 0xff;
	p[7] = 0xfc;
	off = 0;
	assert_int_equal(isns_tlv_next(p, 32, &off, &tlv), -EPROTO);
	/* a length not a multiple of 4 */
	memset(p, 0, sizeof(p));
	p[7] = 3;
	off = 0;
	assert_int_equal(isns_tlv_next(p, 32, &off, &tlv), -EPROTO);
	/* exactly filling the buffer is fine, and then the end */
	p[7] = 24;
	off = 0;
	assert_int_equal(isns_tlv_next(p, 32, &off, &tlv), 1);
	assert_int_equal(off, 32);
	assert_int_equal(isns_tlv_next(p, 32, &off, &tlv), 0);
}

static void test_too_big(void **state)
{
	static char big[70000];
	struct isns_buf b;

	memset(big, 'x', sizeof(big) - 1);
	isns_buf_start(&b, ISNS_FUNC_DEV_ATTR_REG, 0, 1);
	isns_buf_put_str(&b, ISNS_TAG_ISCSI_ALIAS, big);
	assert_int_equal(isns_buf_finish(&b), -EMSGSIZE);
	isns_buf_free(&b);

	/* many small attributes overflow the 16-bit PDU length too */
	isns_buf_start(&b, ISNS_FUNC_DEV_ATTR_REG, 0, 1);
	for (int i = 0; i < 6000; i++)
		isns_buf_put_u32(&b, ISNS_TAG_PORTAL_PORT, 3260);
	assert_int_equal(isns_buf_finish(&b), -EMSGSIZE);
	isns_buf_free(&b);
}

/* Random bytes through the parser and the attribute walk: every result
 * is a return code, never a read outside the buffer. */
static void test_random_input(void **state)
{
	uint32_t seed = 12345;

	for (int round = 0; round < 20000; round++) {
		size_t len = (seed = seed * 1103515245 + 12345) % 96;
		uint8_t *buf = malloc(len ? len : 1);
		struct isns_pdu pdu;

		for (size_t i = 0; i < len; i++)
			buf[i] =
			    (uint8_t)((seed = seed * 1103515245 + 12345) >> 16);
		if (len >= 2 && round % 2) {
			buf[0] = 0;
			buf[1] = 1;
		}
		if (len >= 6 && round % 3 == 0) {
			buf[4] = 0;
			buf[5] = (uint8_t)((len - ISNS_HDR_LEN) & ~3u);
		}
		if (isns_pdu_parse(buf, len, &pdu) == 0) {
			struct isns_tlv tlv;
			size_t off = 0;
			uint32_t st;
			int r;

			(void)isns_rsp_status(&pdu, &st);
			while ((r = isns_tlv_next(pdu.payload, pdu.length, &off,
						  &tlv)) == 1)
				assert_true(tlv.value + tlv.len <=
					    pdu.payload + pdu.length);
			assert_true(r == 0 || r == -EPROTO);
		}
		free(buf);
	}
}

static void dd_resumed(void *arg)
{
	int *count = arg;

	(*count)++;
}

static void dd_stop(void *arg)
{
	reactor_stop(arg);
}

/* The discovery domain cache (isns_dd.c) as text.c and isns.c use it:
 * unknown, asked for once, answered; a failure means "fall back"; the
 * waiters run on their reactor. */
static void test_dd_cache(void **state)
{
	const char *ia = "iqn.2026-12.org.test:a",
		   *ib = "iqn.2026-12.org.test:b";
	const char *tx = "iqn.2026-12.org.lunar:x",
		   *ty = "iqn.2026-12.org.lunar:y";
	char(*names)[SCSI_NAME_MAX] = calloc(1, sizeof(*names));
	char pending[SCSI_NAME_MAX];
	struct reactor *r;
	int resumed = 0;

	assert_non_null(names);
	assert_int_equal(reactor_create(&r, "test"), 0);
	isns_dd_enable(r);
	assert_true(isns_dd_enabled());
	assert_int_equal(isns_dd_check(ia, tx), -ENOENT);
	assert_int_equal(isns_dd_fetch(ia, r, dd_resumed, &resumed), 0);
	assert_int_equal(isns_dd_fetch(ia, r, dd_resumed, &resumed), 0);
	assert_int_equal(isns_dd_fetch(ib, r, dd_resumed, &resumed), 0);
	/* one query per initiator, however many wait */
	assert_true(isns_dd_pending(pending, sizeof(pending)));
	assert_true(isns_dd_pending(pending, sizeof(pending)));
	assert_false(isns_dd_pending(pending, sizeof(pending)));

	snprintf(names[0], sizeof(names[0]), "%s", tx);
	isns_dd_done(ia, names, 1, true);
	isns_dd_done(ib, NULL, 0, false);
	assert_int_equal(isns_dd_check(ia, tx), 1);
	assert_int_equal(isns_dd_check(ia, ty), 0);
	assert_int_equal(isns_dd_check(ib, tx), -ENOTCONN);
	/* an answer for an initiator nobody asked about is dropped */
	isns_dd_done("iqn.2026-12.org.test:nobody", NULL, 0, true);
	assert_int_equal(isns_dd_check("iqn.2026-12.org.test:nobody", tx),
			 -ENOENT);

	/* the three waiters run on r */
	assert_int_equal(reactor_post(r, dd_stop, r), 0);
	assert_int_equal(reactor_run(r), 0);
	assert_int_equal(resumed, 3);
	isns_dd_exit();
	assert_false(isns_dd_enabled());
	reactor_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_layout),
	    cmocka_unit_test(test_string_padding),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_parse_truncated),
	    cmocka_unit_test(test_parse_malformed_header),
	    cmocka_unit_test(test_tlv_malformed),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_random_input),
	    cmocka_unit_test(test_dd_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
