/*
 * Unit tests of the disk device type (SBC-4) over the SCSI core: READ and
 * WRITE (6/10/12/16) with DPO/FUA and every CDB error, READ CAPACITY
 * (10)/(16), SYNCHRONIZE CACHE, VERIFY, START STOP UNIT, VPD pages B0h,
 * B1h, B2h, backing store errors, the iSCSI residual and direction cases
 * libiscsi's test tool checks, task attributes and aborts, and the CDB
 * usage data of the opcode table against what the parsers really ignore.
 */
#include "scsi_harness.h"

#define BS		512u
#define BLOCKS		(HT_LU_SIZE / BS)
#define MAX_XFER_BLOCKS ((8u << 20) / BS)

/* ---- CDB builders ---- */

static unsigned cdb_rw(uint8_t *cdb, bool write, unsigned len, uint64_t lba,
		       uint32_t nr, uint8_t flags)
{
	memset(cdb, 0, 16);
	switch (len) {
	case 6:
		cdb[0] = write ? 0x0a : 0x08;
		put_be24(cdb + 1, (uint32_t)lba & 0x1fffff);
		cdb[4] = (uint8_t)nr;
		break;
	case 10:
		cdb[0] = write ? 0x2a : 0x28;
		cdb[1] = flags;
		put_be32(cdb + 2, (uint32_t)lba);
		put_be16(cdb + 7, (uint16_t)nr);
		break;
	case 12:
		cdb[0] = write ? 0xaa : 0xa8;
		cdb[1] = flags;
		put_be32(cdb + 2, (uint32_t)lba);
		put_be32(cdb + 6, nr);
		break;
	default:
		cdb[0] = write ? 0x8a : 0x88;
		cdb[1] = flags;
		put_be64(cdb + 2, lba);
		put_be32(cdb + 10, nr);
		break;
	}
	return len;
}

static void do_read(struct ht_cmd *hc, unsigned len, uint64_t lba, uint32_t nr,
		    uint8_t flags, uint32_t edtl)
{
	uint8_t cdb[16];

	cdb_rw(cdb, false, len, lba, nr, flags);
	ht_exec(hc, &ht_nexus, 0, cdb, len, SCSI_DIR_READ, edtl, NULL);
}

static void do_write(struct ht_cmd *hc, unsigned len, uint64_t lba, uint32_t nr,
		     uint8_t flags, uint32_t edtl, const void *out)
{
	uint8_t cdb[16];

	cdb_rw(cdb, true, len, lba, nr, flags);
	ht_exec(hc, &ht_nexus, 0, cdb, len, SCSI_DIR_WRITE, edtl, out);
}

static void pattern(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static int sbc_setup(void **state)
{
	if (ht_setup(state))
		return -1;
	ht_clear_power_on(&ht_nexus, 0);
	return 0;
}

#define sbc_test(fn) cmocka_unit_test_setup_teardown(fn, sbc_setup, ht_teardown)

/* ---- READ / WRITE ---- */

static void test_write_read_all_sizes(void **state)
{
	const unsigned lens[] = {6, 10, 12, 16};
	uint8_t out[4 * BS];
	struct ht_store *s = ht_store(0);

	for (unsigned i = 0; i < 4; i++) {
		struct ht_cmd hc;
		uint64_t lba = 10 + 4 * i;

		pattern(out, sizeof(out), (uint8_t)i);
		do_write(&hc, lens[i], lba, 4, 0, sizeof(out), out);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.dir, SCSI_DIR_WRITE);
		assert_int_equal(hc.c.xfer_len, sizeof(out));
		assert_int_equal(hc.c.data_len, 0);
		assert_int_equal(s->last_op, BS_OP_WRITE);
		assert_int_equal(s->last_offset, lba * BS);
		assert_int_equal(s->last_flags, 0); /* WCE=1, no FUA */
		assert_memory_equal(s->data + lba * BS, out, sizeof(out));
		ht_release(&hc);

		do_read(&hc, lens[i], lba, 4, 0, sizeof(out));
		ht_assert_good(&hc);
		assert_int_equal(hc.c.data_len, sizeof(out));
		assert_int_equal((uintptr_t)hc.c.buf % 4096, 0);
		assert_memory_equal(hc.c.buf, out, sizeof(out));
		ht_release(&hc);
	}
}

static void test_dpo_fua(void **state)
{
	uint8_t out[BS];
	struct ht_store *s = ht_store(0);
	struct ht_cmd hc;

	memset(out, 0x5a, sizeof(out));
	for (unsigned len = 10; len <= 16; len += len == 12 ? 4 : 2) {
		do_write(&hc, len, 1, 1, 0x08, BS, out); /* FUA */
		ht_assert_good(&hc);
		assert_int_equal(s->last_flags, BS_F_FUA);
		ht_release(&hc);
		do_write(&hc, len, 1, 1, 0x10, BS, out); /* DPO */
		ht_assert_good(&hc);
		assert_int_equal(s->last_flags, 0);
		ht_release(&hc);
		do_read(&hc, len, 1, 1, 0x18, BS);
		ht_assert_good(&hc);
		ht_release(&hc);
	}
}

