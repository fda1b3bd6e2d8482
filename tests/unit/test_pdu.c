/*
 * Unit tests of the iSCSI PDU codec (src/iscsi/pdu.c): CRC32C digests
 * against RFC 3720 Appendix B.4, padding and wire lengths, the length
 * checks made before any length is used, AHS parsing, and every BHS the
 * target decodes or encodes, checked against byte images built here from
 * the RFC 7143 §11 figures (an independent codec, so the round trips
 * compare two implementations).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "iscsi/param.h"
#include "iscsi/pdu.h"

/* ---- a second, byte-level view of the RFC 7143 figures ---- */

static void bhs_init(uint8_t *b, uint8_t op, uint8_t flags, uint32_t dlen)
{
	memset(b, 0, ISCSI_BHS_LEN);
	b[0] = op;
	b[1] = flags;
	b[5] = (uint8_t)(dlen >> 16);
	b[6] = (uint8_t)(dlen >> 8);
	b[7] = (uint8_t)dlen;
}

static void w32(uint8_t *b, size_t off, uint32_t v)
{
	b[off] = (uint8_t)(v >> 24);
	b[off + 1] = (uint8_t)(v >> 16);
	b[off + 2] = (uint8_t)(v >> 8);
	b[off + 3] = (uint8_t)v;
}

static uint32_t r32(const uint8_t *b, size_t off)
{
	return (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 |
	       (uint32_t)b[off + 2] << 8 | b[off + 3];
}

static uint16_t r16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] << 8 | b[off + 1]);
}

static const uint8_t test_lun[8] = {0x00, 0x05, 0, 0, 0, 0, 0, 0};

/* ---- digests ---- */

