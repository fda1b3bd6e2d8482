/*
 * Unit tests of the copy manager (xcopy.c) over the SCSI core: EXTENDED
 * COPY (LID1) parameter list parsing with every sense code and field
 * pointer it reports, copies between LUs of one target and of two
 * targets (ACL and CHAP admission), different block sizes, overlapping
 * ranges on one LU, chunking, store failures, aborts, the range lock and
 * the write cache; RECEIVE COPY RESULTS (COPY STATUS, RECEIVE DATA,
 * OPERATING PARAMETERS, FAILED SEGMENT DETAILS); the Third-party Copy VPD
 * page and the 3PC bit.
 */
#include <unistd.h>

#include "scsi_harness.h"

#include "scsi/mode.h"
#include "scsi/range_lock.h"
#include "scsi/sbc.h"
#include "scsi/xcopy.h"

#define LU_SMALL 0 /* the harness's: 1 MiB of 512-byte blocks */
#define LU_BIG	 1 /* 8 MiB of 512-byte blocks */
#define LU_4K	 2 /* 4 MiB of 4096-byte blocks */
#define LU_RO	 3 /* 1 MiB of 512-byte blocks, read-only */
#define BIG_SIZE (8u << 20)
#define K4_SIZE	 (4u << 20)

#define OTHER_TARGET "iqn.2026-01.org.lunar:other"

#define SK_COPY_ABORTED 0x0a

/* ---- building parameter lists ---- */

struct xlist {
	uint8_t list_id, usage;
	uint8_t cscd[XCOPY_MAX_CSCD + 2][XCOPY_CSCD_LEN];
	unsigned nr_cscd;
	uint8_t seg[XCOPY_MAX_SEGMENTS + 2][XCOPY_B2B_LEN];
	unsigned nr_seg;
	uint8_t buf[XCOPY_MAX_PARAM_LEN + 4096];
	uint32_t len;
};

static void xl_init(struct xlist *x, uint8_t list_id, uint8_t usage)
{
	memset(x, 0, sizeof(*x));
	x->list_id = list_id;
	x->usage = usage;
}

/* An identification CSCD descriptor naming lu by its NAA designator. */
static uint8_t *xl_cscd(struct xlist *x, const struct scsi_lu *lu)
{
	uint8_t *d = x->cscd[x->nr_cscd++];

	d[0] = XCOPY_CSCD_IDENTIFICATION;
	d[1] = 0x00; /* LU ID TYPE 0, NUL 0, direct access block device */
	d[4] = 0x01; /* binary */
	d[5] = 0x03; /* association LU, NAA */
	d[7] = sizeof(lu->naa);
	memcpy(d + 8, lu->naa, sizeof(lu->naa));
	put_be24(d + 29, lu->block_size);
	return d;
}

static uint8_t *xl_seg(struct xlist *x, uint16_t src, uint16_t dst, bool dc,
		       uint16_t nr, uint64_t src_lba, uint64_t dst_lba)
{
	uint8_t *d = x->seg[x->nr_seg++];

	d[0] = XCOPY_SEG_BLOCK_TO_BLOCK;
	d[1] = dc ? 0x02 : 0x00;
	put_be16(d + 2, XCOPY_B2B_LEN - 4);
	put_be16(d + 4, src);
	put_be16(d + 6, dst);
	put_be16(d + 10, nr);
	put_be64(d + 12, src_lba);
	put_be64(d + 20, dst_lba);
	return d;
}

/* Lays the header and descriptors out in buf; returns the list length. */
static uint32_t xl_finish(struct xlist *x)
{
	uint8_t *p = x->buf;
	uint32_t off = XCOPY_HDR_LEN;

	memset(x->buf, 0, sizeof(x->buf));
	p[0] = x->list_id;
	p[1] = (uint8_t)(x->usage << 3);
	put_be16(p + 2, (uint16_t)(x->nr_cscd * XCOPY_CSCD_LEN));
	put_be32(p + 8, x->nr_seg * XCOPY_B2B_LEN);
	for (unsigned i = 0; i < x->nr_cscd; i++, off += XCOPY_CSCD_LEN)
		memcpy(p + off, x->cscd[i], XCOPY_CSCD_LEN);
	for (unsigned i = 0; i < x->nr_seg; i++, off += XCOPY_B2B_LEN)
		memcpy(p + off, x->seg[i], XCOPY_B2B_LEN);
	x->len = off;
	return off;
}

static void xcopy_cdb(uint8_t *cdb, uint32_t len)
{
	memset(cdb, 0, 16);
	cdb[0] = 0x83;
	put_be32(cdb + 10, len);
}

/* Sends buf[0, len) as the parameter list of an EXTENDED COPY. */
static void run_raw(struct ht_cmd *hc, const uint8_t *buf, uint32_t len)
{
	uint8_t cdb[16];

	xcopy_cdb(cdb, len);
	ht_exec(hc, &ht_nexus, LU_SMALL, cdb, 16, SCSI_DIR_WRITE, len, buf);
}

static void run_list(struct ht_cmd *hc, struct xlist *x)
{
	if (!x->len)
		xl_finish(x);
	run_raw(hc, x->buf, x->len);
}

/* Prepares and executes, without waiting for the end. */
static void start_list(struct ht_cmd *hc, struct xlist *x)
{
	uint8_t cdb[16];

	if (!x->len)
		xl_finish(x);
	xcopy_cdb(cdb, x->len);
	ht_cmd_init(hc, &ht_nexus, LU_SMALL, cdb, 16, SCSI_DIR_WRITE, x->len,
		    x->buf);
	ht_start(hc);
}

static void expect_good(struct xlist *x)
{
	struct ht_cmd hc;

	run_list(&hc, x);
	ht_assert_good(&hc);
	ht_release(&hc);
}

/* ILLEGAL REQUEST with a field pointer into the parameter list (bit -1:
 * no bit pointer expected). */
static void assert_param_error(const struct ht_cmd *hc, uint8_t asc,
			       uint8_t ascq, uint16_t byte, int bit)
{
	const uint8_t *s = hc->c.sense;

	ht_assert_sense(hc, SCSI_SK_ILLEGAL_REQUEST, asc, ascq);
	assert_true(s[15] & 0x80);	   /* SKSV */
	assert_int_equal(s[15] & 0x40, 0); /* C/D: parameter data */
	if (bit >= 0) {
		assert_true(s[15] & 0x08);
		assert_int_equal(s[15] & 0x07, bit);
	}
	assert_int_equal(get_be16(s + 16), byte);
}