static void test_rw6_zero_means_256(void **state)
{
	struct ht_cmd hc;

	do_read(&hc, 6, 0, 0, 0, 256 * BS);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.cdb_xfer_len, 256 * BS);
	assert_int_equal(hc.c.data_len, 256 * BS);
	ht_release(&hc);
	/* And past the end with it: 256 blocks from BLOCKS - 255. */
	do_read(&hc, 6, BLOCKS - 255, 0, 0, 256 * BS);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
}

static void test_zero_blocks(void **state)
{
	const unsigned lens[] = {10, 12, 16};
	struct ht_store *s = ht_store(0);

	for (unsigned i = 0; i < 3; i++) {
		struct ht_cmd hc;
		unsigned before = s->submits;

		do_read(&hc, lens[i], 0, 0, 0, 0);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.data_len, 0);
		ht_release(&hc);
		do_write(&hc, lens[i], BLOCKS, 0, 0, 0, NULL);
		ht_assert_good(&hc);
		ht_release(&hc);
		assert_int_equal(s->submits, before);
		/* The LBA is still checked. */
		do_read(&hc, lens[i], BLOCKS + 1, 0, 0, 0);
		ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_LBA_OUT_OF_RANGE);
		ht_release(&hc);
		do_write(&hc, lens[i], lens[i] == 10 ? 0xffffffffu : ~0ull, 0,
			 0, 0, NULL);
		ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_LBA_OUT_OF_RANGE);
		ht_release(&hc);
	}
}

static void test_beyond_end(void **state)
{
	const unsigned lens[] = {6, 10, 12, 16};

	for (unsigned i = 0; i < 4; i++) {
		struct ht_cmd hc;

		/* The last block reads; one more does not. */
		do_read(&hc, lens[i], BLOCKS - 1, 1, 0, BS);
		ht_assert_good(&hc);
		ht_release(&hc);
		for (uint32_t n = 1; n <= 8; n++) {
			do_read(&hc, lens[i], BLOCKS + 1 - n, n, 0, n * BS);
			ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
					SCSI_ASC_LBA_OUT_OF_RANGE);
			ht_release(&hc);
		}
		if (lens[i] == 6)
			continue;
		do_read(&hc, lens[i], lens[i] == 16 ? ~0ull : 0xffffffffu, 2, 0,
			2 * BS);
		ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_LBA_OUT_OF_RANGE);
		ht_release(&hc);
		do_write(&hc, lens[i], BLOCKS - 1, 2, 0, 2 * BS, NULL);
		ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_LBA_OUT_OF_RANGE);
		ht_release(&hc);
	}
}

static void test_protect_fields(void **state)
{
	const unsigned lens[] = {10, 12, 16};

	for (unsigned i = 0; i < 3; i++) {
		for (uint8_t p = 1; p < 8; p++) {
			struct ht_cmd hc;

			do_read(&hc, lens[i], 0, 1, (uint8_t)(p << 5), BS);
			ht_assert_invalid_field(&hc, 1, 7);
			ht_release(&hc);
			do_write(&hc, lens[i], 0, 1, (uint8_t)(p << 5), BS,
				 NULL);
			ht_assert_invalid_field(&hc, 1, 7);
			ht_release(&hc);
		}
	}
}

static void test_max_transfer_length(void **state)
{
	struct ht_cmd hc;

	/* The limit VPD B0h reports is the one enforced. */
	do_read(&hc, 16, 0, MAX_XFER_BLOCKS + 1, 0, 0);
	ht_assert_invalid_field(&hc, 10, 7);
	ht_release(&hc);
	do_write(&hc, 12, 0, MAX_XFER_BLOCKS + 1, 0, 0, NULL);
	ht_assert_invalid_field(&hc, 6, 7);
	ht_release(&hc);
	/* Within the limit it is a plain range error on this small LU. */
	do_read(&hc, 16, 0, MAX_XFER_BLOCKS, 0, 0);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
}

static void test_write_protected(void **state)
{
	uint8_t out[BS] = {0};
	uint8_t cdb[16];
	struct ht_cmd hc;

	assert_int_equal(ht_lu_add(1, HT_LU_SIZE, BS, true), 0);
	ht_clear_power_on(&ht_nexus, 1);
	for (unsigned len = 6; len <= 16; len += len == 6    ? 4
						 : len == 12 ? 4
							     : 2) {
		ht_exec(&hc, &ht_nexus, 1, cdb, cdb_rw(cdb, true, len, 0, 1, 0),
			SCSI_DIR_WRITE, BS, out);
		ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT,
				SCSI_ASC_WRITE_PROTECTED);
		assert_int_equal(hc.c.xfer_len, 0);
		ht_release(&hc);
		ht_exec(&hc, &ht_nexus, 1, cdb,
			cdb_rw(cdb, false, len, 0, 1, 0), SCSI_DIR_READ, BS,
			NULL);
		ht_assert_good(&hc);
		ht_release(&hc);
	}
	/* SYNCHRONIZE CACHE changes nothing: allowed. */
	ht_expect_good(&ht_nexus, 1, (const uint8_t[10]){0x35}, 10);
}

