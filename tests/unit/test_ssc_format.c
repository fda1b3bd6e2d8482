/*
 * Unit tests of the tape cartridge format (src/scsi/ssc_format.c,
 * docs/tape-format.md) over a cartridge in memory: header slots (encode,
 * decode, CRC, version, the newer of two slots), record headers, the
 * chain scan (clean end, torn tail at every byte of a write, stale
 * records after an overwrite in the middle, a data CRC that fails near
 * the end), the generation floor, and creating a cartridge file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "scsi/ssc_format.h"

#define CAP (256u * 1024)

static uint8_t medium[CAP];

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	(void)ctx;
	if (off + len > CAP)
		return -EIO;
	memcpy(buf, medium + off, len);
	return 0;
}

static void pattern(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* Appends n records of type (len bytes of pattern seed each) at object
 * `at` of ix's chain, as the drive writes: one write of records + EOD. */
static uint64_t append(struct ssc_index *ix, uint64_t at, enum ssc_rec_type t,
		       uint32_t len, uint64_t n, uint64_t *gen, uint8_t seed)
{
	uint64_t off = ssc_index_off(ix, at);
	uint8_t *data = calloc(1, (size_t)(len * n) + 1);
	size_t w;

	pattern(data, (size_t)len * n, seed);
	w = ssc_fmt_build(medium + off, t, data, len, n, at, gen);
	assert_int_equal(w, ssc_fmt_write_len(t == SSC_REC_DATA ? len : 0, n));
	free(data);
	return off + w;
}

/* Scans the medium into ix (freed first: pass a zeroed or scanned one). */
static void scan(struct ssc_index *ix)
{
	ssc_index_free(ix);
	assert_int_equal(ssc_fmt_scan(mem_read, NULL, CAP, CAP, ix), 0);
}

static int reset(void **state)
{
	(void)state;
	memset(medium, 0, sizeof(medium));
	return 0;
}

static void test_header(void **state)
{
	struct ssc_fmt_header h = {.seq = 7,
				   .capacity = CAP,
				   .early_warning = 4096,
				   .created = 1234,
				   .gen_floor = 99},
			      out;
	uint8_t slots[2 * SSC_FMT_SLOT_LEN];
	unsigned slot = 9;

	(void)state;
	snprintf(h.barcode, sizeof(h.barcode), "LTO001L6");
	memset(slots, 0, sizeof(slots));
	ssc_fmt_header_encode(&h, slots);
	assert_int_equal(ssc_fmt_header_decode(slots, &out), 0);
	assert_int_equal(out.seq, 7);
	assert_int_equal(out.capacity, CAP);
	assert_int_equal(out.gen_floor, 99);
	assert_string_equal(out.barcode, "LTO001L6");
	/* The empty second slot loses; a newer valid one wins. */
	assert_int_equal(ssc_fmt_header_pick(slots, &out, &slot), 0);
	assert_int_equal(slot, 0);
	h.seq = 8;
	h.gen_floor = 100;
	ssc_fmt_header_encode(&h, slots + SSC_FMT_SLOT_LEN);
	assert_int_equal(ssc_fmt_header_pick(slots, &out, &slot), 0);
	assert_int_equal(slot, 1);
	assert_int_equal(out.gen_floor, 100);
	/* A torn newer slot: the older one is current. */
	slots[SSC_FMT_SLOT_LEN + 50] ^= 1;
	assert_int_equal(ssc_fmt_header_pick(slots, &out, &slot), 0);
	assert_int_equal(slot, 0);
	/* One flipped bit anywhere under the CRC: not a header. */
	slots[30] ^= 0x10;
	assert_int_equal(ssc_fmt_header_decode(slots, &out), -EINVAL);
	assert_int_equal(ssc_fmt_header_pick(slots, &out, &slot), -EINVAL);
	slots[30] ^= 0x10;
	/* Another version (CRC recomputed): named as such. */
	slots[8] = 2;
	{
		uint32_t crc = ssc_crc32c(slots, 88);

		for (int i = 0; i < 4; i++)
			slots[88 + i] = (uint8_t)(crc >> (8 * i));
	}
	assert_int_equal(ssc_fmt_header_decode(slots, &out), -EPROTONOSUPPORT);
}