static void expect_param_error(struct xlist *x, uint8_t asc, uint8_t ascq,
			       uint16_t byte, int bit)
{
	struct ht_cmd hc;

	run_list(&hc, x);
	assert_param_error(&hc, asc, ascq, byte, bit);
	ht_release(&hc);
}

/* COPY ABORTED of segment seg, with a segment pointer at byte field of
 * the segment descriptor (-1: none). */
static void assert_copy_aborted(const struct ht_cmd *hc, uint8_t asc,
				uint8_t ascq, uint16_t seg, int field)
{
	const uint8_t *s = hc->c.sense;

	ht_assert_sense(hc, SK_COPY_ABORTED, asc, ascq);
	assert_int_equal(get_be16(s + 10), seg); /* COMMAND-SPECIFIC INFO */
	if (field < 0) {
		assert_int_equal(s[15] & 0x80, 0);
		return;
	}
	assert_int_equal(s[15], 0x80 | 0x20 | 0x08 | 0x07); /* SD, BPV */
	assert_int_equal(get_be16(s + 16), field);
}

static void expect_copy_aborted(struct xlist *x, uint8_t asc, uint8_t ascq,
				uint16_t seg, int field)
{
	struct ht_cmd hc;

	run_list(&hc, x);
	assert_copy_aborted(&hc, asc, ascq, seg, field);
	ht_release(&hc);
}

/* ---- RECEIVE COPY RESULTS ---- */

static void run_rcr(struct ht_cmd *hc, uint8_t sa, uint8_t list_id,
		    uint32_t alloc)
{
	uint8_t cdb[16] = {0x84, sa, list_id};

	put_be32(cdb + 10, alloc);
	ht_exec(hc, &ht_nexus, LU_SMALL, cdb, 16, SCSI_DIR_READ, alloc, NULL);
}

struct copy_status {
	uint8_t cm_status;
	uint16_t segments;
	uint8_t units;
	uint32_t count;
};

static void get_copy_status(uint8_t list_id, struct copy_status *cs)
{
	struct ht_cmd hc;

	run_rcr(&hc, 0x00, list_id, 64);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 12);
	assert_int_equal(get_be32(hc.c.buf), 8);
	cs->cm_status = hc.c.buf[4];
	cs->segments = get_be16(hc.c.buf + 5);
	cs->units = hc.c.buf[7];
	cs->count = get_be32(hc.c.buf + 8);
	ht_release(&hc);
}

/* ---- the memory store's held requests ---- */

static void wait_held(struct ht_store *s, unsigned n)
{
	for (int i = 0; i < 2000; i++) {
		unsigned held;

		pthread_mutex_lock(&s->lock);
		held = s->nr_held;
		pthread_mutex_unlock(&s->lock);
		if (held >= n)
			return;
		usleep(1000);
	}
	fail_msg("the store never saw the request");
}

/*
 * Completes the held requests. With fail == 0 the store keeps holding
 * what comes next (set under its lock, so no request slips through);
 * otherwise it stops holding and fails the next request with fail.
 */
static void release_held(struct ht_store *s, int fail)
{
	struct bs_req *held[8];
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = s->nr_held;
	memcpy(held, s->held, sizeof(held));
	s->nr_held = 0;
	if (fail) {
		s->hold = false;
		s->fail_next = fail;
	}
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < n; i++)
		bs_complete(held[i], ht_store_do(s, held[i]));
}

/* ---- fixtures ---- */

static void fill(uint64_t lun, uint64_t off, uint64_t len, uint8_t seed)
{
	uint8_t *p = ht_store(lun)->data + off;

	for (uint64_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 9));
}

static int xcopy_setup(void **state)
{
	if (ht_setup(state))
		return -1;
	if (ht_lu_add(LU_BIG, BIG_SIZE, 512, false) ||
	    ht_lu_add(LU_4K, K4_SIZE, 4096, false) ||
	    ht_lu_add(LU_RO, HT_LU_SIZE, 512, true))
		return -1;
	ht_clear_power_on(&ht_nexus, LU_SMALL);
	return 0;
}

#define xtest(fn) cmocka_unit_test_setup_teardown(fn, xcopy_setup, ht_teardown)

/* ---- copies ---- */

static void test_copy_two_lus(void **state)
{
	struct xlist x;
	struct copy_status cs;

	fill(LU_SMALL, 0, HT_LU_SIZE, 1);
	xl_init(&x, 7, 0);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 1, false, 16, 0, 100);
	xl_seg(&x, 0, 1, false, 8, 32, 5000);
	xl_seg(&x, 1, 1, false, 16, 100, 6000); /* a copy of the copy */
	expect_good(&x);
	assert_memory_equal(ht_store(LU_BIG)->data + 100 * 512,
			    ht_store(LU_SMALL)->data, 16 * 512);
	assert_memory_equal(ht_store(LU_BIG)->data + 5000 * 512,
			    ht_store(LU_SMALL)->data + 32 * 512, 8 * 512);
	assert_memory_equal(ht_store(LU_BIG)->data + 6000 * 512,
			    ht_store(LU_SMALL)->data, 16 * 512);
	/* LIST ID USAGE 00b: the results are held. */
	get_copy_status(7, &cs);
	assert_int_equal(cs.cm_status, 0x01);
	assert_int_equal(cs.segments, 3);
	assert_int_equal(cs.units, 0);
	assert_int_equal(cs.count, 40 * 512);
}

static void test_copy_chunks(void **state)
{
	const uint16_t nr = 6000; /* ~2.9 MiB: three chunks */
	struct ht_store *dst = ht_store(LU_BIG);
	struct xlist x;
	unsigned before;

	fill(LU_BIG, 0, nr * 512u, 9);
	memset(dst->data + 8000 * 512u, 0, nr * 512u);
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 0, false, nr, 0, 8000);
	before = dst->submits;
	expect_good(&x);
	assert_memory_equal(dst->data + 8000 * 512u, dst->data, nr * 512u);
	/* A read and a write of at most 1 MiB each, not one huge buffer. */
	assert_int_equal(dst->submits - before, 2 * 3);
	/* WCE=1: no FUA. */
	assert_int_equal(dst->last_flags, 0);
}