static void test_crc32c_vectors(void **state)
{
	uint8_t buf[32], wire[4];
	/* RFC 3720 B.4: an iSCSI Read (10) command PDU */
	static const uint8_t read10[48] = {
	    0x01, 0xc0, 0, 0, 0, 0, 0,	  0, 0,	   0, 0, 0,    0, 0, 0, 0,
	    0x14, 0,	0, 0, 0, 0, 0x04, 0, 0,	   0, 0, 0x14, 0, 0, 0, 0x18,
	    0x28, 0,	0, 0, 0, 0, 0,	  0, 0x02, 0, 0, 0,    0, 0, 0, 0,
	};
	int i;

	memset(buf, 0, sizeof(buf));
	assert_int_equal(iscsi_crc32c(buf, 32), 0x8a9136aa);
	iscsi_digest_put(wire, iscsi_crc32c(buf, 32));
	assert_memory_equal(wire, ((uint8_t[]){0xaa, 0x36, 0x91, 0x8a}), 4);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(iscsi_crc32c(buf, 32), 0x62a8ab43);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(iscsi_crc32c(buf, 32), 0x46dd794e);
	for (i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(iscsi_crc32c(buf, 32), 0x113fdb5c);
	iscsi_digest_put(wire, iscsi_crc32c(read10, 48));
	assert_memory_equal(wire, ((uint8_t[]){0x56, 0x3a, 0x96, 0xd9}), 4);
	assert_int_equal(iscsi_digest_get(wire), 0xd9963a56);
}

static void test_crc32c_incremental(void **state)
{
	uint8_t buf[1000];
	uint32_t st = ISCSI_CRC_SEED;
	size_t i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	/* data digests are computed piece by piece as bytes arrive */
	for (i = 0; i < sizeof(buf); i += 37) {
		size_t n = sizeof(buf) - i < 37 ? sizeof(buf) - i : 37;

		st = iscsi_crc32c_update(st, buf + i, n);
	}
	assert_int_equal(iscsi_crc32c_final(st),
			 iscsi_crc32c(buf, sizeof(buf)));
	assert_int_equal(iscsi_crc32c(buf, 0), 0);
}

/* ---- lengths ---- */

static void test_padding(void **state)
{
	assert_int_equal(iscsi_pad_len(0), 0);
	assert_int_equal(iscsi_pad_len(1), 3);
	assert_int_equal(iscsi_pad_len(2), 2);
	assert_int_equal(iscsi_pad_len(3), 1);
	assert_int_equal(iscsi_pad_len(4), 0);
	assert_int_equal(iscsi_pad_len(8193), 3);
	assert_int_equal(iscsi_pad_len(ISCSI_DSL_MAX), 1);
}

static void test_wire_len(void **state)
{
	uint8_t b[ISCSI_BHS_LEN];

	bhs_init(b, ISCSI_OP_SCSI_CMD, 0x80, 0);
	assert_int_equal(iscsi_pdu_wire_len(b, false, false), 0);
	/* no data: no data digest either */
	assert_int_equal(iscsi_pdu_wire_len(b, true, true), 4);
	bhs_init(b, ISCSI_OP_SCSI_CMD, 0x80, 5);
	b[4] = 5; /* 20 bytes of AHS */
	assert_int_equal(iscsi_pdu_wire_len(b, false, false), 20 + 8);
	assert_int_equal(iscsi_pdu_wire_len(b, true, true), 20 + 4 + 8 + 4);
	bhs_init(b, ISCSI_OP_DATA_OUT, 0x80, 8192);
	assert_int_equal(iscsi_pdu_wire_len(b, false, true), 8196);
}

static void test_check_lengths(void **state)
{
	uint8_t b[ISCSI_BHS_LEN];

	bhs_init(b, ISCSI_OP_DATA_OUT, 0x80, 8192);
	assert_int_equal(iscsi_bhs_check_lengths(b, 8192), 0);
	assert_int_equal(iscsi_bhs_check_lengths(b, 8191), -EMSGSIZE);
	bhs_init(b, ISCSI_OP_LOGIN_REQ | ISCSI_IMMEDIATE, 0x87, 0xffffff);
	assert_int_equal(iscsi_bhs_check_lengths(b, 8192), -EMSGSIZE);
	/* AHS only on a SCSI Command */
	bhs_init(b, ISCSI_OP_NOP_OUT, 0x80, 0);
	b[4] = 1;
	assert_int_equal(iscsi_bhs_check_lengths(b, 8192), -EPROTO);
	bhs_init(b, ISCSI_OP_SCSI_CMD, 0x80, 0);
	b[4] = 255;
	assert_int_equal(iscsi_bhs_check_lengths(b, 8192), 0);
	assert_int_equal(iscsi_bhs_ahs_len(b), 1020);
}

/* ---- AHS ---- */

static void test_ahs_ext_cdb(void **state)
{
	uint8_t ahs[20] = {0}, ext[16];
	size_t ext_len;
	uint32_t bidi;
	bool has_bidi;
	int i;

	/* a 32-byte CDB: 16 more bytes after the reserved byte */
	ahs[0] = 0;
	ahs[1] = 17;
	ahs[2] = ISCSI_AHS_EXT_CDB;
	for (i = 0; i < 16; i++)
		ahs[4 + i] = (uint8_t)(0xa0 + i);
	assert_int_equal(iscsi_ahs_parse(ahs, sizeof(ahs), ext, sizeof(ext),
					 &ext_len, &bidi, &has_bidi),
			 0);
	assert_int_equal(ext_len, 16);
	assert_int_equal(ext[0], 0xa0);
	assert_int_equal(ext[15], 0xaf);
	assert_false(has_bidi);
	/* more than the CDB buffer holds */
	assert_int_equal(iscsi_ahs_parse(ahs, sizeof(ahs), ext, 8, &ext_len,
					 &bidi, &has_bidi),
			 -EINVAL);
}

static void test_ahs_bidi_and_malformed(void **state)
{
	uint8_t ahs[16] = {0}, ext[16];
	size_t ext_len;
	uint32_t bidi;
	bool has_bidi;

	ahs[1] = 5;
	ahs[2] = ISCSI_AHS_BIDI_READ_LEN;
	w32(ahs, 4, 0x12345);
	assert_int_equal(iscsi_ahs_parse(ahs, 8, ext, sizeof(ext), &ext_len,
					 &bidi, &has_bidi),
			 0);
	assert_true(has_bidi);
	assert_int_equal(bidi, 0x12345);
	/* the same AHS twice */
	memcpy(ahs + 8, ahs, 8);
	assert_int_equal(iscsi_ahs_parse(ahs, 16, ext, sizeof(ext), &ext_len,
					 &bidi, &has_bidi),
			 -EINVAL);
	/* AHSLength running past TotalAHSLength */
	ahs[1] = 40;
	assert_int_equal(iscsi_ahs_parse(ahs, 16, ext, sizeof(ext), &ext_len,
					 &bidi, &has_bidi),
			 -EINVAL);
	/* unknown type, zero length, truncated header */
	ahs[1] = 5;
	ahs[2] = 9;
	assert_int_equal(iscsi_ahs_parse(ahs, 8, ext, sizeof(ext), &ext_len,
					 &bidi, &has_bidi),
			 -EINVAL);
	ahs[1] = 0;
	ahs[2] = ISCSI_AHS_EXT_CDB;
	assert_int_equal(iscsi_ahs_parse(ahs, 8, ext, sizeof(ext), &ext_len,
					 &bidi, &has_bidi),
			 -EINVAL);
	assert_int_equal(iscsi_ahs_parse(ahs, 3, ext, sizeof(ext), &ext_len,
					 &bidi, &has_bidi),
			 -EINVAL);
	/* bidi length AHS with the wrong AHSLength */
	ahs[1] = 4;
	ahs[2] = ISCSI_AHS_BIDI_READ_LEN;
	assert_int_equal(iscsi_ahs_parse(ahs, 8, ext, sizeof(ext), &ext_len,
					 &bidi, &has_bidi),
			 -EINVAL);
}

/* ---- initiator PDUs: bytes built here, decoded by pdu.c ---- */

static void test_decode_scsi_cmd(void **state)
{
	struct iscsi_scsi_cmd_hdr h;
	uint8_t b[ISCSI_BHS_LEN];
	int i;

	bhs_init(b, ISCSI_OP_SCSI_CMD | ISCSI_IMMEDIATE, 0x80 | 0x20 | 2, 512);
	b[4] = 5;
	memcpy(b + 8, test_lun, 8);
	w32(b, 16, 0xdeadbeef);
	w32(b, 20, 4096);
	w32(b, 24, 0x11223344);
	w32(b, 28, 0x55667788);
	for (i = 0; i < 16; i++)
		b[32 + i] = (uint8_t)(0x2a + i);
	assert_int_equal(iscsi_scsi_cmd_decode(b, &h), 0);
	assert_true(h.immediate);
	assert_true(h.final);
	assert_true(h.write);
	assert_false(h.read);
	assert_int_equal(h.attr, 2);
	assert_int_equal(h.ahs_words, 5);
	assert_int_equal(h.dlen, 512);
	assert_memory_equal(h.lun, test_lun, 8);
	assert_int_equal(h.itt, 0xdeadbeef);
	assert_int_equal(h.edtl, 4096);
	assert_int_equal(h.cmdsn, 0x11223344);
	assert_int_equal(h.exp_statsn, 0x55667788);
	assert_int_equal(h.cdb[0], 0x2a);
	assert_int_equal(h.cdb[15], 0x39);
	assert_int_equal(iscsi_bhs_cmdsn(b), 0x11223344);
	assert_true(iscsi_opcode_has_cmdsn(iscsi_bhs_opcode(b)));
	b[0] = ISCSI_OP_DATA_OUT;
	assert_int_equal(iscsi_scsi_cmd_decode(b, &h), -EINVAL);
}

static void test_decode_data_out(void **state)
{
	struct iscsi_data_out_hdr h;
	uint8_t b[ISCSI_BHS_LEN];

	bhs_init(b, ISCSI_OP_DATA_OUT, 0x80, 8192);
	memcpy(b + 8, test_lun, 8);
	w32(b, 16, 7);
	w32(b, 20, 0x100);
	w32(b, 28, 9);
	w32(b, 36, 3);
	w32(b, 40, 24576);
	assert_int_equal(iscsi_data_out_decode(b, &h), 0);
	assert_true(h.final);
	assert_int_equal(h.dlen, 8192);
	assert_int_equal(h.itt, 7);
	assert_int_equal(h.ttt, 0x100);
	assert_int_equal(h.exp_statsn, 9);
	assert_int_equal(h.datasn, 3);
	assert_int_equal(h.offset, 24576);
	assert_false(iscsi_opcode_has_cmdsn(ISCSI_OP_DATA_OUT));
	b[1] = 0;
	assert_int_equal(iscsi_data_out_decode(b, &h), 0);
	assert_false(h.final);
	b[0] = ISCSI_OP_NOP_OUT;
	assert_int_equal(iscsi_data_out_decode(b, &h), -EINVAL);
}

static void test_decode_nop_tmf_logout(void **state)
{
	struct iscsi_nop_out_hdr n;
	struct iscsi_tmf_req_hdr t;
	struct iscsi_logout_req_hdr l;
	uint8_t b[ISCSI_BHS_LEN];

	bhs_init(b, ISCSI_OP_NOP_OUT | ISCSI_IMMEDIATE, 0x80, 12);
	memcpy(b + 8, test_lun, 8);
	w32(b, 16, ISCSI_RSVD_TAG);
	w32(b, 20, 0x42);
	w32(b, 24, 100);
	w32(b, 28, 200);
	assert_int_equal(iscsi_nop_out_decode(b, &n), 0);
	assert_true(n.immediate);
	assert_int_equal(n.dlen, 12);
	assert_int_equal(n.itt, ISCSI_RSVD_TAG);
	assert_int_equal(n.ttt, 0x42);
	assert_int_equal(n.cmdsn, 100);
	assert_int_equal(n.exp_statsn, 200);

	bhs_init(b, ISCSI_OP_TMF_REQ | ISCSI_IMMEDIATE,
		 0x80 | ISCSI_TMF_LUN_RESET, 0);
	memcpy(b + 8, test_lun, 8);
	w32(b, 16, 1);
	w32(b, 20, 2);
	w32(b, 24, 3);
	w32(b, 28, 4);
	w32(b, 32, 5);
	w32(b, 36, 6);
	assert_int_equal(iscsi_tmf_req_decode(b, &t), 0);
	assert_int_equal(t.function, ISCSI_TMF_LUN_RESET);
	assert_memory_equal(t.lun, test_lun, 8);
	assert_int_equal(t.itt, 1);
	assert_int_equal(t.rtt, 2);
	assert_int_equal(t.cmdsn, 3);
	assert_int_equal(t.exp_statsn, 4);
	assert_int_equal(t.ref_cmdsn, 5);
	assert_int_equal(t.exp_datasn, 6);

	bhs_init(b, ISCSI_OP_LOGOUT_REQ | ISCSI_IMMEDIATE,
		 0x80 | ISCSI_LOGOUT_CLOSE_CONNECTION, 0);
	w32(b, 16, 0x77);
	b[20] = 0x12;
	b[21] = 0x34;
	w32(b, 24, 8);
	w32(b, 28, 9);
	assert_int_equal(iscsi_logout_req_decode(b, &l), 0);
	assert_true(l.immediate);
	assert_int_equal(l.reason, ISCSI_LOGOUT_CLOSE_CONNECTION);
	assert_int_equal(l.itt, 0x77);
	assert_int_equal(l.cid, 0x1234);
	assert_int_equal(l.cmdsn, 8);
	assert_int_equal(l.exp_statsn, 9);
}

static void test_decode_login_text(void **state)
{
	static const uint8_t isid[6] = {0x80, 0x12, 0x34, 0x56, 0x78, 0x9a};
	struct iscsi_login_req_hdr l;
	struct iscsi_text_req_hdr t;
	uint8_t b[ISCSI_BHS_LEN];

	/* T=1, C=0, CSG=1 (operational), NSG=3 (full feature) */
	bhs_init(b, ISCSI_OP_LOGIN_REQ | ISCSI_IMMEDIATE, 0x80 | 1 << 2 | 3,
		 300);
	b[2] = 0;
	b[3] = 0;
	memcpy(b + 8, isid, 6);
	b[14] = 0;
	b[15] = 9;
	w32(b, 16, 0xabc);
	b[20] = 0;
	b[21] = 1;
	w32(b, 24, 0x1000);
	w32(b, 28, 0x2000);
	assert_int_equal(iscsi_login_req_decode(b, &l), 0);
	assert_true(l.transit);
	assert_false(l.cont);
	assert_int_equal(l.csg, 1);
	assert_int_equal(l.nsg, 3);
	assert_int_equal(l.version_max, 0);
	assert_int_equal(l.version_min, 0);
	assert_int_equal(l.dlen, 300);
	assert_memory_equal(l.isid, isid, 6);
	assert_int_equal(l.tsih, 9);
	assert_int_equal(l.itt, 0xabc);
	assert_int_equal(l.cid, 1);
	assert_int_equal(l.cmdsn, 0x1000);
	assert_int_equal(l.exp_statsn, 0x2000);
	/* C=1 with CSG=0 */
	b[1] = 0x40;
	assert_int_equal(iscsi_login_req_decode(b, &l), 0);
	assert_false(l.transit);
	assert_true(l.cont);
	assert_int_equal(l.csg, 0);

	bhs_init(b, ISCSI_OP_TEXT_REQ, 0x40, 20);
	memcpy(b + 8, test_lun, 8);
	w32(b, 16, 5);
	w32(b, 20, ISCSI_RSVD_TAG);
	w32(b, 24, 6);
	w32(b, 28, 7);
	assert_int_equal(iscsi_text_req_decode(b, &t), 0);
	assert_false(t.immediate);
	assert_false(t.final);
	assert_true(t.cont);
	assert_int_equal(t.dlen, 20);
	assert_int_equal(t.itt, 5);
	assert_int_equal(t.ttt, ISCSI_RSVD_TAG);
	assert_int_equal(t.cmdsn, 6);
	assert_int_equal(t.exp_statsn, 7);
	b[0] = ISCSI_OP_LOGIN_REQ;
	assert_int_equal(iscsi_text_req_decode(b, &t), -EINVAL);
}

/* ---- target PDUs: encoded by pdu.c, read back byte by byte ---- */

static const struct iscsi_sn test_sn = {0x01020304, 0x05060708, 0x0a0b0c0d};

static void assert_sn(const uint8_t *b)
{
	assert_int_equal(r32(b, 24), test_sn.statsn);
	assert_int_equal(r32(b, 28), test_sn.exp_cmdsn);
	assert_int_equal(r32(b, 32), test_sn.max_cmdsn);
}

static void test_encode_scsi_rsp(void **state)
{
	struct iscsi_scsi_rsp_hdr h = {
	    .resid_flags = ISCSI_RESID_UNDERFLOW,
	    .status = 0x02,
	    .dlen = 20,
	    .itt = 0x99,
	    .sn = test_sn,
	    .exp_datasn = 4,
	    .resid = 512,
	};
	uint8_t b[ISCSI_BHS_LEN];

	memset(b, 0xee, sizeof(b));
	iscsi_scsi_rsp_encode(b, &h);
	assert_int_equal(b[0], ISCSI_OP_SCSI_RSP);
	assert_int_equal(b[1], 0x80 | ISCSI_RESID_UNDERFLOW);
	assert_int_equal(b[2], 0);
	assert_int_equal(b[3], 0x02);
	assert_int_equal(b[4], 0);
	assert_int_equal(iscsi_bhs_dlen(b), 20);
	assert_int_equal(r32(b, 8), 0);
	assert_int_equal(iscsi_bhs_itt(b), 0x99);
	assert_int_equal(r32(b, 20), 0);
	assert_sn(b);
	assert_int_equal(r32(b, 36), 4);
	assert_int_equal(r32(b, 40), 0);
	assert_int_equal(r32(b, 44), 512);
}

static void test_encode_data_in(void **state)
{
	struct iscsi_data_in_hdr h = {
	    .final = true,
	    .has_status = true,
	    .resid_flags = ISCSI_RESID_OVERFLOW,
	    .status = 0,
	    .dlen = 8192,
	    .itt = 0x1234,
	    .ttt = ISCSI_RSVD_TAG,
	    .sn = test_sn,
	    .datasn = 2,
	    .offset = 16384,
	    .resid = 100,
	};
	uint8_t b[ISCSI_BHS_LEN];

	iscsi_data_in_encode(b, &h);
	assert_int_equal(b[0], ISCSI_OP_DATA_IN);
	assert_int_equal(b[1], 0x80 | ISCSI_RESID_OVERFLOW | 0x01);
	assert_int_equal(iscsi_bhs_dlen(b), 8192);
	assert_int_equal(iscsi_bhs_itt(b), 0x1234);
	assert_int_equal(r32(b, 20), ISCSI_RSVD_TAG);
	assert_sn(b);
	assert_int_equal(r32(b, 36), 2);
	assert_int_equal(r32(b, 40), 16384);
	assert_int_equal(r32(b, 44), 100);

	/* without S: no status, StatSN and residual stay zero */
	h.final = false;
	h.has_status = false;
	h.status = 0x02;
	iscsi_data_in_encode(b, &h);
	assert_int_equal(b[1], 0);
	assert_int_equal(b[3], 0);
	assert_int_equal(r32(b, 24), 0);
	assert_int_equal(r32(b, 28), test_sn.exp_cmdsn);
	assert_int_equal(r32(b, 32), test_sn.max_cmdsn);
	assert_int_equal(r32(b, 44), 0);
}

static void test_encode_r2t_nop_in(void **state)
{
	struct iscsi_r2t_hdr r = {
	    .itt = 3,
	    .ttt = 4,
	    .sn = test_sn,
	    .r2tsn = 5,
	    .offset = 65536,
	    .desired_len = 262144,
	};
	struct iscsi_nop_in_hdr n = {
	    .dlen = 6,
	    .itt = ISCSI_RSVD_TAG,
	    .ttt = 0x55,
	    .sn = test_sn,
	};
	uint8_t b[ISCSI_BHS_LEN];

	memcpy(r.lun, test_lun, 8);
	iscsi_r2t_encode(b, &r);
	assert_int_equal(b[0], ISCSI_OP_R2T);
	assert_int_equal(b[1], 0x80);
	assert_int_equal(iscsi_bhs_dlen(b), 0);
	assert_memory_equal(b + 8, test_lun, 8);
	assert_int_equal(r32(b, 16), 3);
	assert_int_equal(r32(b, 20), 4);
	assert_sn(b);
	assert_int_equal(r32(b, 36), 5);
	assert_int_equal(r32(b, 40), 65536);
	assert_int_equal(r32(b, 44), 262144);

	memcpy(n.lun, test_lun, 8);
	iscsi_nop_in_encode(b, &n);
	assert_int_equal(b[0], ISCSI_OP_NOP_IN);
	assert_int_equal(b[1], 0x80);
	assert_int_equal(iscsi_bhs_dlen(b), 6);
	assert_memory_equal(b + 8, test_lun, 8);
	assert_int_equal(r32(b, 16), ISCSI_RSVD_TAG);
	assert_int_equal(r32(b, 20), 0x55);
	assert_sn(b);
}

static void test_encode_login_rsp(void **state)
{
	static const uint8_t isid[6] = {0x40, 1, 2, 3, 4, 5};
	struct iscsi_login_rsp_hdr h = {
	    .transit = true,
	    .csg = 1,
	    .nsg = 3,
	    .dlen = 77,
	    .tsih = 0x0102,
	    .itt = 0xfeed,
	    .sn = test_sn,
	    .status = ISCSI_LOGIN_OK,
	};
	struct iscsi_login_req_hdr back;
	uint8_t b[ISCSI_BHS_LEN];

	memcpy(h.isid, isid, 6);
	iscsi_login_rsp_encode(b, &h);
	assert_int_equal(b[0], ISCSI_OP_LOGIN_RSP);
	assert_int_equal(b[1], 0x80 | 1 << 2 | 3);
	assert_int_equal(b[2], 0);
	assert_int_equal(b[3], 0);
	assert_int_equal(iscsi_bhs_dlen(b), 77);
	assert_memory_equal(b + 8, isid, 6);
	assert_int_equal(r16(b, 14), 0x0102);
	assert_int_equal(iscsi_bhs_itt(b), 0xfeed);
	assert_sn(b);
	assert_int_equal(b[36], 0);
	assert_int_equal(b[37], 0);
	/* The login request shares the response's flags/ISID/TSIH/ITT
	 * layout: the request decoder reads them back. */
	b[0] = ISCSI_OP_LOGIN_REQ;
	assert_int_equal(iscsi_login_req_decode(b, &back), 0);
	assert_true(back.transit);
	assert_false(back.cont);
	assert_int_equal(back.csg, 1);
	assert_int_equal(back.nsg, 3);
	assert_memory_equal(back.isid, isid, 6);
	assert_int_equal(back.tsih, 0x0102);
	assert_int_equal(back.itt, 0xfeed);

	h.transit = false;
	h.cont = true;
	h.csg = 0;
	h.nsg = 0;
	h.status = ISCSI_LOGIN_AUTHZ_FAILED;
	iscsi_login_rsp_encode(b, &h);
	assert_int_equal(b[1], 0x40);
	assert_int_equal(b[36], 0x02);
	assert_int_equal(b[37], 0x02);
}

static void test_encode_text_tmf_logout(void **state)
{
	struct iscsi_text_rsp_hdr t = {
	    .final = false,
	    .cont = true,
	    .dlen = 4096,
	    .itt = 8,
	    .ttt = 0x31,
	    .sn = test_sn,
	};
	struct iscsi_tmf_rsp_hdr m = {
	    .response = ISCSI_TMF_RSP_NOT_SUPPORTED,
	    .itt = 10,
	    .sn = test_sn,
	};
	struct iscsi_logout_rsp_hdr l = {
	    .response = ISCSI_LOGOUT_RSP_NO_RECOVERY,
	    .itt = 11,
	    .sn = test_sn,
	    .time2wait = 2,
	    .time2retain = 20,
	};
	uint8_t b[ISCSI_BHS_LEN];

	iscsi_text_rsp_encode(b, &t);
	assert_int_equal(b[0], ISCSI_OP_TEXT_RSP);
	assert_int_equal(b[1], 0x40);
	assert_int_equal(iscsi_bhs_dlen(b), 4096);
	assert_int_equal(r32(b, 16), 8);
	assert_int_equal(r32(b, 20), 0x31);
	assert_sn(b);
	t.final = true;
	t.cont = false;
	iscsi_text_rsp_encode(b, &t);
	assert_int_equal(b[1], 0x80);

	iscsi_tmf_rsp_encode(b, &m);
	assert_int_equal(b[0], ISCSI_OP_TMF_RSP);
	assert_int_equal(b[1], 0x80);
	assert_int_equal(b[2], 5);
	assert_int_equal(r32(b, 16), 10);
	assert_sn(b);
	/* RFC 7144: Additional Response Information in bytes 8-10, the
	 * rest of 8-15 reserved. */
	m.response = ISCSI_TMF_RSP_SUCCEEDED;
	m.add_rsp_info[0] = 0x16;
	m.add_rsp_info[1] = 0x29;
	m.add_rsp_info[2] = 0x03;
	iscsi_tmf_rsp_encode(b, &m);
	assert_int_equal(b[2], 7);
	assert_int_equal(b[8], 0x16);
	assert_int_equal(b[9], 0x29);
	assert_int_equal(b[10], 0x03);
	for (int i = 11; i < 16; i++)
		assert_int_equal(b[i], 0);

	iscsi_logout_rsp_encode(b, &l);
	assert_int_equal(b[0], ISCSI_OP_LOGOUT_RSP);
	assert_int_equal(b[1], 0x80);
	assert_int_equal(b[2], 2);
	assert_int_equal(r32(b, 16), 11);
	assert_sn(b);
	assert_int_equal(r16(b, 40), 2);
	assert_int_equal(r16(b, 42), 20);
}

static void test_encode_reject_async(void **state)
{
	struct iscsi_reject_hdr r = {
	    .reason = ISCSI_REJECT_PROTOCOL_ERROR,
	    .dlen = 48,
	    .sn = test_sn,
	};
	struct iscsi_async_hdr a = {
	    .sn = test_sn,
	    .event = ISCSI_ASYNC_LOGOUT_REQUEST,
	    .param3 = 2,
	};
	uint8_t b[ISCSI_BHS_LEN];

	iscsi_reject_encode(b, &r);
	assert_int_equal(b[0], ISCSI_OP_REJECT);
	assert_int_equal(b[1], 0x80);
	assert_int_equal(b[2], 0x04);
	assert_int_equal(iscsi_bhs_dlen(b), 48);
	assert_int_equal(r32(b, 16), ISCSI_RSVD_TAG);
	assert_sn(b);
	assert_int_equal(r32(b, 36), 0);

	iscsi_async_encode(b, &a);
	assert_int_equal(b[0], ISCSI_OP_ASYNC);
	assert_int_equal(b[1], 0x80);
	assert_int_equal(r32(b, 16), ISCSI_RSVD_TAG);
	assert_sn(b);
	assert_int_equal(b[36], 1);
	assert_int_equal(b[37], 0);
	assert_int_equal(r16(b, 38), 0);
	assert_int_equal(r16(b, 40), 0);
	assert_int_equal(r16(b, 42), 2);
}

static void test_opcode_names(void **state)
{
	assert_string_equal(iscsi_opcode_name(ISCSI_OP_SCSI_CMD),
			    "SCSI Command");
	assert_string_equal(iscsi_opcode_name(0x1c), "unknown opcode");
	assert_true(iscsi_opcode_has_cmdsn(ISCSI_OP_LOGOUT_REQ));
	assert_false(iscsi_opcode_has_cmdsn(ISCSI_OP_SNACK));
	assert_false(iscsi_opcode_has_cmdsn(ISCSI_OP_LOGIN_REQ));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c_vectors),
	    cmocka_unit_test(test_crc32c_incremental),
	    cmocka_unit_test(test_padding),
	    cmocka_unit_test(test_wire_len),
	    cmocka_unit_test(test_check_lengths),
	    cmocka_unit_test(test_ahs_ext_cdb),
	    cmocka_unit_test(test_ahs_bidi_and_malformed),
	    cmocka_unit_test(test_decode_scsi_cmd),
	    cmocka_unit_test(test_decode_data_out),
	    cmocka_unit_test(test_decode_nop_tmf_logout),
	    cmocka_unit_test(test_decode_login_text),
	    cmocka_unit_test(test_encode_scsi_rsp),
	    cmocka_unit_test(test_encode_data_in),
	    cmocka_unit_test(test_encode_r2t_nop_in),
	    cmocka_unit_test(test_encode_login_rsp),
	    cmocka_unit_test(test_encode_text_tmf_logout),
	    cmocka_unit_test(test_encode_reject_async),
	    cmocka_unit_test(test_opcode_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