static void test_record(void **state)
{
	struct ssc_rec_hdr r = {.type = SSC_REC_DATA,
				.len = 100,
				.data_crc = 0xdeadbeef,
				.gen = 1ull << 41,
				.object = 5},
			   o;
	uint8_t raw[SSC_REC_HDR_LEN];

	(void)state;
	ssc_rec_encode(&r, raw);
	assert_int_equal(ssc_rec_decode(raw, &o), 0);
	assert_int_equal(o.len, 100);
	assert_int_equal(o.data_crc, 0xdeadbeef);
	assert_true(o.gen == 1ull << 41);
	assert_int_equal(o.object, 5);
	for (size_t i = 0; i < sizeof(raw); i++) {
		raw[i] ^= 0x01;
		assert_int_equal(ssc_rec_decode(raw, &o), -EINVAL);
		raw[i] ^= 0x01;
	}
	/* A filemark with data is not a record. */
	r.type = SSC_REC_FILEMARK;
	ssc_rec_encode(&r, raw);
	assert_int_equal(ssc_rec_decode(raw, &o), -EINVAL);
	/* CRC32C check value of "123456789". */
	assert_int_equal(ssc_crc32c("123456789", 9), 0xe3069283);
}

static void test_chain_clean(void **state)
{
	struct ssc_index w = {.eod_off = SSC_FMT_DATA_START}, ix = {0};
	uint64_t gen = 10, end;

	(void)state;
	scan(&ix);
	assert_int_equal(ix.nr, 0);
	assert_int_equal(ix.eod_off, SSC_FMT_DATA_START);
	assert_false(ix.clean_end);
	ssc_index_free(&ix);

	end = append(&w, 0, SSC_REC_DATA, 1000, 3, &gen, 1);
	scan(&w);
	assert_int_equal(w.nr, 3);
	assert_true(w.clean_end);
	assert_int_equal(w.eod_off, end - SSC_REC_HDR_LEN);
	end = append(&w, 3, SSC_REC_FILEMARK, 0, 2, &gen, 0);
	scan(&w);
	end = append(&w, 5, SSC_REC_DATA, 10, 1, &gen, 2);
	scan(&ix);
	assert_int_equal(ix.nr, 6);
	assert_int_equal(ix.obj[3].type, SSC_REC_FILEMARK);
	assert_int_equal(ix.obj[4].type, SSC_REC_FILEMARK);
	assert_int_equal(ix.obj[5].len, 10);
	assert_int_equal(ix.obj[1].off,
			 SSC_FMT_DATA_START + SSC_REC_HDR_LEN + 1000);
	assert_int_equal(ix.eod_off, end - SSC_REC_HDR_LEN);
	assert_int_equal(ix.max_gen, gen - 1);
	assert_true(ix.clean_end);
	ssc_index_free(&ix);
	ssc_index_free(&w);
}

/* A write cut after every byte count: the chain never holds a record
 * of the cut write that is not whole, and always holds the old ones. */
static void test_chain_torn(void **state)
{
	struct ssc_index w = {.eod_off = SSC_FMT_DATA_START}, ix = {0};
	uint64_t gen = 1, off;
	uint8_t *rec;
	size_t len;

	(void)state;
	append(&w, 0, SSC_REC_DATA, 300, 2, &gen, 3);
	scan(&w);
	off = w.eod_off;
	rec = malloc(ssc_fmt_write_len(200, 3));
	{
		uint8_t data[600];
		uint64_t g = gen;

		pattern(data, sizeof(data), 9);
		len = ssc_fmt_build(rec, SSC_REC_DATA, data, 200, 3, 2, &g);
	}
	for (size_t cut = 0; cut <= len; cut++) {
		uint8_t save[2048];

		memcpy(save, medium + off, len);
		memcpy(medium + off, rec, cut);
		scan(&ix);
		/* Whole records of the new write only. */
		assert_int_equal(ix.nr, 2 + (cut - (cut >= len ? 40 : 0)) /
						(SSC_REC_HDR_LEN + 200));
		/* The old EOD stands while only its magic, which the
		 * new header repeats, was written over. */
		assert_true(ix.clean_end == (cut <= 4 || cut == len));
		ssc_index_free(&ix);
		memcpy(medium + off, save, len);
	}
	free(rec);
	ssc_index_free(&w);
}

/* Rewind and write over object 1 of five: the old objects 2..4 beyond
 * stay on the medium but never come back, whatever survives. */