/* Overlapping ranges of one LU copy as memmove would, both ways. */
static void test_copy_overlap(void **state)
{
	const uint32_t n = 3000, shift = 1000;
	uint8_t *want = malloc(n * 512);
	uint8_t *d = ht_store(LU_BIG)->data;
	struct xlist x;

	assert_non_null(want);
	fill(LU_BIG, 0, (n + shift) * 512, 3);
	memcpy(want, d, n * 512);
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 0, false, (uint16_t)n, 0, shift); /* forward overlap */
	expect_good(&x);
	assert_memory_equal(d + shift * 512, want, n * 512);

	fill(LU_BIG, 0, (n + shift) * 512, 4);
	memcpy(want, d + shift * 512, n * 512);
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 0, false, (uint16_t)n, shift, 0); /* backward overlap */
	expect_good(&x);
	assert_memory_equal(d, want, n * 512);
	free(want);
}

static void test_copy_block_sizes(void **state)
{
	struct xlist x;

	fill(LU_SMALL, 0, 64 * 512, 5);
	/* DC=0: 16 source blocks of 512 bytes = 2 destination blocks. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, ht_lu(LU_4K));
	xl_seg(&x, 0, 1, false, 16, 0, 10);
	/* DC=1: 3 destination blocks of 4 KiB from 24 source blocks. */
	xl_seg(&x, 0, 1, true, 3, 16, 20);
	expect_good(&x);
	assert_memory_equal(ht_store(LU_4K)->data + 10 * 4096,
			    ht_store(LU_SMALL)->data, 16 * 512);
	assert_memory_equal(ht_store(LU_4K)->data + 20 * 4096,
			    ht_store(LU_SMALL)->data + 16 * 512, 3 * 4096);
	/* 7 blocks of 512 bytes are not whole 4 KiB blocks: refused before
	 * anything is copied. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, ht_lu(LU_4K));
	xl_seg(&x, 0, 1, false, 7, 0, 0);
	expect_param_error(&x, 0x26, 0x0a, XCOPY_HDR_LEN + 64 + 10, 7);
}

static void test_zero_blocks_and_empty_lists(void **state)
{
	struct ht_cmd hc;
	struct xlist x;
	unsigned before = ht_store(LU_BIG)->submits;
	uint8_t cdb[16];

	/* PARAMETER LIST LENGTH 0: nothing to do. */
	xcopy_cdb(cdb, 0);
	ht_exec(&hc, &ht_nexus, LU_SMALL, cdb, 16, SCSI_DIR_NONE, 0, NULL);
	ht_assert_good(&hc);
	ht_release(&hc);
	/* A header alone, and a segment of no blocks. */
	xl_init(&x, 0, 3);
	expect_good(&x);
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 0, false, 0, 0, 0);
	expect_good(&x);
	assert_int_equal(ht_store(LU_BIG)->submits, before);
}

/* ---- parameter list errors (before any segment is processed) ---- */

static void test_parameter_list_length(void **state)
{
	struct ht_cmd hc;
	struct xlist x;
	uint8_t cdb[16];

	/* Too short for a header, or longer than the limits: refused
	 * before the Data-Out, pointing at the CDB. */
	xl_init(&x, 0, 3);
	for (unsigned i = 0; i < 2; i++) {
		uint32_t len = i ? XCOPY_MAX_PARAM_LEN + 1 : 15;

		xcopy_cdb(cdb, len);
		ht_exec(&hc, &ht_nexus, LU_SMALL, cdb, 16, SCSI_DIR_WRITE, len,
			x.buf);
		ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0x00);
		assert_int_equal(hc.c.sense[15], 0x80 | 0x40 | 0x08 | 7);
		assert_int_equal(get_be16(hc.c.sense + 16), 10);
		assert_int_equal(hc.c.xfer_len, 0);
		ht_release(&hc);
	}
	/* The header names more descriptors than the list holds. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_seg(&x, 0, 0, false, 1, 0, 1);
	xl_finish(&x);
	for (uint32_t len = XCOPY_HDR_LEN; len < x.len; len += 13) {
		run_raw(&hc, x.buf, len);
		ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0x00);
		ht_release(&hc);
	}
	/* EDTL shorter than the list: the same. */
	xcopy_cdb(cdb, x.len);
	ht_exec(&hc, &ht_nexus, LU_SMALL, cdb, 16, SCSI_DIR_WRITE, x.len - 1,
		x.buf);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	ht_release(&hc);
	/* Descriptor lists longer than MAXIMUM DESCRIPTOR LIST LENGTH. */
	xl_init(&x, 0, 3);
	xl_finish(&x);
	put_be16(x.buf + 2, XCOPY_MAX_CSCD * XCOPY_CSCD_LEN);
	put_be32(x.buf + 8, XCOPY_MAX_SEGMENTS * XCOPY_B2B_LEN + 4);
	run_raw(&hc, x.buf, XCOPY_MAX_PARAM_LEN);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0x00);
	ht_release(&hc);
}

static void test_header_fields(void **state)
{
	struct xlist x;

	/* Reserved bits of byte 1. */
	xl_init(&x, 0, 3);
	xl_finish(&x);
	x.buf[1] |= 0x40;
	expect_param_error(&x, 0x26, 0x00, 1, 7);
	/* LIST ID USAGE 01b is reserved. */
	xl_init(&x, 0, 1);
	expect_param_error(&x, 0x26, 0x00, 1, 4);
	/* LIST ID USAGE 11b takes no list identifier. */
	xl_init(&x, 9, 3);
	expect_param_error(&x, 0x26, 0x00, 0, 7);
	/* Reserved bytes 4-7. */
	xl_init(&x, 0, 3);
	xl_finish(&x);
	x.buf[6] = 1;
	expect_param_error(&x, 0x26, 0x00, 4, 7);
	/* Inline data: none supported. */
	xl_init(&x, 0, 3);
	xl_finish(&x);
	put_be32(x.buf + 12, 4);
	x.len += 4;
	expect_param_error(&x, 0x26, 0x0b, 12, 7);
	/* STR and PRIORITY are accepted whatever their value. */
	xl_init(&x, 0, 3);
	xl_finish(&x);
	x.buf[1] |= 0x20 | 0x07;
	expect_good(&x);
}