static void test_store_errors(void **state)
{
	uint8_t out[BS] = {0};
	struct ht_store *s = ht_store(0);
	struct ht_cmd hc;

	s->fail_next = -EIO;
	do_read(&hc, 10, 7, 1, 0, BS);
	ht_assert_sense(&hc, SCSI_SK_MEDIUM_ERROR,
			SCSI_ASC_UNRECOVERED_READ_ERROR);
	assert_true(hc.c.sense[0] & 0x80); /* INFORMATION: the LBA */
	assert_int_equal(get_be32(hc.c.sense + 3), 7);
	assert_int_equal(hc.c.data_len, 0);
	ht_release(&hc);

	s->fail_next = -EIO;
	do_write(&hc, 10, 7, 1, 0, BS, out);
	ht_assert_sense(&hc, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR);
	ht_release(&hc);

	s->fail_next = -ENOSPC;
	do_write(&hc, 10, 7, 1, 0, BS, out);
	ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT,
			SCSI_ASC_SPACE_ALLOC_FAILED_WP);
	ht_release(&hc);

	s->fail_next = -EROFS;
	do_write(&hc, 10, 7, 1, 0, BS, out);
	ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	ht_release(&hc);

	s->fail_next = -ERANGE;
	do_read(&hc, 10, 7, 1, 0, BS);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);

	s->fail_next = -ENOMEM;
	do_read(&hc, 10, 7, 1, 0, BS);
	assert_int_equal(hc.c.status, SAM_STAT_BUSY);
	assert_int_equal(hc.c.sense_len, 0);
	ht_release(&hc);

	s->fail_next = -EIO;
	ht_expect_sense(&ht_nexus, 0, (const uint8_t[10]){0x35}, 10,
			SCSI_SK_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR);
}

/* ---- residuals and direction (libiscsi iSCSIResiduals) ---- */

static void test_read_residuals(void **state)
{
	struct ht_cmd hc;

	/* EDTL 0 for one block: GOOD, nothing moves (overflow). */
	do_read(&hc, 10, 0, 1, 0, 0);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.cdb_xfer_len, BS);
	assert_int_equal(hc.c.xfer_len, 0);
	assert_int_equal(hc.c.data_len, 0);
	ht_release(&hc);
	/* EDTL 10000 for one block: one block (underflow). */
	do_read(&hc, 10, 0, 1, 0, 10000);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, BS);
	ht_release(&hc);
	/* EDTL 200 for one block: 200 bytes of it. */
	pattern(ht_store(0)->data, BS, 3);
	do_read(&hc, 10, 0, 1, 0, 200);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 200);
	assert_memory_equal(hc.c.buf, ht_store(0)->data, 200);
	ht_release(&hc);
	/* Two blocks, EDTL one block: the first block. */
	do_read(&hc, 10, 0, 2, 0, BS);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.cdb_xfer_len, 2 * BS);
	assert_int_equal(hc.c.data_len, BS);
	ht_release(&hc);
	/* READ flagged as a write by the initiator: GOOD, no data. */
	{
		uint8_t cdb[16];
		uint8_t out[BS] = {0};

		cdb_rw(cdb, false, 10, 0, 1, 0);
		ht_exec(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, BS, out);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.dir, SCSI_DIR_READ);
		assert_int_equal(hc.c.xfer_len, 0);
		assert_int_equal(hc.c.data_len, 0);
		ht_release(&hc);
	}
}

static void test_write_residuals(void **state)
{
	uint8_t a[2 * BS], b[2 * BS];
	struct ht_store *s = ht_store(0);
	struct ht_cmd hc;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	/* EDTL 0 for one block: GOOD, nothing written. */
	memcpy(s->data, a, sizeof(a));
	do_write(&hc, 10, 0, 1, 0, 0, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.cdb_xfer_len, BS);
	assert_int_equal(hc.c.xfer_len, 0);
	ht_release(&hc);
	assert_memory_equal(s->data, a, sizeof(a));
	/* EDTL 200: not a whole block; refused before any data. */
	do_write(&hc, 10, 0, 1, 0, 200, b);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_IU);
	assert_int_equal(hc.c.cdb_xfer_len, BS);
	assert_int_equal(hc.c.xfer_len, 0);
	ht_release(&hc);
	assert_memory_equal(s->data, a, sizeof(a));
	/* EDTL two blocks for one: one block written (underflow). */
	do_write(&hc, 10, 0, 1, 0, 2 * BS, b);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.xfer_len, BS);
	ht_release(&hc);
	assert_memory_equal(s->data, b, BS);
	assert_memory_equal(s->data + BS, a, BS);
	/* EDTL one block for two: only what came is written. */
	memcpy(s->data, a, sizeof(a));
	do_write(&hc, 10, 0, 2, 0, BS, b);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.cdb_xfer_len, 2 * BS);
	assert_int_equal(hc.c.xfer_len, BS);
	ht_release(&hc);
	assert_memory_equal(s->data, b, BS);
	assert_memory_equal(s->data + BS, a, BS);
	/* A WRITE the initiator flagged as a read moves nothing. */
	{
		uint8_t cdb[16];

		memcpy(s->data, a, sizeof(a));
		cdb_rw(cdb, true, 10, 0, 1, 0);
		ht_exec(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_READ, BS, NULL);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.xfer_len, 0);
		ht_release(&hc);
		assert_memory_equal(s->data, a, sizeof(a));
	}
}