static void test_chain_stale(void **state)
{
	struct ssc_index w = {.eod_off = SSC_FMT_DATA_START}, ix = {0};
	uint64_t gen = 1, eod1;
	uint8_t eod[SSC_REC_HDR_LEN];

	(void)state;
	append(&w, 0, SSC_REC_DATA, 100, 5, &gen, 1);
	scan(&w);
	/* Same length: the new record ends where old object 2 starts. */
	append(&w, 1, SSC_REC_DATA, 100, 1, &gen, 2);
	scan(&ix);
	assert_int_equal(ix.nr, 2);
	assert_true(ix.clean_end);
	eod1 = ix.eod_off;
	ssc_index_free(&ix);
	/* The new EOD lost (a crash between the pages): old object 2
	 * follows, with a lower generation: still the end. */
	memcpy(eod, medium + eod1, sizeof(eod));
	memset(medium + eod1, 0, SSC_REC_HDR_LEN);
	{
		/* Put the old object 2 header back as it was. */
		struct ssc_rec_hdr r = {
		    .type = SSC_REC_DATA, .len = 100, .gen = 3, .object = 2};

		r.data_crc = ssc_crc32c(medium + eod1 + SSC_REC_HDR_LEN, 100);
		ssc_rec_encode(&r, medium + eod1);
	}
	scan(&ix);
	assert_int_equal(ix.nr, 2);
	assert_false(ix.clean_end);
	ssc_index_free(&ix);
	memcpy(medium + eod1, eod, sizeof(eod));
	ssc_index_free(&w);
}

static void test_chain_bad_crc(void **state)
{
	struct ssc_index w = {.eod_off = SSC_FMT_DATA_START}, ix = {0};
	uint64_t gen = 1;

	(void)state;
	append(&w, 0, SSC_REC_DATA, 1000, 10, &gen, 5);
	scan(&w);
	/* Object 8's data damaged: within the checked tail, cut there. */
	medium[w.obj[8].off + SSC_REC_HDR_LEN + 500] ^= 0x40;
	scan(&ix);
	assert_int_equal(ix.nr, 8);
	assert_int_equal(ix.dropped, 2);
	assert_int_equal(ix.eod_off, w.obj[8].off);
	ssc_index_free(&ix);
	/* Outside a 1500-byte checked tail: found only when read. */
	assert_int_equal(ssc_fmt_scan(mem_read, NULL, CAP, 1500, &ix), 0);
	assert_int_equal(ix.nr, 10);
	ssc_index_free(&ix);
	ssc_index_free(&w);
}

static void test_floor(void **state)
{
	struct ssc_fmt_header h = {.gen_floor = 1};
	struct ssc_index ix = {.max_gen = 5};

	(void)state;
	assert_true(ssc_fmt_next_floor(&h, &ix) == 1 + SSC_GEN_EPOCH);
	ix.max_gen = 3 * SSC_GEN_EPOCH;
	assert_true(ssc_fmt_next_floor(&h, &ix) == 3 * SSC_GEN_EPOCH + 1);
}

static void test_create(void **state)
{
	char path[] = "/tmp/test_ssc_formatXXXXXX", err[256];
	uint8_t slots[2 * SSC_FMT_SLOT_LEN];
	struct ssc_fmt_header h;
	unsigned slot;
	struct stat st;
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ssc_fmt_probe(path), -EINVAL); /* an empty file */
	assert_int_equal(
	    ssc_fmt_create(path, 1 << 20, "A1", false, err, sizeof(err)),
	    -EEXIST);
	assert_non_null(strstr(err, "--force"));
	assert_int_equal(
	    ssc_fmt_create(path, 1000, "A1", true, err, sizeof(err)), -EINVAL);
	assert_int_equal(
	    ssc_fmt_create(path, 1 << 20, "bad code", true, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    ssc_fmt_create(path, 1 << 20, "A1", true, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(slots, 1, sizeof(slots), f), sizeof(slots));
	fclose(f);
	assert_int_equal(ssc_fmt_header_pick(slots, &h, &slot), 0);
	assert_int_equal(h.capacity, 1 << 20);
	assert_string_equal(h.barcode, "A1");
	assert_true(h.early_warning > 0 && h.early_warning < h.capacity);
	assert_int_equal(h.gen_floor, 2);
	assert_int_equal(ssc_fmt_probe(path), 0);
	/* Its chain: an EOD record at the start, nothing before. */
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, SSC_FMT_DATA_START, SEEK_SET), 0);
	assert_int_equal(fread(medium, 1, SSC_REC_HDR_LEN, f), SSC_REC_HDR_LEN);
	fclose(f);
	{
		struct ssc_rec_hdr r;

		assert_int_equal(ssc_rec_decode(medium, &r), 0);
		assert_int_equal(r.type, SSC_REC_EOD);
		assert_int_equal(r.gen, 1);
		assert_int_equal(r.object, 0);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_record),
	    cmocka_unit_test_setup(test_chain_clean, reset),
	    cmocka_unit_test_setup(test_chain_torn, reset),
	    cmocka_unit_test_setup(test_chain_stale, reset),
	    cmocka_unit_test_setup(test_chain_bad_crc, reset),
	    cmocka_unit_test(test_floor),
	    cmocka_unit_test(test_create),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