static void test_cscd_errors(void **state)
{
	struct xlist x;
	uint8_t *d;

	/* Unsupported CSCD type codes (Fibre Channel N_Port_Name) and a
	 * segment type code in the CSCD list. */
	for (unsigned i = 0; i < 2; i++) {
		xl_init(&x, 0, 3);
		xl_cscd(&x, ht_lu(LU_SMALL));
		d = xl_cscd(&x, ht_lu(LU_SMALL));
		d[0] = i ? 0x02 : 0xe0;
		xl_seg(&x, 0, 0, false, 1, 0, 1);
		expect_param_error(&x, 0x26, 0x07, XCOPY_HDR_LEN + 32, 7);
	}
	/* One CSCD descriptor more than supported. */
	xl_init(&x, 0, 3);
	for (unsigned i = 0; i <= XCOPY_MAX_CSCD; i++)
		xl_cscd(&x, ht_lu(LU_SMALL));
	xl_seg(&x, 0, 0, false, 1, 0, 1);
	expect_param_error(&x, 0x26, 0x06, XCOPY_HDR_LEN + 32 * XCOPY_MAX_CSCD,
			   7);
	/* A list length that cuts a descriptor. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_finish(&x);
	put_be16(x.buf + 2, 20);
	x.len = XCOPY_HDR_LEN + 20;
	expect_param_error(&x, 0x26, 0x00, 2, 7);
	/* A designator longer than its 20 bytes. */
	xl_init(&x, 0, 3);
	d = xl_cscd(&x, ht_lu(LU_SMALL));
	d[7] = 21;
	expect_param_error(&x, 0x26, 0x00, XCOPY_HDR_LEN + 7, 7);
	/* LU ID TYPE does not apply to an identification descriptor. */
	xl_init(&x, 0, 3);
	d = xl_cscd(&x, ht_lu(LU_SMALL));
	d[1] |= 0xc0;
	xl_seg(&x, 0, 0, false, 1, 0, 1);
	expect_good(&x);
}

static void test_segment_errors(void **state)
{
	struct xlist x;
	uint8_t *d;
	const uint16_t seg0 = XCOPY_HDR_LEN + 32;

	/* Unsupported segment types: stream to stream, and a CSCD code. */
	for (unsigned i = 0; i < 2; i++) {
		xl_init(&x, 0, 3);
		xl_cscd(&x, ht_lu(LU_SMALL));
		xl_seg(&x, 0, 0, false, 1, 0, 1);
		d = xl_seg(&x, 0, 0, false, 1, 0, 1);
		d[0] = i ? 0xe4 : 0x03;
		expect_param_error(&x, 0x26, 0x09, seg0 + XCOPY_B2B_LEN, 7);
	}
	/* One segment descriptor more than supported. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	for (unsigned i = 0; i <= XCOPY_MAX_SEGMENTS; i++)
		xl_seg(&x, 0, 0, false, 1, 0, 1);
	expect_param_error(&x, 0x26, 0x08,
			   seg0 + XCOPY_B2B_LEN * XCOPY_MAX_SEGMENTS, 7);
	/* DESCRIPTOR LENGTH other than 18h. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	d = xl_seg(&x, 0, 0, false, 1, 0, 1);
	put_be16(d + 2, 0x14);
	expect_param_error(&x, 0x26, 0x00, seg0 + 2, 7);
	/* Reserved bits of byte 1 and bytes 8-9. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	d = xl_seg(&x, 0, 0, false, 1, 0, 1);
	d[1] |= 0x10;
	expect_param_error(&x, 0x26, 0x00, seg0 + 1, 7);
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	d = xl_seg(&x, 0, 0, false, 1, 0, 1);
	d[9] = 1;
	expect_param_error(&x, 0x26, 0x00, seg0 + 8, 7);
	/* A segment list length that cuts a descriptor. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_seg(&x, 0, 0, false, 1, 0, 1);
	xl_finish(&x);
	put_be32(x.buf + 8, 20);
	x.len -= 8;
	expect_param_error(&x, 0x26, 0x00, 8, 7);
}

static void test_write_protected_destination(void **state)
{
	struct xlist x;
	struct ht_cmd hc;
	unsigned before = ht_store(LU_SMALL)->submits;

	/* A read-only LU may be a source, never a destination. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_RO));
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_seg(&x, 0, 1, false, 4, 0, 8);
	expect_good(&x);
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, ht_lu(LU_RO));
	xl_seg(&x, 0, 0, false, 4, 0, 8); /* allowed, but never reached */
	xl_seg(&x, 0, 1, false, 4, 0, 8);
	run_list(&hc, &x);
	ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	ht_release(&hc);
	/* Nothing was copied, not even the first segment. */
	assert_int_equal(ht_store(LU_SMALL)->submits, before + 1);
	assert_int_equal(ht_store(LU_RO)->submits, 1);
}

/* ---- errors while a segment is processed ---- */