/* ---- READ CAPACITY ---- */

static void test_read_capacity10(void **state)
{
	const uint8_t cdb[10] = {0x25};
	struct ht_cmd hc;

	ht_exec(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_READ, 8, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(get_be32(hc.c.buf), BLOCKS - 1);
	assert_int_equal(get_be32(hc.c.buf + 4), BS);
	ht_release(&hc);
	/* LBA without PMI. */
	ht_expect_invalid_field(&ht_nexus, 0,
				(const uint8_t[10]){0x25, 0, 0, 0, 0, 1}, 10,
				SCSI_DIR_READ, 8, 2, 7);
	/* PMI: obsolete, answered as without it. */
	ht_exec(&hc, &ht_nexus, 0,
		(const uint8_t[10]){0x25, 0, 0, 0, 0, 1, 0, 0, 1}, 10,
		SCSI_DIR_READ, 8, NULL);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), BLOCKS - 1);
	ht_release(&hc);
}

static void test_read_capacity16(void **state)
{
	uint8_t cdb[16] = {0x9e, 0x10};
	struct ht_cmd hc;

	put_be32(cdb + 10, 32);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_READ, 32, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 32);
	assert_int_equal(get_be64(hc.c.buf), BLOCKS - 1);
	assert_int_equal(get_be32(hc.c.buf + 8), BS);
	assert_int_equal(hc.c.buf[12], 0);	  /* no protection */
	assert_int_equal(hc.c.buf[14] & 0x80, 0); /* LBPME=0 */
	ht_release(&hc);
	/* Allocation lengths 0..15 are not errors. */
	for (uint32_t alloc = 0; alloc < 16; alloc++) {
		put_be32(cdb + 10, alloc);
		ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_READ, alloc, NULL);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.data_len, alloc);
		ht_release(&hc);
	}
}

static void test_read_capacity_large(void **state)
{
	const uint64_t blocks = (1ull << 32) + 10;
	uint8_t cdb16[16] = {0x9e, 0x10};
	struct ht_cmd hc;

	assert_int_equal(ht_lu_add(1, blocks * 4096, 4096, false), 0);
	ht_clear_power_on(&ht_nexus, 1);
	ht_exec(&hc, &ht_nexus, 1, (const uint8_t[10]){0x25}, 10, SCSI_DIR_READ,
		8, NULL);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), 0xffffffffu);
	assert_int_equal(get_be32(hc.c.buf + 4), 4096);
	ht_release(&hc);
	put_be32(cdb16 + 10, 32);
	ht_exec(&hc, &ht_nexus, 1, cdb16, 16, SCSI_DIR_READ, 32, NULL);
	ht_assert_good(&hc);
	assert_int_equal(get_be64(hc.c.buf), blocks - 1);
	ht_release(&hc);
	/* MODE SENSE short block descriptor: FFFFFFFFh too. */
	ht_exec(&hc, &ht_nexus, 1, (const uint8_t[6]){0x1a, 0, 0x08, 0, 255}, 6,
		SCSI_DIR_READ, 255, NULL);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf + 4), 0xffffffffu);
	ht_release(&hc);
	/* The last block of a > 2 TiB LU is reachable with READ (16). */
	{
		uint8_t cdb[16];

		cdb_rw(cdb, false, 16, blocks - 1, 1, 0);
		ht_exec(&hc, &ht_nexus, 1, cdb, 16, SCSI_DIR_READ, 4096, NULL);
		ht_assert_good(&hc);
		ht_release(&hc);
	}
}

/* ---- SYNCHRONIZE CACHE, VERIFY, START STOP UNIT ---- */