static void test_unreachable_targets(void **state)
{
	struct xlist x;
	uint8_t *d;

	/* An index past the CSCD list: UNREACHABLE COPY TARGET. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_seg(&x, 0, 0, false, 1, 0, 1);
	xl_seg(&x, 0, 1, false, 1, 0, 1);
	expect_copy_aborted(&x, 0x08, 0x04, 1, 6);
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_seg(&x, 0xf800, 0, false, 1, 0, 1);
	expect_copy_aborted(&x, 0x08, 0x04, 0, 4);
	/* A designator no LU has, a NUL device, a designator of another
	 * type: COPY TARGET DEVICE NOT REACHABLE. */
	for (unsigned i = 0; i < 3; i++) {
		xl_init(&x, 0, 3);
		xl_cscd(&x, ht_lu(LU_SMALL));
		d = xl_cscd(&x, ht_lu(LU_SMALL));
		if (i == 0)
			d[20] ^= 0xff;
		else if (i == 1)
			d[1] |= 0x20;
		else
			d[5] = 0x02; /* EUI-64 */
		xl_seg(&x, 1, 0, false, 1, 0, 1);
		expect_copy_aborted(&x, 0x0d, 0x02, 0, 4);
	}
	/* A LU whose medium is out: the NOT READY reason as the ASC. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 1, false, 1, 0, 1);
	atomic_store(&ht_lu(LU_BIG)->medium_absent, true);
	expect_copy_aborted(&x, 0x3a, 0x00, 0, 6);
	atomic_store(&ht_lu(LU_BIG)->medium_absent, false);
	expect_good(&x);
	/* A CSCD whose device type or block length is not the LU's. */
	for (unsigned i = 0; i < 2; i++) {
		xl_init(&x, 0, 3);
		xl_cscd(&x, ht_lu(LU_SMALL));
		d = xl_cscd(&x, ht_lu(LU_SMALL));
		if (i == 0)
			d[1] = 0x01; /* sequential access */
		else
			put_be24(d + 29, 4096);
		xl_seg(&x, 0, 1, false, 1, 0, 1);
		expect_copy_aborted(&x, 0x0d, 0x03, 0, 6);
	}
}

static void test_lba_out_of_range(void **state)
{
	const uint64_t blocks = HT_LU_SIZE / 512;
	struct copy_status cs;
	struct xlist x;
	struct ht_cmd hc;
	const uint8_t *s;

	/* The source range ends past the medium. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 1, false, 8, blocks - 7, 0);
	expect_copy_aborted(&x, 0x00, 0x00, 0, 12);
	/* The destination range of the second segment: the first one is
	 * copied, the second is not; the held status says so. */
	fill(LU_SMALL, 0, 16 * 512, 8);
	xl_init(&x, 3, 0);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 1, false, 8, 0, 0);
	xl_seg(&x, 1, 0, false, 2048, 0, blocks - 2047);
	xl_seg(&x, 0, 0, false, 1, ~0ull, 0);
	run_list(&hc, &x);
	assert_copy_aborted(&hc, 0x00, 0x00, 1, 20);
	ht_release(&hc);
	assert_memory_equal(ht_store(LU_BIG)->data, ht_store(LU_SMALL)->data,
			    8 * 512);
	get_copy_status(3, &cs);
	assert_int_equal(cs.cm_status, 0x02);
	assert_int_equal(cs.segments, 1);
	assert_int_equal(cs.count, 8 * 512);
	/* FAILED SEGMENT DETAILS: the sense data, until delivered whole. */
	run_rcr(&hc, 0x04, 3, 1024);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 60 + 18);
	assert_int_equal(get_be32(hc.c.buf), 56 + 18);
	s = hc.c.buf + 60;
	assert_int_equal(hc.c.buf[56], SAM_STAT_CHECK_CONDITION);
	assert_int_equal(get_be16(hc.c.buf + 58), 18);
	assert_int_equal(s[2] & 0x0f, SK_COPY_ABORTED);
	assert_int_equal(get_be16(s + 10), 1);
	ht_release(&hc);
	run_rcr(&hc, 0x04, 3, 1024);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4);
	assert_int_equal(get_be32(hc.c.buf), 0);
	ht_release(&hc);
}

static void test_store_errors(void **state)
{
	struct xlist x;
	struct ht_cmd hc;
	const uint16_t nr = 4096; /* 2 MiB: two chunks */

	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 1, 0, false, 8, 0, 0);
	xl_seg(&x, 0, 1, false, 1, 0, 0);
	xl_finish(&x);
	/* A read that fails on the first segment. */
	ht_store(LU_BIG)->fail_next = -EIO;
	run_list(&hc, &x);
	assert_copy_aborted(&hc, 0x11, 0x00, 0, -1);
	assert_int_equal(hc.c.sense[0] & 0x80, 0); /* nothing written */
	ht_release(&hc);
	/* A full destination. */
	ht_store(LU_SMALL)->fail_next = -ENOSPC;
	run_list(&hc, &x);
	assert_copy_aborted(&hc, 0x27, 0x07, 0, -1);
	ht_release(&hc);
	/* A write failing after a first chunk was written: the residual in
	 * destination blocks. */
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 0, false, nr, 0, 8192);
	xl_finish(&x);
	/* The store sees read, write, read, write: the last one fails. */
	ht_store(LU_BIG)->hold = true;
	start_list(&hc, &x);
	for (unsigned step = 0; step < 3; step++) {
		wait_held(ht_store(LU_BIG), 1);
		release_held(ht_store(LU_BIG), step < 2 ? 0 : -EIO);
	}
	ht_wait(&hc);
	assert_copy_aborted(&hc, 0x0c, 0x00, 0, -1);
	assert_true(hc.c.sense[0] & 0x80);
	assert_int_equal(get_be32(hc.c.sense + 3), nr - 2048);
	ht_release(&hc);
}

/* ---- copies of other targets' LUs ---- */

static struct scsi_target *other_target(void)
{
	struct scsi_lu_params p;
	struct scsi_target *t;
	char err[256];

	assert_int_equal(scsi_target_create(OTHER_TARGET, "", &t), 0);
	memset(&p, 0, sizeof(p));
	snprintf(p.bstype, sizeof(p.bstype), "scsi-test-mem");
	snprintf(p.backing, sizeof(p.backing), "mem-other");
	p.size = HT_LU_SIZE;
	p.block_size = 512;
	assert_int_equal(scsi_lu_create(t, 4, &p, err, sizeof(err)), 0);
	return t;
}

static void test_other_target(void **state)
{
	struct scsi_target *t = other_target();
	struct scsi_lu *lu = scsi_lun_map_find(t->lun_map, 4);
	struct ht_store *s = container_of(lu->bs, struct ht_store, dev);
	struct xlist x;

	fill(LU_SMALL, 0, 32 * 512, 11);
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, lu);
	xl_seg(&x, 0, 1, false, 32, 0, 64);
	xl_finish(&x);
	/* No ACL entry for this initiator: not reachable. */
	expect_copy_aborted(&x, 0x0d, 0x02, 0, 6);
	assert_int_equal(scsi_acl_add(t, HT_INITIATOR), 0);
	expect_good(&x);
	assert_memory_equal(s->data + 64 * 512, ht_store(LU_SMALL)->data,
			    32 * 512);
	/* A target that asks CHAP of its initiators: not reachable. */
	assert_int_equal(scsi_account_create("xcopyuser", "xcopysecret12"), 0);
	assert_int_equal(scsi_account_bind(t, "xcopyuser", false), 0);
	expect_copy_aborted(&x, 0x0d, 0x02, 0, 6);
	assert_int_equal(scsi_account_unbind(t, "xcopyuser", false), 0);
	assert_int_equal(scsi_account_delete("xcopyuser"), 0);
	/* Deleted while nothing copies: its LUs go with it. */
	assert_int_equal(scsi_target_delete(OTHER_TARGET), 0);
	expect_copy_aborted(&x, 0x0d, 0x02, 0, 6);
}

/* ---- list identifiers, aborts, ordering ---- */

static void test_list_id_in_use(void **state)
{
	struct ht_store *src = ht_store(LU_BIG);
	struct copy_status cs;
	struct ht_cmd a, b;
	struct xlist x;

	xl_init(&x, 5, 0);
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 0, false, 8, 0, 100);
	xl_finish(&x);
	src->hold = true;
	start_list(&a, &x);
	wait_held(src, 1);
	get_copy_status(5, &cs);
	assert_int_equal(cs.cm_status, 0x00); /* in progress */
	/* The same list identifier while it is in use. */
	run_list(&b, &x);
	ht_assert_sense(&b, SCSI_SK_ILLEGAL_REQUEST, 0x00, 0x16);
	ht_release(&b);
	/* Another identifier, with results not held, runs alongside (on
	 * a store that does not hold requests). */
	{
		struct xlist y;

		xl_init(&y, 6, 2);
		xl_cscd(&y, ht_lu(LU_SMALL));
		xl_seg(&y, 0, 0, false, 8, 0, 100);
		expect_good(&y);
	}
	ht_store_release(src);
	ht_wait(&a);
	ht_assert_good(&a);
	ht_release(&a);
	get_copy_status(5, &cs);
	assert_int_equal(cs.cm_status, 0x01);
	/* LIST ID USAGE 10b kept nothing. */
	{
		struct ht_cmd hc;

		run_rcr(&hc, 0x00, 6, 64);
		ht_assert_invalid_field(&hc, 2, 7);
		ht_release(&hc);
	}
	/* Reusing an identifier discards its earlier results. */
	x.buf[0] = 5;
	x.buf[1] = 0;
	put_be16(x.buf + XCOPY_HDR_LEN + 32 + 10, 0xffff); /* out of range */
	run_list(&b, &x);
	ht_assert_sense(&b, SK_COPY_ABORTED, 0x00, 0x00);
	ht_release(&b);
	get_copy_status(5, &cs);
	assert_int_equal(cs.cm_status, 0x02);
}

static void test_abort(void **state)
{
	struct ht_store *src = ht_store(LU_BIG);
	struct copy_status cs;
	struct ht_cmd a;
	struct xlist x;

	xl_init(&x, 2, 0);
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 0, false, 4000, 0, 8000);
	xl_finish(&x);
	src->hold = true;
	start_list(&a, &x);
	wait_held(src, 1);
	ht_abort(&a);
	assert_false(a.finished); /* the store still has the buffer */
	ht_store_release(src);
	ht_wait(&a);
	assert_int_equal(a.done_calls, 1);
	assert_int_equal(a.c.status, SAM_STAT_TASK_ABORTED);
	ht_release(&a);
	get_copy_status(2, &cs);
	assert_int_equal(cs.cm_status, 0x02);
	assert_int_equal(cs.count, 0);
}

struct range_hold {
	struct scsi_range_req req;
	uint64_t lba, nr;
	bool release;
};

static void range_hold_cb(void *arg)
{
	struct range_hold *h = arg;
	struct scsi_range_lock *rl = sbc_range_lock(ht_lu(LU_BIG));

	if (h->release)
		scsi_range_release(rl, &h->req);
	else
		assert_int_equal(scsi_range_acquire(rl, &h->req, h->lba, h->nr,
						    true, ht_reactor, NULL,
						    NULL),
				 0);
}

/* A destination write waits for an exclusive holder of its blocks
 * (COMPARE AND WRITE's atomicity). */
static void test_range_lock(void **state)
{
	struct range_hold h = {.lba = 120, .nr = 4};
	struct ht_store *dst = ht_store(LU_BIG);
	struct ht_cmd a;
	struct xlist x;
	unsigned writes;

	scsi_range_req_init(&h.req);
	ht_on_reactor(range_hold_cb, &h);
	fill(LU_SMALL, 0, 64 * 512, 21);
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 1, false, 64, 0, 100);
	xl_finish(&x);
	writes = dst->submits;
	start_list(&a, &x);
	usleep(100 * 1000);
	assert_false(a.finished);
	assert_int_equal(dst->submits, writes);
	h.release = true;
	ht_on_reactor(range_hold_cb, &h);
	ht_wait(&a);
	ht_assert_good(&a);
	ht_release(&a);
	assert_memory_equal(dst->data + 100 * 512, ht_store(LU_SMALL)->data,
			    64 * 512);
}

/* ---- mode pages: WCE and SWP of the destination, D_SENSE ---- */

/* Reports whatever unit attentions the nexus has pending on lun. */
static void clear_ua(uint64_t lun)
{
	const uint8_t tur[6] = {0};

	for (int i = 0; i < 8; i++) {
		struct ht_cmd hc;
		uint8_t status;

		ht_exec(&hc, &ht_nexus, lun, tur, 6, SCSI_DIR_NONE, 0, NULL);
		status = hc.c.status;
		ht_release(&hc);
		if (status == SAM_STAT_GOOD)
			return;
	}
	fail_msg("LUN %u keeps reporting unit attentions", (unsigned)lun);
}

/* MODE SELECT (6) of one page of a LU, after MODE SENSE of its current
 * values; edit changes the page. */