static void test_synchronize_cache(void **state)
{
	struct ht_store *s = ht_store(0);
	uint8_t c10[10] = {0x35}, c16[16] = {0x91};

	ht_expect_good(&ht_nexus, 0, c10, 10);
	assert_int_equal(s->last_op, BS_OP_FLUSH);
	assert_int_equal(s->last_len, HT_LU_SIZE);
	put_be32(c10 + 2, 8);
	put_be16(c10 + 7, 4);
	ht_expect_good(&ht_nexus, 0, c10, 10);
	assert_int_equal(s->last_offset, 8 * BS);
	assert_int_equal(s->last_len, 4 * BS);
	put_be64(c16 + 2, BLOCKS - 1);
	put_be32(c16 + 10, 1);
	ht_expect_good(&ht_nexus, 0, c16, 16);
	put_be32(c16 + 10, 2);
	ht_expect_sense(&ht_nexus, 0, c16, 16, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	put_be64(c16 + 2, BLOCKS + 1);
	put_be32(c16 + 10, 0);
	ht_expect_sense(&ht_nexus, 0, c16, 16, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
}

static void test_verify(void **state)
{
	uint8_t v10[10] = {0x2f}, v12[12] = {0xaf}, v16[16] = {0x8f};

	put_be16(v10 + 7, 8);
	ht_expect_good(&ht_nexus, 0, v10, 10);
	v10[1] = 0x10; /* DPO */
	ht_expect_good(&ht_nexus, 0, v10, 10);
	/* BYTCHK 01b and 11b compare: test_cmp.c. */
	v10[1] = 0x04; /* BYTCHK 10b: reserved */
	ht_expect_invalid_field(&ht_nexus, 0, v10, 10, SCSI_DIR_NONE, 0, 1, 2);
	v10[1] = 0x20; /* VRPROTECT */
	ht_expect_invalid_field(&ht_nexus, 0, v10, 10, SCSI_DIR_NONE, 0, 1, 7);
	/* BYTCHK with an LBA past the end: the range error; with no
	 * blocks: nothing to compare, GOOD. */
	v10[1] = 0x02;
	put_be32(v10 + 2, BLOCKS + 1);
	put_be16(v10 + 7, 0);
	ht_expect_sense(&ht_nexus, 0, v10, 10, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	put_be32(v10 + 2, 0);
	ht_expect_good(&ht_nexus, 0, v10, 10);
	put_be32(v12 + 2, BLOCKS - 1);
	put_be32(v12 + 6, 1);
	ht_expect_good(&ht_nexus, 0, v12, 12);
	put_be32(v12 + 6, 2);
	ht_expect_sense(&ht_nexus, 0, v12, 12, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	put_be64(v16 + 2, ~0ull);
	ht_expect_sense(&ht_nexus, 0, v16, 16, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	put_be64(v16 + 2, BLOCKS);
	ht_expect_good(&ht_nexus, 0, v16, 16); /* 0 blocks at the end */
}

static void test_start_stop_unit(void **state)
{
	ht_expect_good(&ht_nexus, 0, (const uint8_t[6]){0x1b, 0, 0, 0, 0x01},
		       6);
	ht_expect_good(&ht_nexus, 0, (const uint8_t[6]){0x1b, 1, 0, 0, 0x00},
		       6);
	/* Power conditions are accepted; LOEJ with them is ignored. */
	ht_expect_good(&ht_nexus, 0, (const uint8_t[6]){0x1b, 0, 0, 0, 0x32},
		       6);
	/* Every power condition, reserved ones included, changes nothing
	 * (libiscsi's StartStopUnit.PwrCnd wants GOOD for 1h-Fh); eject of
	 * a non-removable medium is refused. */
	ht_expect_good(&ht_nexus, 0, (const uint8_t[6]){0x1b, 0, 0, 0, 0x50},
		       6);
	ht_expect_invalid_field(&ht_nexus, 0,
				(const uint8_t[6]){0x1b, 1, 0, 0, 0x02}, 6,
				SCSI_DIR_NONE, 0, 4, 1);
}

/* ---- VPD pages of the disk ---- */

static void vpd(struct ht_cmd *hc, uint8_t page)
{
	uint8_t cdb[6] = {0x12, 0x01, page, 0x01, 0x00};

	ht_exec(hc, &ht_nexus, 0, cdb, 6, SCSI_DIR_READ, 256, NULL);
	ht_assert_good(hc);
}

static void test_vpd_block_limits(void **state)
{
	struct ht_cmd hc;

	vpd(&hc, 0xb0);
	assert_int_equal(hc.c.data_len, 64);
	assert_int_equal(get_be16(hc.c.buf + 2), 0x3c);
	assert_int_equal(get_be16(hc.c.buf + 6), 4096 / BS);
	assert_int_equal(get_be32(hc.c.buf + 8), MAX_XFER_BLOCKS);
	assert_int_equal(get_be32(hc.c.buf + 12), (1u << 20) / BS);
	assert_int_equal(get_be32(hc.c.buf + 20), 0); /* no UNMAP */
	assert_int_equal(get_be32(hc.c.buf + 24), 0);
	ht_release(&hc);
	vpd(&hc, 0xb1);
	assert_int_equal(hc.c.data_len, 64);
	assert_int_equal(get_be16(hc.c.buf + 4), 1); /* non-rotating */
	ht_release(&hc);
	vpd(&hc, 0xb2);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(hc.c.buf[5] & 0xe0, 0); /* no LBPU/LBPWS/LBPWS10 */
	ht_release(&hc);
}

/* ---- task attributes and aborts ---- */

static void test_ordered_waits_for_older(void **state)
{
	struct ht_store *s = ht_store(0);
	struct ht_cmd rd, ord, simple, hoq;
	uint8_t cdb[16];

	s->hold = true;
	cdb_rw(cdb, false, 10, 0, 1, 0);
	ht_cmd_init(&rd, &ht_nexus, 0, cdb, 10, SCSI_DIR_READ, BS, NULL);
	ht_start(&rd);
	/* ORDERED waits for the read; a later SIMPLE for the ORDERED. */
	ht_cmd_init(&ord, &ht_nexus, 0, (const uint8_t[6]){0x00}, 6,
		    SCSI_DIR_NONE, 0, NULL);
	ord.c.attr = SCSI_TASK_ORDERED;
	ht_start(&ord);
	ht_cmd_init(&simple, &ht_nexus, 0, (const uint8_t[6]){0x00}, 6,
		    SCSI_DIR_NONE, 0, NULL);
	ht_start(&simple);
	/* HEAD OF QUEUE runs at once. */
	ht_cmd_init(&hoq, &ht_nexus, 0, (const uint8_t[6]){0x00}, 6,
		    SCSI_DIR_NONE, 0, NULL);
	hoq.c.attr = SCSI_TASK_HEAD_OF_QUEUE;
	ht_start(&hoq);
	assert_true(hoq.finished);
	ht_assert_good(&hoq);
	ht_release(&hoq);
	assert_false(rd.finished);
	assert_false(ord.finished);
	assert_false(simple.finished);
	ht_store_release(s);
	ht_wait(&rd);
	ht_wait(&ord);
	ht_wait(&simple);
	ht_assert_good(&rd);
	ht_assert_good(&ord);
	ht_assert_good(&simple);
	ht_release(&rd);
	ht_release(&ord);
	ht_release(&simple);
}

static void test_simple_tasks_overlap(void **state)
{
	struct ht_store *s = ht_store(0);
	struct ht_cmd a, b;
	uint8_t cdb[16];

	s->hold = true;
	cdb_rw(cdb, false, 10, 0, 1, 0);
	ht_cmd_init(&a, &ht_nexus, 0, cdb, 10, SCSI_DIR_READ, BS, NULL);
	ht_cmd_init(&b, &ht_nexus, 0, cdb, 10, SCSI_DIR_READ, BS, NULL);
	ht_start(&a);
	ht_start(&b);
	assert_int_equal(s->nr_held, 2); /* both reached the store */
	ht_store_release(s);
	ht_wait(&a);
	ht_wait(&b);
	ht_release(&a);
	ht_release(&b);
}

static void test_abort_running(void **state)
{
	struct ht_store *s = ht_store(0);
	struct ht_cmd hc;
	uint8_t cdb[16];

	s->hold = true;
	cdb_rw(cdb, false, 10, 0, 4, 0);
	ht_cmd_init(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_READ, 4 * BS, NULL);
	ht_start(&hc);
	ht_abort(&hc);
	ht_abort(&hc); /* twice is harmless */
	/* The store still owns the buffer: no done yet. */
	assert_false(hc.finished);
	ht_store_release(s);
	ht_wait(&hc);
	assert_int_equal(hc.done_calls, 1);
	assert_int_equal(hc.c.status, SAM_STAT_TASK_ABORTED);
	assert_int_equal(hc.c.data_len, 0);
	ht_release(&hc);
}

static void test_abort_before_execute(void **state)
{
	const uint8_t cdb[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1};
	struct ht_cmd hc;

	/* Prepared, waiting for Data-Out, aborted: done comes once, from
	 * the reactor's queue; a late execute does nothing. */
	ht_cmd_init(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, BS, NULL);
	ht_prepare_only(&hc);
	assert_int_equal(hc.prep_rc, 0);
	ht_abort(&hc);
	ht_wait(&hc);
	assert_int_equal(hc.done_calls, 1);
	assert_int_equal(hc.c.status, SAM_STAT_TASK_ABORTED);
	ht_execute(&hc);
	assert_int_equal(hc.done_calls, 1);
	assert_int_equal(ht_store(0)->submits, 0);
	ht_release(&hc);
}

static void test_abort_blocked(void **state)
{
	struct ht_store *s = ht_store(0);
	struct ht_cmd rd, ord, after;
	uint8_t cdb[16];

	s->hold = true;
	cdb_rw(cdb, false, 10, 0, 1, 0);
	ht_cmd_init(&rd, &ht_nexus, 0, cdb, 10, SCSI_DIR_READ, BS, NULL);
	ht_start(&rd);
	ht_cmd_init(&ord, &ht_nexus, 0, (const uint8_t[6]){0x00}, 6,
		    SCSI_DIR_NONE, 0, NULL);
	ord.c.attr = SCSI_TASK_ORDERED;
	ht_start(&ord);
	ht_cmd_init(&after, &ht_nexus, 0, (const uint8_t[6]){0x00}, 6,
		    SCSI_DIR_NONE, 0, NULL);
	ht_start(&after);
	assert_false(after.finished);
	/* Aborting the ORDERED task lets the SIMPLE one behind it go. */
	ht_abort(&ord);
	ht_wait(&ord);
	assert_int_equal(ord.c.status, SAM_STAT_TASK_ABORTED);
	ht_wait(&after);
	ht_assert_good(&after);
	assert_false(rd.finished);
	ht_store_release(s);
	ht_wait(&rd);
	ht_release(&rd);
	ht_release(&ord);
	ht_release(&after);
}

static void test_release_without_execute(void **state)
{
	const uint8_t cdb[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1};
	struct ht_cmd w, ord;

	/* A write whose Data-Out never came (connection lost) is released
	 * unexecuted; the ORDERED task behind it then runs. */
	ht_cmd_init(&w, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, BS, NULL);
	ht_prepare_only(&w);
	assert_int_equal(w.prep_rc, 0);
	ht_cmd_init(&ord, &ht_nexus, 0, (const uint8_t[6]){0x00}, 6,
		    SCSI_DIR_NONE, 0, NULL);
	ord.c.attr = SCSI_TASK_ORDERED;
	ht_start(&ord);
	assert_false(ord.finished);
	ht_release(&w);
	ht_wait(&ord);
	ht_assert_good(&ord);
	ht_release(&ord);
}

static void test_nexus_release_with_command_in_flight(void **state)
{
	struct ht_store *s = ht_store(0);
	struct scsi_nexus b;
	struct ht_cmd hc;
	uint8_t cdb[16];

	ht_nexus_init(&b, HT_INITIATOR "-b");
	ht_clear_power_on(&b, 0);
	s->hold = true;
	cdb_rw(cdb, false, 10, 0, 1, 0);
	ht_cmd_init(&hc, &b, 0, cdb, 10, SCSI_DIR_READ, BS, NULL);
	ht_start(&hc);
	/* The session ends while the store works; its ITL outlives it
	 * until the command is released. */
	ht_nexus_release(&b);
	ht_store_release(s);
	ht_wait(&hc);
	ht_assert_good(&hc);
	ht_release(&hc);
}

/* ---- the opcode table's CDB usage data against the parsers ---- */

/* A CDB each row of the disk's table runs with GOOD status. */
static void base_cdb(const struct scsi_op *op, uint8_t *cdb)
{
	memset(cdb, 0, SCSI_CDB_MAX);
	cdb[0] = op->opcode;
	if (op->flags & SCSI_OP_SA)
		cdb[1] = (uint8_t)op->service_action;
	switch (op->opcode) {
	case 0x00: /* TEST UNIT READY */
	case 0x25: /* READ CAPACITY (10) */
		break;
	case 0x03: /* REQUEST SENSE */
		cdb[4] = 18;
		break;
	case 0x08: /* READ (6), WRITE (6): block 1 */
	case 0x0a:
		cdb[3] = 1;
		cdb[4] = 1;
		break;
	case 0x12: /* INQUIRY */
		cdb[4] = 96;
		break;
	case 0x15: /* MODE SELECT (6)/(10): PF, an empty parameter list */
	case 0x55:
		cdb[1] = 0x10;
		break;
	case 0x1a: /* MODE SENSE (6), all pages */
		cdb[2] = 0x3f;
		cdb[4] = 255;
		break;
	case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL: allow */
	case 0x42: /* UNMAP: no parameter list */
		break;
	case 0x41: /* WRITE SAME (10): block 1 */
		cdb[5] = 1;
		cdb[8] = 1;
		break;
	case 0x48: /* SANITIZE: OVERWRITE with a 1-byte pattern, the others
		    * without parameters */
		if (op->service_action == 0x01)
			cdb[8] = 5;
		break;
	case 0x93: /* WRITE SAME (16): block 1 */
		cdb[9] = 1;
		cdb[13] = 1;
		break;
	case 0x1b: /* START STOP UNIT: START */
		cdb[4] = 0x01;
		break;
	case 0x28: /* READ, WRITE, VERIFY, SYNCHRONIZE CACHE (10) */
	case 0x2a:
	case 0x2f:
	case 0x35:
	case 0x2e: /* WRITE AND VERIFY, PRE-FETCH (10) */
	case 0x34:
		cdb[5] = 1;
		cdb[8] = 1;
		break;
	case 0x89: /* COMPARE AND WRITE, WRITE ATOMIC: no blocks */
	case 0x9c:
		cdb[9] = 8;
		break;
	case 0x37: /* READ DEFECT DATA (10)/(12): the header */
		cdb[8] = 4;
		break;
	case 0xb7:
		cdb[9] = 8;
		break;
	case 0x5a: /* MODE SENSE (10) */
		cdb[2] = 0x3f;
		put_be16(cdb + 7, 512);
		break;
	case 0x88: /* READ, WRITE, VERIFY, SYNCHRONIZE CACHE (16) */
	case 0x8a:
	case 0x8f:
	case 0x91:
	case 0x8b: /* ORWRITE, WRITE AND VERIFY, PRE-FETCH (16) */
	case 0x8e:
	case 0x90:
		cdb[9] = 1;
		cdb[13] = 1;
		break;
	case 0x9e: /* READ CAPACITY (16) */
		cdb[13] = 32;
		break;
	case 0x83: /* EXTENDED COPY: an empty parameter list */
	case 0x16: /* RESERVE, RELEASE (6)/(10): the nexus's own */
	case 0x17:
	case 0x56:
	case 0x57:
		break;
	case 0x5e: /* PERSISTENT RESERVE IN */
		put_be16(cdb + 7, 1024);
		break;
	case 0x84: /* RECEIVE COPY RESULTS of list identifier 0, which
		    * hold_copy_results() gave results to */
		put_be32(cdb + 10, 1024);
		break;
	case 0xa0: /* REPORT LUNS */
	case 0xa3: /* REPORT SUPPORTED OPERATION CODES / TMFS */
		put_be32(cdb + 6, 1024);
		break;
	case 0xa8: /* READ, WRITE, VERIFY (12) */
	case 0xaa:
	case 0xaf:
	case 0xae: /* WRITE AND VERIFY (12) */
		cdb[5] = 1;
		cdb[9] = 1;
		break;
	default:
		fail_msg("no base CDB for %s: add one to this test", op->name);
	}
}

static void run_row(const struct scsi_op *op, const uint8_t *cdb,
		    struct ht_outcome *o)
{
	static uint8_t out[BS];
	uint32_t edtl = op->dir == SCSI_DIR_WRITE ? BS : sizeof(o->data);
	struct ht_cmd hc;

	memset(out, 0x3c, sizeof(out));
	ht_exec(&hc, &ht_nexus, 0, cdb, op->cdb_len, op->dir, edtl, out);
	ht_outcome_of(&hc, o);
	ht_release(&hc);
}

/* An EXTENDED COPY of nothing whose results are held (LIST ID USAGE 00b,
 * list identifier 0), so that COPY STATUS has something to report. */
static void hold_copy_results(void)
{
	const uint8_t hdr[16] = {0};
	uint8_t cdb[16] = {0x83};
	struct ht_cmd hc;

	put_be32(cdb + 10, sizeof(hdr));
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, sizeof(hdr), hdr);
	ht_assert_good(&hc);
	ht_release(&hc);
}

/* Every row's ignored bits are ignored (ht_check_usage_zero_bits). */
static void test_usage_zero_bits_are_ignored(void **state)
{
	hold_copy_results();
	for (unsigned i = 0; i < sbc_disk_type.nr_ops; i++) {
		const struct scsi_op *op = sbc_disk_type.ops[i];
		struct ht_outcome want;
		uint8_t cdb[SCSI_CDB_MAX];

		/* A row LU 0 does not support (thin or removable only) is
		 * absent for it: test_lopt.c covers those. */
		if (op->supported && !op->supported(ht_lu(0)))
			continue;
		/* Parameter data that 0x3c bytes cannot form (OVERWRITE
		 * COUNT, INITIALIZATION PATTERN LENGTH): test_lopt.c. */
		if (op->opcode == 0x48 && op->service_action == 0x01)
			continue;
		/* Nor a reservation key this nexus may use: test_pr.c. */
		if (op->opcode == 0x5f)
			continue;
		base_cdb(op, cdb);
		run_row(op, cdb, &want);
		/* PRE-FETCH of a cached range: CONDITION MET. */
		if (want.status != SAM_STAT_GOOD &&
		    want.status != SAM_STAT_CONDITION_MET)
			fail_msg("%s: the base CDB fails (sense %02x/%02x)",
				 op->name, want.sense[12], want.sense[13]);
		ht_check_usage_zero_bits(op, base_cdb, run_row, &want);
	}
}

static void test_buffers_reused(void **state)
{
	uint8_t *first = NULL;
	struct ht_cmd hc;

	for (int i = 0; i < 4; i++) {
		do_read(&hc, 10, 0, 8, 0, 8 * BS);
		ht_assert_good(&hc);
		if (i == 0)
			first = hc.c.buf;
		else
			assert_ptr_equal(hc.c.buf, first);
		ht_release(&hc);
	}
	/* Beyond the cached classes still works. */
	do_read(&hc, 16, 0, BLOCKS, 0, HT_LU_SIZE);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, HT_LU_SIZE);
	ht_release(&hc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    sbc_test(test_write_read_all_sizes),
	    sbc_test(test_dpo_fua),
	    sbc_test(test_rw6_zero_means_256),
	    sbc_test(test_zero_blocks),
	    sbc_test(test_beyond_end),
	    sbc_test(test_protect_fields),
	    sbc_test(test_max_transfer_length),
	    sbc_test(test_write_protected),
	    sbc_test(test_store_errors),
	    sbc_test(test_read_residuals),
	    sbc_test(test_write_residuals),
	    sbc_test(test_read_capacity10),
	    sbc_test(test_read_capacity16),
	    sbc_test(test_read_capacity_large),
	    sbc_test(test_synchronize_cache),
	    sbc_test(test_verify),
	    sbc_test(test_start_stop_unit),
	    sbc_test(test_vpd_block_limits),
	    sbc_test(test_ordered_waits_for_older),
	    sbc_test(test_simple_tasks_overlap),
	    sbc_test(test_abort_running),
	    sbc_test(test_abort_before_execute),
	    sbc_test(test_abort_blocked),
	    sbc_test(test_release_without_execute),
	    sbc_test(test_nexus_release_with_command_in_flight),
	    sbc_test(test_buffers_reused),
	    sbc_test(test_usage_zero_bits_are_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