static void mode_select(uint64_t lun, uint8_t page, void (*edit)(uint8_t *pg))
{
	uint8_t sense_cdb[6] = {0x1a, 0x08, page, 0, 255};
	uint8_t select_cdb[6] = {0x15, 0x10, 0, 0, 0};
	uint8_t data[256];
	struct ht_cmd hc;
	size_t len;

	clear_ua(lun);
	ht_exec(&hc, &ht_nexus, lun, sense_cdb, 6, SCSI_DIR_READ, 255, NULL);
	ht_assert_good(&hc);
	len = hc.c.data_len;
	memcpy(data, hc.c.buf, len);
	ht_release(&hc);
	data[0] = 0; /* MODE DATA LENGTH is reserved in MODE SELECT */
	data[2] = 0;
	data[4] &= 0x7f; /* PS */
	edit(data + 4);
	select_cdb[4] = (uint8_t)len;
	ht_exec(&hc, &ht_nexus, lun, select_cdb, 6, SCSI_DIR_WRITE,
		(uint32_t)len, data);
	ht_assert_good(&hc);
	ht_release(&hc);
}

static void clear_wce(uint8_t *pg)
{
	pg[2] &= (uint8_t)~0x04;
}

static void set_swp(uint8_t *pg)
{
	pg[4] |= 0x08;
}

static void set_d_sense(uint8_t *pg)
{
	pg[2] |= 0x04;
}

static void test_destination_mode_pages(void **state)
{
	struct ht_cmd hc;
	struct xlist x;

	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_cscd(&x, ht_lu(LU_BIG));
	xl_seg(&x, 0, 1, false, 8, 0, 0);
	/* WCE=0 on the destination: its writes are stable before GOOD. */
	mode_select(LU_BIG, 0x08, clear_wce);
	expect_good(&x);
	assert_int_equal(ht_store(LU_BIG)->last_op, BS_OP_WRITE);
	assert_int_equal(ht_store(LU_BIG)->last_flags, BS_F_FUA);
	/* SWP: software write protected, as for WRITE. */
	mode_select(LU_BIG, 0x0a, set_swp);
	run_list(&hc, &x);
	ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT,
			SCSI_ASC_SOFTWARE_WRITE_PROTECTED);
	ht_release(&hc);
}

/* With D_SENSE=1 the segment number travels in a command-specific
 * information descriptor and the segment pointer in a sense key
 * specific descriptor. */
static void test_descriptor_sense(void **state)
{
	struct ht_cmd hc;
	struct xlist x;
	const uint8_t *s, *d;

	mode_select(LU_SMALL, 0x0a, set_d_sense);
	xl_init(&x, 0, 3);
	xl_cscd(&x, ht_lu(LU_SMALL));
	xl_seg(&x, 0, 0, false, 1, 0, 1);
	xl_seg(&x, 0, 3, false, 1, 0, 1);
	run_list(&hc, &x);
	s = hc.c.sense;
	assert_int_equal(hc.c.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(s[0], 0x72);
	assert_int_equal(s[1], SK_COPY_ABORTED);
	assert_int_equal(s[2], 0x08);
	assert_int_equal(s[3], 0x04);
	assert_int_equal(s[7], 12 + 8);
	d = s + 8;
	assert_int_equal(d[0], 0x01);
	assert_int_equal(d[1], 10);
	assert_int_equal(get_be64(d + 4), 1);
	d += 12;
	assert_int_equal(d[0], 0x02);
	assert_int_equal(d[4], 0xaf);
	assert_int_equal(get_be16(d + 5), 6);
	ht_release(&hc);
}

/* ---- RECEIVE COPY RESULTS ---- */

static void test_rcr_op_params(void **state)
{
	struct ht_cmd hc;
	const uint8_t *d;

	run_rcr(&hc, 0x03, 0x55, 1024); /* LIST IDENTIFIER is ignored */
	ht_assert_good(&hc);
	d = hc.c.buf;
	assert_int_equal(hc.c.data_len, 46);
	assert_int_equal(get_be32(d), 42);
	assert_int_equal(d[4], 0x01); /* SNLID */
	assert_int_equal(get_be16(d + 8), XCOPY_MAX_CSCD);
	assert_int_equal(get_be16(d + 10), XCOPY_MAX_SEGMENTS);
	assert_int_equal(get_be32(d + 12), XCOPY_MAX_DESC_LIST);
	assert_int_equal(get_be32(d + 16), XCOPY_MAX_SEGMENT_LEN);
	assert_int_equal(get_be32(d + 20), 0); /* inline */
	assert_int_equal(get_be32(d + 24), 0); /* held data */
	assert_int_equal(get_be16(d + 34), XCOPY_MAX_CONCURRENT);
	assert_int_equal(d[36], XCOPY_MAX_CONCURRENT);
	assert_int_equal(d[37], 9); /* 512-byte blocks */
	assert_int_equal(d[43], 2);
	assert_int_equal(d[44], 0x02);
	assert_int_equal(d[45], 0xe4);
	ht_release(&hc);
	/* Allocation length honoured. */
	run_rcr(&hc, 0x03, 0, 10);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 10);
	ht_release(&hc);
}

static void test_rcr_misc(void **state)
{
	struct ht_cmd hc;
	struct xlist x;

	/* COPY STATUS of a list identifier never used on this nexus. */
	run_rcr(&hc, 0x00, 1, 64);
	ht_assert_invalid_field(&hc, 2, 7);
	ht_release(&hc);
	/* RECEIVE DATA: nothing is ever held. */
	xl_init(&x, 1, 0);
	expect_good(&x);
	run_rcr(&hc, 0x01, 1, 64);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4);
	assert_int_equal(get_be32(hc.c.buf), 0);
	ht_release(&hc);
	/* FAILED SEGMENT DETAILS of a copy that did not fail. */
	run_rcr(&hc, 0x04, 1, 64);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4);
	ht_release(&hc);
	/* LID4 service actions are not supported. */
	for (uint8_t sa = 0x05; sa <= 0x08; sa++) {
		run_rcr(&hc, sa, 1, 64);
		ht_assert_invalid_field(&hc, 1, 4);
		ht_release(&hc);
	}
	/* Another nexus sees none of this nexus's results. */
	{
		struct scsi_nexus b;
		uint8_t cdb[16] = {0x84, 0x00, 1};

		put_be32(cdb + 10, 64);
		ht_nexus_init(&b, HT_INITIATOR "-b");
		ht_clear_power_on(&b, LU_SMALL);
		ht_exec(&hc, &b, LU_SMALL, cdb, 16, SCSI_DIR_READ, 64, NULL);
		ht_assert_invalid_field(&hc, 2, 7);
		ht_release(&hc);
		ht_nexus_release(&b);
	}
	/* Results are dropped with the nexus. */
	ht_nexus_release(&ht_nexus);
	ht_nexus_init(&ht_nexus, HT_INITIATOR);
	ht_clear_nexus_loss(&ht_nexus, LU_SMALL);
	run_rcr(&hc, 0x00, 1, 64);
	ht_assert_invalid_field(&hc, 2, 7);
	ht_release(&hc);
}

/* The oldest finished results make room for new list identifiers. */
static void test_rcr_held_limit(void **state)
{
	struct copy_status cs;
	struct ht_cmd hc;
	struct xlist x;

	for (unsigned id = 0; id < XCOPY_HELD_MAX + 4; id++) {
		xl_init(&x, (uint8_t)id, 0);
		expect_good(&x);
	}
	for (unsigned id = 0; id < 4; id++) {
		run_rcr(&hc, 0x00, (uint8_t)id, 64);
		ht_assert_invalid_field(&hc, 2, 7);
		ht_release(&hc);
	}
	for (unsigned id = 4; id < XCOPY_HELD_MAX + 4; id++) {
		get_copy_status((uint8_t)id, &cs);
		assert_int_equal(cs.cm_status, 0x01);
	}
}

/* ---- VPD page 8Fh, VPD 00h and the 3PC bit ---- */

static void test_vpd_third_party_copy(void **state)
{
	uint8_t cdb[6] = {0x12, 0x01, 0x8f, 0x04, 0x00};
	struct ht_cmd hc;
	const uint8_t *d, *p;
	size_t len;

	ht_exec(&hc, &ht_nexus, LU_4K, cdb, 6, SCSI_DIR_READ, 1024, NULL);
	/* LU_4K has a power-on UA pending, which INQUIRY ignores. */
	ht_assert_good(&hc);
	d = hc.c.buf;
	assert_int_equal(d[0], 0x00);
	assert_int_equal(d[1], 0x8f);
	len = get_be16(d + 2);
	assert_int_equal(hc.c.data_len, 4 + len);
	p = d + 4;
	/* Supported commands. */
	assert_int_equal(get_be16(p), 0x0001);
	assert_int_equal(get_be16(p + 2), 12);
	assert_int_equal(p[4], 9);
	assert_memory_equal(
	    p + 5, ((uint8_t[]){0x83, 1, 0x00, 0x84, 4, 0, 1, 3, 4}), 9);
	p += 16;
	/* Parameter data. */
	assert_int_equal(get_be16(p), 0x0004);
	assert_int_equal(get_be16(p + 2), 0x1c);
	assert_int_equal(get_be16(p + 8), XCOPY_MAX_CSCD);
	assert_int_equal(get_be16(p + 10), XCOPY_MAX_SEGMENTS);
	assert_int_equal(get_be32(p + 12), XCOPY_MAX_DESC_LIST);
	assert_int_equal(get_be32(p + 16), 0);
	p += 32;
	/* Supported descriptors. */
	assert_int_equal(get_be16(p), 0x0008);
	assert_int_equal(get_be16(p + 2), 4);
	assert_memory_equal(p + 4, ((uint8_t[]){2, 0x02, 0xe4, 0}), 4);
	p += 8;
	/* Supported CSCD descriptor IDs: none. */
	assert_int_equal(get_be16(p), 0x000c);
	assert_int_equal(get_be16(p + 2), 4);
	assert_int_equal(get_be16(p + 4), 0);
	p += 8;
	/* General copy operations. */
	assert_int_equal(get_be16(p), 0x8001);
	assert_int_equal(get_be16(p + 2), 0x20);
	assert_int_equal(get_be32(p + 4), XCOPY_MAX_CONCURRENT);
	assert_int_equal(get_be32(p + 8), XCOPY_MAX_CONCURRENT);
	assert_int_equal(get_be32(p + 12), XCOPY_MAX_SEGMENT_LEN);
	assert_int_equal(p[16], 12); /* 4 KiB blocks */
	p += 36;
	assert_int_equal(p - d, 4 + len);
	ht_release(&hc);

	/* Listed in VPD page 00h, in order. */
	cdb[2] = 0x00;
	ht_exec(&hc, &ht_nexus, LU_SMALL, cdb, 6, SCSI_DIR_READ, 1024, NULL);
	ht_assert_good(&hc);
	d = hc.c.buf;
	len = get_be16(d + 2);
	{
		bool found = false;

		for (size_t i = 0; i < len; i++) {
			if (i)
				assert_true(d[4 + i] > d[3 + i]);
			found |= d[4 + i] == 0x8f;
		}
		assert_true(found);
	}
	ht_release(&hc);
	/* Standard INQUIRY: 3PC. */
	cdb[1] = 0;
	cdb[2] = 0;
	ht_exec(&hc, &ht_nexus, LU_SMALL, cdb, 6, SCSI_DIR_READ, 96, NULL);
	ht_assert_good(&hc);
	assert_true(hc.c.buf[5] & 0x08);
	ht_release(&hc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    xtest(test_copy_two_lus),
	    xtest(test_copy_chunks),
	    xtest(test_copy_overlap),
	    xtest(test_copy_block_sizes),
	    xtest(test_zero_blocks_and_empty_lists),
	    xtest(test_parameter_list_length),
	    xtest(test_header_fields),
	    xtest(test_cscd_errors),
	    xtest(test_segment_errors),
	    xtest(test_write_protected_destination),
	    xtest(test_unreachable_targets),
	    xtest(test_lba_out_of_range),
	    xtest(test_store_errors),
	    xtest(test_other_target),
	    xtest(test_list_id_in_use),
	    xtest(test_abort),
	    xtest(test_range_lock),
	    xtest(test_destination_mode_pages),
	    xtest(test_descriptor_sense),
	    xtest(test_rcr_op_params),
	    xtest(test_rcr_misc),
	    xtest(test_rcr_held_limit),
	    xtest(test_vpd_third_party_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
