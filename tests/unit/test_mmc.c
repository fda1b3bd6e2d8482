/*
 * Unit tests of the CD/DVD device type (MMC-6, src/scsi/mmc.c) over the
 * SCSI core: its parameters, INQUIRY, READ CAPACITY, READ (10)/(12)
 * against the store, writes absent from the table, READ TOC/PMA/ATIP in
 * LBA and MSF, GET CONFIGURATION contents and truncation, GET EVENT
 * STATUS NOTIFICATION across eject and load and per I_T nexus, START STOP
 * UNIT and PREVENT ALLOW MEDIUM REMOVAL, MODE SENSE page 2Ah and the block
 * descriptor, READ DISC/TRACK INFORMATION, READ DVD STRUCTURE, MECHANISM
 * STATUS and SET CD SPEED, each with its bad CDBs.
 */
#include "scsi_harness.h"

#include "scsi/mmc.h"
#include "scsi/ua.h"

extern struct scsi_device_type mmc_cd_type;

#define CD_LUN	  1
#define DVD_LUN	  2
#define BS	  2048u
#define CD_SIZE	  (1024 * 1024) /* 512 blocks: a CD */
#define CD_BLOCKS (CD_SIZE / BS)
#define DVD_SIZE  (1ull << 30) /* sparse: a DVD by its size */
#define HT_OTHER  "iqn.2026-01.org.lunar:other"

static void pattern(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13 + i / 2048);
}

static int mmc_setup(void **state)
{
	if (ht_setup(state))
		return -1;
	if (scsi_device_type_find("cd") != &mmc_cd_type)
		return -1;
	if (ht_lu_add_type(CD_LUN, CD_SIZE, 0, false, "cd") ||
	    ht_lu_add_type(DVD_LUN, DVD_SIZE, 0, false, "cd"))
		return -1;
	pattern(ht_store(CD_LUN)->data, CD_SIZE, 7);
	ht_clear_power_on(&ht_nexus, CD_LUN);
	ht_clear_power_on(&ht_nexus, DVD_LUN);
	return 0;
}

#define mmc_test(fn) cmocka_unit_test_setup_teardown(fn, mmc_setup, ht_teardown)

/* Runs a Data-In CDB on lun from n; hc keeps the result. */
static void run_in(struct ht_cmd *hc, struct scsi_nexus *n, uint64_t lun,
		   const uint8_t *cdb, unsigned len, uint32_t edtl)
{
	ht_exec(hc, n, lun, cdb, len, SCSI_DIR_READ, edtl, NULL);
}

static void expect_in_invalid(uint64_t lun, const uint8_t *cdb, unsigned len,
			      uint16_t byte, int bit)
{
	ht_expect_invalid_field(&ht_nexus, lun, cdb, len, SCSI_DIR_READ, 4096,
				byte, bit);
}

static void expect_in_sense(struct scsi_nexus *n, uint64_t lun,
			    const uint8_t *cdb, unsigned len, uint8_t key,
			    uint8_t asc, uint8_t ascq)
{
	struct ht_cmd hc;

	run_in(&hc, n, lun, cdb, len, 4096);
	ht_assert_sense(&hc, key, asc, ascq);
	ht_release(&hc);
}

static void ssu(struct scsi_nexus *n, uint8_t b4, bool good)
{
	const uint8_t cdb[6] = {0x1b, 0, 0, 0, b4, 0};

	if (good)
		ht_expect_good(n, CD_LUN, cdb, 6);
	else
		ht_expect_sense(n, CD_LUN, cdb, 6, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
}

#define EJECT 0x02
#define LOAD  0x03

static void prevent(struct scsi_nexus *n, uint8_t v)
{
	const uint8_t cdb[6] = {0x1e, 0, 0, 0, v, 0};

	ht_expect_good(n, CD_LUN, cdb, 6);
}

/* ---- parameters ---- */

static void test_check_params(void **state)
{
	struct scsi_lu_params p;
	char err[256];

	memset(&p, 0, sizeof(p));
	snprintf(p.dtype, sizeof(p.dtype), "cd");
	assert_int_equal(scsi_lu_check_type_params(&p, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(p.block_size, 2048);
	assert_true(p.readonly);
	assert_true(p.removable);

	p.block_size = 512;
	assert_int_equal(scsi_lu_check_type_params(&p, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "2048"));
	p.block_size = 2048;
	p.thin = true;
	assert_int_equal(scsi_lu_check_type_params(&p, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "thin"));
	p.thin = false;
	p.physical_block_size = 4096;
	assert_int_equal(scsi_lu_check_type_params(&p, NULL, err, sizeof(err)),
			 -EINVAL);
	p.physical_block_size = 0;
	p.size = 3000;
	assert_int_equal(scsi_lu_check_type_params(&p, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "2048"));

	/* The LU itself: read-only, 2048-byte blocks, loaded. */
	assert_true(scsi_lu_readonly(ht_lu(CD_LUN)));
	assert_int_equal(ht_lu(CD_LUN)->block_size, BS);
	assert_int_equal(scsi_lu_blocks(ht_lu(CD_LUN)), CD_BLOCKS);
	assert_int_equal(mmc_lu_profile(ht_lu(CD_LUN)), MMC_PROFILE_CD_ROM);
	assert_int_equal(mmc_lu_profile(ht_lu(DVD_LUN)), MMC_PROFILE_DVD_ROM);
	assert_int_not_equal(ht_lu_add_type(3, CD_SIZE, 512, false, "cd"), 0);
}

/* ---- INQUIRY, READ CAPACITY ---- */

static void test_inquiry(void **state)
{
	const uint8_t cdb[6] = {0x12, 0, 0, 0, 96, 0};
	struct ht_cmd hc;
	bool mmc6 = false;

	run_in(&hc, &ht_nexus, CD_LUN, cdb, 6, 96);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[0], 0x05); /* PDT CD/DVD */
	assert_int_equal(hc.c.buf[1], 0x80); /* RMB */
	assert_memory_equal(hc.c.buf + 16, "VIRTUAL CD/DVD  ", 16);
	for (unsigned i = 58; i < 74; i += 2)
		mmc6 |= get_be16(hc.c.buf + i) == 0x04e0;
	assert_true(mmc6);
	ht_release(&hc);
}

static void test_read_capacity(void **state)
{
	const uint8_t cdb[10] = {0x25};
	struct ht_cmd hc;

	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 8);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(get_be32(hc.c.buf), CD_BLOCKS - 1);
	assert_int_equal(get_be32(hc.c.buf + 4), 2048);
	ht_release(&hc);
}

/* ---- READ, and writes that do not exist ---- */

static void cdb_read(uint8_t *cdb, unsigned len, uint32_t lba, uint32_t nr)
{
	memset(cdb, 0, 12);
	if (len == 10) {
		cdb[0] = 0x28;
		put_be32(cdb + 2, lba);
		put_be16(cdb + 7, (uint16_t)nr);
	} else {
		cdb[0] = 0xa8;
		put_be32(cdb + 2, lba);
		put_be32(cdb + 6, nr);
	}
}

static void test_read(void **state)
{
	const uint8_t *data = ht_store(CD_LUN)->data;
	const unsigned lens[] = {10, 12};
	uint8_t cdb[12];

	for (unsigned i = 0; i < 2; i++) {
		struct ht_cmd hc;

		cdb_read(cdb, lens[i], 16, 4);
		run_in(&hc, &ht_nexus, CD_LUN, cdb, lens[i], 4 * BS);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.data_len, 4 * BS);
		assert_memory_equal(hc.c.buf, data + 16 * BS, 4 * BS);
		assert_int_equal(ht_store(CD_LUN)->last_offset, 16 * BS);
		ht_release(&hc);

		/* The last block reads; one more is out of range. */
		cdb_read(cdb, lens[i], CD_BLOCKS - 1, 1);
		run_in(&hc, &ht_nexus, CD_LUN, cdb, lens[i], BS);
		ht_assert_good(&hc);
		assert_memory_equal(hc.c.buf, data + (CD_BLOCKS - 1) * BS, BS);
		ht_release(&hc);
		cdb_read(cdb, lens[i], CD_BLOCKS - 1, 2);
		expect_in_sense(&ht_nexus, CD_LUN, cdb, lens[i],
				SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_LBA_OUT_OF_RANGE);
		cdb_read(cdb, lens[i], CD_BLOCKS + 1, 0);
		expect_in_sense(&ht_nexus, CD_LUN, cdb, lens[i],
				SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_LBA_OUT_OF_RANGE);

		/* EDTL shorter than the blocks: what fits goes. */
		cdb_read(cdb, lens[i], 2, 2);
		run_in(&hc, &ht_nexus, CD_LUN, cdb, lens[i], 100);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.data_len, 100);
		assert_memory_equal(hc.c.buf, data + 2 * BS, 100);
		ht_release(&hc);
	}
}

static void test_read_store_error(void **state)
{
	uint8_t cdb[12];
	struct ht_cmd hc;

	ht_store(CD_LUN)->fail_next = -EIO;
	cdb_read(cdb, 10, 3, 1);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, BS);
	ht_assert_sense(&hc, SCSI_SK_MEDIUM_ERROR,
			SCSI_ASC_UNRECOVERED_READ_ERROR);
	ht_release(&hc);
}

static void test_writes_absent(void **state)
{
	const uint8_t ops[] = {0x0a, 0x2a, 0xaa, 0x8a, 0x35, 0x2e,
			       0x41, 0x93, 0x08, 0x88, 0x89};

	for (unsigned i = 0; i < sizeof(ops); i++) {
		uint8_t cdb[16] = {ops[i]};

		ht_expect_sense(&ht_nexus, CD_LUN, cdb, 16,
				SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_INVALID_OPCODE);
	}
}

/* ---- READ TOC/PMA/ATIP ---- */

static void toc_cdb(uint8_t *cdb, bool msf, uint8_t format, uint8_t track,
		    uint16_t alloc)
{
	memset(cdb, 0, 10);
	cdb[0] = 0x43;
	cdb[1] = msf ? 0x02 : 0;
	cdb[2] = format;
	cdb[6] = track;
	put_be16(cdb + 7, alloc);
}

static void test_toc_formatted(void **state)
{
	const uint8_t lba_toc[20] = {0x00, 0x12, 1, 1, 0,    0x14, 1,
				     0,	   0,	 0, 0, 0,    0,	   0x14,
				     0xaa, 0,	 0, 0, 0x02, 0x00};
	/* 512 + 150 frames = 00:08:62. */
	const uint8_t msf_toc[20] = {0x00, 0x12, 1, 1, 0, 0x14, 1,
				     0,	   0,	 0, 2, 0, 0,	0x14,
				     0xaa, 0,	 0, 0, 8, 62};
	uint8_t cdb[10];
	struct ht_cmd hc;

	toc_cdb(cdb, false, 0, 0, 100);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 100);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 20);
	assert_memory_equal(hc.c.buf, lba_toc, 20);
	ht_release(&hc);

	toc_cdb(cdb, true, 0, 1, 100);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 100);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 20);
	assert_memory_equal(hc.c.buf, msf_toc, 20);
	ht_release(&hc);

	/* From the lead-out: its descriptor alone. */
	toc_cdb(cdb, false, 0, 0xaa, 100);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 100);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 12);
	assert_int_equal(get_be16(hc.c.buf), 10);
	assert_int_equal(hc.c.buf[6], 0xaa);
	assert_int_equal(get_be32(hc.c.buf + 8), CD_BLOCKS);
	ht_release(&hc);

	/* Truncated: the length still counts the whole TOC. */
	toc_cdb(cdb, false, 0, 0, 4);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 4);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4);
	assert_int_equal(get_be16(hc.c.buf), 0x12);
	ht_release(&hc);

	/* No track 2; no such format. */
	toc_cdb(cdb, false, 0, 2, 100);
	expect_in_invalid(CD_LUN, cdb, 10, 6, 7);
	toc_cdb(cdb, false, 3, 0, 100);
	expect_in_invalid(CD_LUN, cdb, 10, 2, 3);
	toc_cdb(cdb, false, 2, 2, 100);
	expect_in_invalid(CD_LUN, cdb, 10, 6, 7);
}

static void test_toc_session_and_full(void **state)
{
	uint8_t cdb[10];
	struct ht_cmd hc;

	toc_cdb(cdb, false, 1, 0, 100);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 100);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 12);
	assert_int_equal(get_be16(hc.c.buf), 10);
	assert_int_equal(hc.c.buf[2], 1);
	assert_int_equal(hc.c.buf[3], 1);
	assert_int_equal(hc.c.buf[5], 0x14);
	assert_int_equal(hc.c.buf[6], 1);
	assert_int_equal(get_be32(hc.c.buf + 8), 0);
	ht_release(&hc);

	/* The same through the old CONTROL byte bits (Linux sr). */
	toc_cdb(cdb, true, 0, 0, 12);
	cdb[9] = 0x40;
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 12);
	ht_assert_good(&hc);
	assert_int_equal(get_be16(hc.c.buf), 10);
	assert_int_equal(get_be32(hc.c.buf + 8), 0x00000200); /* 00:02:00 */
	ht_release(&hc);

	toc_cdb(cdb, false, 2, 1, 100);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 100);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 48);
	assert_int_equal(get_be16(hc.c.buf), 46);
	/* A0h: first track 1; A1h: last track 1; A2h: lead-out 00:08:62;
	 * track 1 at 00:02:00. */
	assert_int_equal(hc.c.buf[4 + 3], 0xa0);
	assert_int_equal(hc.c.buf[4 + 8], 1);
	assert_int_equal(hc.c.buf[15 + 3], 0xa1);
	assert_int_equal(hc.c.buf[15 + 8], 1);
	assert_int_equal(hc.c.buf[26 + 3], 0xa2);
	assert_int_equal(hc.c.buf[26 + 8], 0);
	assert_int_equal(hc.c.buf[26 + 9], 8);
	assert_int_equal(hc.c.buf[26 + 10], 62);
	assert_int_equal(hc.c.buf[37 + 3], 1);
	assert_int_equal(hc.c.buf[37 + 9], 2);
	for (unsigned i = 4; i < 48; i += 11) {
		assert_int_equal(hc.c.buf[i], 1);	 /* session 1 */
		assert_int_equal(hc.c.buf[i + 1], 0x14); /* data track */
	}
	ht_release(&hc);
}

/* ---- GET CONFIGURATION ---- */

static void config_cdb(uint8_t *cdb, uint8_t rt, uint16_t start, uint16_t alloc)
{
	memset(cdb, 0, 10);
	cdb[0] = 0x46;
	cdb[1] = rt;
	put_be16(cdb + 2, start);
	put_be16(cdb + 7, alloc);
}

/* The feature descriptors of a GET CONFIGURATION answer, by code. */
static const uint8_t *config_find(const struct ht_cmd *hc, uint16_t code)
{
	for (uint32_t off = 8; off + 4 <= hc->c.data_len;
	     off += 4u + hc->c.buf[off + 3]) {
		if (get_be16(hc->c.buf + off) == code)
			return hc->c.buf + off;
	}
	return NULL;
}

static void test_get_configuration(void **state)
{
	const uint16_t codes[] = {0x0000, 0x0001, 0x0002, 0x0003,
				  0x0010, 0x001e, 0x001f};
	const uint8_t *f;
	uint8_t cdb[10];
	struct ht_cmd hc;
	uint32_t off = 8;

	config_cdb(cdb, 0, 0, 1024);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 1024);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), hc.c.data_len - 4);
	assert_int_equal(get_be16(hc.c.buf + 6), 0x0008); /* CD-ROM */
	for (unsigned i = 0; i < 7; i++) { /* ascending, all of them */
		assert_int_equal(get_be16(hc.c.buf + off), codes[i]);
		off += 4u + hc.c.buf[off + 3];
	}
	assert_int_equal(off, hc.c.data_len);
	f = config_find(&hc, 0x0000); /* DVD-ROM, CD-ROM (current) */
	assert_int_equal(f[2] & 0x03, 0x03);
	assert_int_equal(f[3], 8);
	assert_int_equal(get_be16(f + 4), 0x0010);
	assert_int_equal(f[6] & 1, 0);
	assert_int_equal(get_be16(f + 8), 0x0008);
	assert_int_equal(f[10] & 1, 1);
	f = config_find(&hc, 0x0001);
	assert_int_equal(get_be32(f + 4), 1); /* SCSI family */
	assert_int_equal(f[2] >> 2, 2);
	f = config_find(&hc, 0x0003);
	assert_int_equal(f[4] >> 5, 1); /* tray */
	assert_true(f[4] & 0x08);	/* eject */
	assert_true(f[4] & 0x01);	/* lock */
	f = config_find(&hc, 0x0010);
	assert_int_equal(f[2] & 1, 1);
	assert_int_equal(get_be32(f + 4), 2048);
	assert_int_equal(get_be16(f + 8), 1);
	assert_int_equal(config_find(&hc, 0x001e)[2] & 1, 1);
	assert_int_equal(config_find(&hc, 0x001f)[2] & 1, 0);
	ht_release(&hc);

	/* RT 01b: current features only, from 0010h on. */
	config_cdb(cdb, 1, 0x0010, 1024);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 1024);
	ht_assert_good(&hc);
	assert_int_equal(get_be16(hc.c.buf + 8), 0x0010);
	assert_int_equal(get_be16(hc.c.buf + 20), 0x001e);
	assert_int_equal(hc.c.data_len, 28);
	assert_int_equal(get_be32(hc.c.buf), 24);
	ht_release(&hc);

	/* RT 10b: that one feature, current or not; none: the header. */
	config_cdb(cdb, 2, 0x001f, 1024);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 1024);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 16);
	assert_int_equal(get_be16(hc.c.buf + 8), 0x001f);
	ht_release(&hc);
	config_cdb(cdb, 2, 0x0004, 1024);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 1024);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(get_be32(hc.c.buf), 4);
	ht_release(&hc);

	/* Truncated at 8 bytes: DATA LENGTH counts everything. */
	config_cdb(cdb, 0, 0, 8);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 8);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(get_be32(hc.c.buf), off - 4);
	ht_release(&hc);

	config_cdb(cdb, 3, 0, 1024);
	expect_in_invalid(CD_LUN, cdb, 10, 1, 1);

	/* The large image is a DVD-ROM. */
	config_cdb(cdb, 0, 0, 1024);
	run_in(&hc, &ht_nexus, DVD_LUN, cdb, 10, 1024);
	ht_assert_good(&hc);
	assert_int_equal(get_be16(hc.c.buf + 6), 0x0010);
	assert_int_equal(config_find(&hc, 0x001e)[2] & 1, 0);
	assert_int_equal(config_find(&hc, 0x001f)[2] & 1, 1);
	ht_release(&hc);

	/* No medium: no current profile, nothing readable. */
	ssu(&ht_nexus, EJECT, true);
	config_cdb(cdb, 0, 0, 1024);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 1024);
	ht_assert_good(&hc);
	assert_int_equal(get_be16(hc.c.buf + 6), 0);
	assert_int_equal(config_find(&hc, 0x0010)[2] & 1, 0);
	assert_int_equal(config_find(&hc, 0x0000)[10] & 1, 0);
	ht_release(&hc);
}

/* ---- GET EVENT STATUS NOTIFICATION ---- */

/* Polls the media class; returns the event code, and the media status
 * in *status. */
static uint8_t gesn_media(struct scsi_nexus *n, uint8_t *status)
{
	const uint8_t cdb[10] = {0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0};
	struct ht_cmd hc;
	uint8_t ev;

	run_in(&hc, n, CD_LUN, cdb, 10, 8);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(get_be16(hc.c.buf), 6);
	assert_int_equal(hc.c.buf[2], 4); /* media class, NEA 0 */
	assert_int_equal(hc.c.buf[3], 0x50);
	ev = hc.c.buf[4] & 0x0f;
	if (status)
		*status = hc.c.buf[5];
	ht_release(&hc);
	return ev;
}

static void test_gesn_sequence(void **state)
{
	uint8_t status;

	/* The first poll: the medium found in the tray. */
	assert_int_equal(gesn_media(&ht_nexus, &status), 2); /* NewMedia */
	assert_int_equal(status, 0x02);
	assert_int_equal(gesn_media(&ht_nexus, &status), 0);
	ssu(&ht_nexus, EJECT, true);
	assert_int_equal(gesn_media(&ht_nexus, &status), 3); /* removal */
	assert_int_equal(status, 0x01);			     /* tray open */
	assert_int_equal(gesn_media(&ht_nexus, &status), 0);
	ssu(&ht_nexus, LOAD, true);
	assert_int_equal(gesn_media(&ht_nexus, &status), 2);
	assert_int_equal(status, 0x02);
	assert_int_equal(gesn_media(&ht_nexus, NULL), 0);
	/* Two events between polls: both, in order. */
	ssu(&ht_nexus, EJECT, true);
	ssu(&ht_nexus, LOAD, true);
	assert_int_equal(gesn_media(&ht_nexus, NULL), 3);
	assert_int_equal(gesn_media(&ht_nexus, NULL), 2);
	assert_int_equal(gesn_media(&ht_nexus, NULL), 0);
	/* A refused eject is an eject request. */
	prevent(&ht_nexus, 1);
	ssu(&ht_nexus, EJECT, false);
	assert_int_equal(gesn_media(&ht_nexus, NULL), 1);
	assert_int_equal(gesn_media(&ht_nexus, NULL), 0);
	prevent(&ht_nexus, 0);
}

static void test_gesn_per_nexus(void **state)
{
	struct scsi_nexus other;

	ht_nexus_init(&other, HT_OTHER);
	ht_clear_power_on(&other, CD_LUN);
	assert_int_equal(gesn_media(&ht_nexus, NULL), 2);
	ssu(&ht_nexus, EJECT, true);
	assert_int_equal(gesn_media(&ht_nexus, NULL), 3);
	assert_int_equal(gesn_media(&ht_nexus, NULL), 0);
	/* The other nexus, which never polled, still hears of it. */
	assert_int_equal(gesn_media(&other, NULL), 3);
	assert_int_equal(gesn_media(&other, NULL), 0);
	ht_nexus_release(&other);
}

static void test_gesn_cdb(void **state)
{
	uint8_t cdb[10] = {0x4a, 0x00, 0, 0, 0x10, 0, 0, 0, 8, 0};
	struct ht_cmd hc;

	/* Asynchronous: not supported. */
	expect_in_invalid(CD_LUN, cdb, 10, 1, 0);
	/* No class asked for: NEA, the supported classes. */
	cdb[1] = 0x01;
	cdb[4] = 0x00;
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 8);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4);
	assert_int_equal(get_be16(hc.c.buf), 2);
	assert_int_equal(hc.c.buf[2], 0x80);
	assert_int_equal(hc.c.buf[3], 0x50);
	ht_release(&hc);
	/* Device busy only: no event. */
	cdb[4] = 0x40;
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 8);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(hc.c.buf[2], 6);
	assert_int_equal(hc.c.buf[4], 0);
	ht_release(&hc);
	/* Truncated to the header. */
	cdb[4] = 0x10;
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 4);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4);
	assert_int_equal(get_be16(hc.c.buf), 6);
	ht_release(&hc);
}

/* ---- START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL ---- */

static void test_eject_load(void **state)
{
	const uint8_t tur[6] = {0};
	const uint8_t cap[10] = {0x25};
	uint8_t toc[10], read[12];
	struct scsi_nexus other;

	ht_nexus_init(&other, HT_OTHER);
	ht_clear_power_on(&other, CD_LUN);
	ssu(&ht_nexus, EJECT, true);
	ssu(&ht_nexus, EJECT, true); /* already out: nothing to do */
	ht_expect_sense(&ht_nexus, CD_LUN, tur, 6, SCSI_SK_NOT_READY,
			SCSI_ASC_MEDIUM_NOT_PRESENT);
	cdb_read(read, 10, 0, 1);
	expect_in_sense(&ht_nexus, CD_LUN, read, 10, SCSI_SK_NOT_READY,
			SCSI_ASC_MEDIUM_NOT_PRESENT);
	cdb_read(read, 12, 0, 1);
	expect_in_sense(&other, CD_LUN, read, 12, SCSI_SK_NOT_READY,
			SCSI_ASC_MEDIUM_NOT_PRESENT);
	expect_in_sense(&ht_nexus, CD_LUN, cap, 10, SCSI_SK_NOT_READY,
			SCSI_ASC_MEDIUM_NOT_PRESENT);
	toc_cdb(toc, false, 0, 0, 100);
	expect_in_sense(&ht_nexus, CD_LUN, toc, 10, SCSI_SK_NOT_READY,
			SCSI_ASC_MEDIUM_NOT_PRESENT);

	/* Loaded again: the other nexus learns the medium may have
	 * changed; the one that loaded it does not. */
	ssu(&ht_nexus, LOAD, true);
	ht_expect_good(&ht_nexus, CD_LUN, tur, 6);
	ht_expect_sense(&other, CD_LUN, tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_MEDIUM_MAY_HAVE_CHANGED);
	ht_expect_good(&other, CD_LUN, tur, 6);
	ssu(&ht_nexus, LOAD, true); /* already in: no new attention */
	ht_expect_good(&other, CD_LUN, tur, 6);
	/* Start and stop without LoEj, power conditions: no change. */
	ssu(&ht_nexus, 0x00, true);
	ssu(&ht_nexus, 0x01, true);
	ssu(&ht_nexus, 0x32, true); /* STANDBY with LoEj: no eject */
	ht_expect_good(&ht_nexus, CD_LUN, tur, 6);
	ht_nexus_release(&other);
}

static void test_ssu_cdb(void **state)
{
	const uint8_t reserved[] = {0x4, 0x6, 0x8, 0x9, 0xc, 0xf};

	for (unsigned i = 0; i < sizeof(reserved); i++) {
		const uint8_t cdb[6] = {
		    0x1b, 0, 0, 0, (uint8_t)(reserved[i] << 4), 0};

		ht_expect_invalid_field(&ht_nexus, CD_LUN, cdb, 6,
					SCSI_DIR_NONE, 0, 4, 7);
	}
}

static void test_prevent(void **state)
{
	const uint8_t tur[6] = {0};
	struct scsi_nexus other;

	ht_nexus_init(&other, HT_OTHER);
	ht_clear_power_on(&other, CD_LUN);
	prevent(&ht_nexus, 1);
	prevent(&ht_nexus, 1); /* counted once */
	assert_int_equal(ht_lu(CD_LUN)->nr_prevent, 1);
	ssu(&ht_nexus, EJECT, false);
	ssu(&other, EJECT, false);
	ht_expect_good(&ht_nexus, CD_LUN, tur, 6);
	/* Another nexus's ALLOW does not lift this one's PREVENT. */
	prevent(&other, 0);
	ssu(&other, EJECT, false);
	prevent(&other, 1);
	prevent(&ht_nexus, 0);
	ssu(&ht_nexus, EJECT, false);
	prevent(&other, 0);
	assert_int_equal(ht_lu(CD_LUN)->nr_prevent, 0);
	/* Persistent prevention changes nothing here. */
	prevent(&ht_nexus, 3);
	assert_int_equal(ht_lu(CD_LUN)->nr_prevent, 0);
	ssu(&other, EJECT, true);
	/* Loading is never prevented. */
	prevent(&other, 1);
	ssu(&ht_nexus, LOAD, true);
	/* I_T nexus loss ends the prevention. */
	ht_nexus_release(&other);
	assert_int_equal(ht_lu(CD_LUN)->nr_prevent, 0);
	ssu(&ht_nexus, EJECT, true);
}

/* ---- MODE SENSE ---- */

static void test_mode_sense(void **state)
{
	/* MODE SENSE (10), DBD=0, page 2Ah, as Linux sr asks. */
	const uint8_t cdb[10] = {0x5a, 0x00, 0x2a, 0, 0, 0, 0, 0, 128, 0};
	const uint8_t cdb6[6] = {0x1a, 0x00, 0x01, 0, 255, 0};
	struct ht_cmd hc;
	const uint8_t *p;

	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 128);
	ht_assert_good(&hc);
	assert_int_equal(get_be16(hc.c.buf + 6), 8); /* one descriptor */
	assert_int_equal(hc.c.buf[8], 0);	     /* density code 0 */
	assert_int_equal(get_be24(hc.c.buf + 9), CD_BLOCKS);
	assert_int_equal(get_be24(hc.c.buf + 13), 2048);
	p = hc.c.buf + 16;
	assert_int_equal(p[0] & 0x3f, 0x2a);
	assert_int_equal(p[1], 0x14);
	assert_int_equal(hc.c.data_len, 16 + 22);
	assert_int_equal(get_be16(hc.c.buf), 16 + 22 - 2);
	assert_true(p[2] & 0x08);	/* DVD-ROM read */
	assert_int_equal(p[3], 0);	/* writes nothing */
	assert_int_equal(p[6] >> 5, 1); /* tray */
	assert_true(p[6] & 0x08);	/* eject */
	assert_true(p[6] & 0x01);	/* lock */
	assert_false(p[6] & 0x02);	/* not locked */
	assert_int_not_equal(get_be16(p + 8), 0);
	ht_release(&hc);

	prevent(&ht_nexus, 1);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 128);
	ht_assert_good(&hc);
	assert_true(hc.c.buf[16 + 6] & 0x02); /* LOCK STATE */
	ht_release(&hc);
	prevent(&ht_nexus, 0);

	/* MODE SENSE (6) page 01h. */
	run_in(&hc, &ht_nexus, CD_LUN, cdb6, 6, 255);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[3], 8);
	assert_int_equal(hc.c.buf[12] & 0x3f, 0x01);
	assert_int_equal(hc.c.buf[13], 0x0a);
	ht_release(&hc);
}

/* ---- READ DISC / TRACK INFORMATION ---- */

static void test_disc_info(void **state)
{
	uint8_t cdb[10] = {0x51, 0, 0, 0, 0, 0, 0, 0, 64, 0};
	struct ht_cmd hc;

	run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 64);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 34);
	assert_int_equal(get_be16(hc.c.buf), 32);
	assert_int_equal(hc.c.buf[2], 0x0e); /* complete, complete */
	assert_int_equal(hc.c.buf[3], 1);
	assert_int_equal(hc.c.buf[4], 1);
	assert_int_equal(hc.c.buf[5], 1);
	assert_int_equal(hc.c.buf[6], 1);
	ht_release(&hc);
	for (uint8_t t = 1; t < 8; t++) {
		cdb[1] = t;
		expect_in_invalid(CD_LUN, cdb, 10, 1, 2);
	}
}

static void track_cdb(uint8_t *cdb, uint8_t type, uint32_t addr)
{
	memset(cdb, 0, 10);
	cdb[0] = 0x52;
	cdb[1] = type;
	put_be32(cdb + 2, addr);
	put_be16(cdb + 7, 64);
}

static void test_track_info(void **state)
{
	const struct {
		uint8_t type;
		uint32_t addr;
	} good[] = {{0, 0}, {0, CD_BLOCKS - 1}, {1, 1}, {2, 1}};
	uint8_t cdb[10];
	struct ht_cmd hc;

	for (unsigned i = 0; i < 4; i++) {
		track_cdb(cdb, good[i].type, good[i].addr);
		run_in(&hc, &ht_nexus, CD_LUN, cdb, 10, 64);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.data_len, 48);
		assert_int_equal(get_be16(hc.c.buf), 46);
		assert_int_equal(hc.c.buf[2], 1);
		assert_int_equal(hc.c.buf[3], 1);
		assert_int_equal(hc.c.buf[5] & 0x0f, 4);
		assert_int_equal(get_be32(hc.c.buf + 8), 0);
		assert_int_equal(get_be32(hc.c.buf + 24), CD_BLOCKS);
		ht_release(&hc);
	}
	/* The lead-out is no track; nor are 0, 2, AAh, FFh. */
	track_cdb(cdb, 0, CD_BLOCKS);
	expect_in_sense(&ht_nexus, CD_LUN, cdb, 10, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	track_cdb(cdb, 1, 0);
	expect_in_invalid(CD_LUN, cdb, 10, 2, 7);
	track_cdb(cdb, 1, 2);
	expect_in_invalid(CD_LUN, cdb, 10, 2, 7);
	track_cdb(cdb, 1, 0xaa);
	expect_in_invalid(CD_LUN, cdb, 10, 2, 7);
	track_cdb(cdb, 1, 0xff);
	expect_in_invalid(CD_LUN, cdb, 10, 2, 7);
	track_cdb(cdb, 2, 2);
	expect_in_invalid(CD_LUN, cdb, 10, 2, 7);
	track_cdb(cdb, 3, 1);
	expect_in_invalid(CD_LUN, cdb, 10, 1, 1);
}

/* ---- READ DVD STRUCTURE ---- */

static void dvd_cdb(uint8_t *cdb, uint8_t format, uint8_t layer, uint16_t alloc)
{
	memset(cdb, 0, 12);
	cdb[0] = 0xad;
	cdb[6] = layer;
	cdb[7] = format;
	put_be16(cdb + 8, alloc);
}

static void test_dvd_structure(void **state)
{
	uint64_t blocks = DVD_SIZE / BS;
	uint8_t cdb[12];
	struct ht_cmd hc;

	dvd_cdb(cdb, 0, 0, 4096);
	run_in(&hc, &ht_nexus, DVD_LUN, cdb, 12, 4096);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 2052);
	assert_int_equal(get_be16(hc.c.buf), 2050);
	assert_int_equal(hc.c.buf[4] >> 4, 0);	     /* DVD-ROM */
	assert_int_equal(hc.c.buf[5] >> 4, 0);	     /* 120 mm */
	assert_int_equal((hc.c.buf[6] >> 5) & 3, 0); /* one layer */
	assert_int_equal(get_be32(hc.c.buf + 8), 0x30000);
	assert_int_equal(get_be32(hc.c.buf + 12), 0x30000 + blocks - 1);
	ht_release(&hc);

	dvd_cdb(cdb, 0xff, 0, 4096);
	run_in(&hc, &ht_nexus, DVD_LUN, cdb, 12, 4096);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 12);
	assert_int_equal(get_be16(hc.c.buf), 10);
	assert_int_equal(hc.c.buf[4], 0x00);
	assert_true(hc.c.buf[5] & 0x40);
	assert_int_equal(hc.c.buf[8], 0xff);
	ht_release(&hc);

	/* Truncated. */
	dvd_cdb(cdb, 0, 0, 16);
	run_in(&hc, &ht_nexus, DVD_LUN, cdb, 12, 16);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 16);
	ht_release(&hc);

	dvd_cdb(cdb, 0x01, 0, 4096);
	expect_in_invalid(DVD_LUN, cdb, 12, 7, 7);
	dvd_cdb(cdb, 0x00, 1, 4096);
	expect_in_invalid(DVD_LUN, cdb, 12, 6, 7);
	dvd_cdb(cdb, 0x00, 0, 4096);
	cdb[1] = 0x01; /* BD */
	expect_in_invalid(DVD_LUN, cdb, 12, 1, 3);

	/* A CD has no DVD structures. */
	dvd_cdb(cdb, 0, 0, 4096);
	expect_in_sense(&ht_nexus, CD_LUN, cdb, 12, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INCOMPATIBLE_MEDIUM);
}

/* ---- MECHANISM STATUS, SET CD SPEED ---- */

static void test_mechanism_status(void **state)
{
	const uint8_t cdb[12] = {0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0};
	struct ht_cmd hc;

	run_in(&hc, &ht_nexus, CD_LUN, cdb, 12, 64);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(hc.c.buf[1] & 0x10, 0); /* door closed */
	assert_int_equal(hc.c.buf[5], 0);	 /* no slots */
	assert_int_equal(get_be16(hc.c.buf + 6), 0);
	ht_release(&hc);
	ssu(&ht_nexus, EJECT, true);
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 12, 64);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1] & 0x10, 0x10); /* open */
	ht_release(&hc);
}

static void test_set_cd_speed(void **state)
{
	uint8_t cdb[12] = {0xbb, 0, 0xff, 0xff, 0xff, 0xff};

	ht_expect_good(&ht_nexus, CD_LUN, cdb, 12);
	cdb[1] = 0x01; /* CAV */
	ht_expect_good(&ht_nexus, CD_LUN, cdb, 12);
	cdb[1] = 0x02;
	ht_expect_invalid_field(&ht_nexus, CD_LUN, cdb, 12, SCSI_DIR_NONE, 0, 1,
				1);
}

/* ---- the table as REPORT SUPPORTED OPERATION CODES shows it ---- */

static void test_report_opcodes(void **state)
{
	uint8_t cdb[12] = {0xa3, 0x0c, 0x01, 0x4a, 0, 0, 0, 0, 0x01, 0, 0, 0};
	struct ht_cmd hc;

	run_in(&hc, &ht_nexus, CD_LUN, cdb, 12, 256);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1] & 0x07, 0x03);
	assert_int_equal(get_be16(hc.c.buf + 2), 10);
	assert_int_equal(hc.c.buf[4], 0x4a);
	assert_int_equal(hc.c.buf[5], 0x01);
	ht_release(&hc);
	cdb[3] = 0x2a; /* WRITE (10): not supported */
	run_in(&hc, &ht_nexus, CD_LUN, cdb, 12, 256);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1] & 0x07, 0x01);
	ht_release(&hc);
}

/* ---- the opcode table's CDB usage data against the parsers ---- */

/* A CDB each row of the cd's table runs with GOOD status (READ DVD
 * STRUCTURE on the DVD-sized LU). */
static void base_cdb(const struct scsi_op *op, uint8_t *cdb)
{
	memset(cdb, 0, SCSI_CDB_MAX);
	cdb[0] = op->opcode;
	if (op->flags & SCSI_OP_SA)
		cdb[1] = (uint8_t)op->service_action;
	switch (op->opcode) {
	case 0x00: /* TEST UNIT READY, READ CAPACITY, PREVENT (allow), */
	case 0x25: /* RESERVE and RELEASE (6)/(10), SET CD SPEED */
	case 0x1e:
	case 0x16:
	case 0x17:
	case 0x56:
	case 0x57:
	case 0xbb:
		break;
	case 0x03: /* REQUEST SENSE */
		cdb[4] = 18;
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
	case 0x5a: /* MODE SENSE (10) */
		cdb[2] = 0x3f;
		put_be16(cdb + 7, 512);
		break;
	case 0x1b: /* START STOP UNIT: START, no LoEj */
		cdb[4] = 0x01;
		break;
	case 0x28: /* READ (10)/(12): block 1 */
		cdb[5] = 1;
		cdb[8] = 1;
		break;
	case 0xa8:
		cdb[5] = 1;
		cdb[9] = 1;
		break;
	case 0x43: /* READ TOC, GET CONFIGURATION, READ DISC INFORMATION */
	case 0x46:
	case 0x51:
		put_be16(cdb + 7, 100);
		break;
	case 0x4a: /* GET EVENT STATUS NOTIFICATION: media, polled */
		cdb[1] = 0x01;
		cdb[4] = 0x10;
		put_be16(cdb + 7, 8);
		break;
	case 0x52: /* READ TRACK INFORMATION of track 1 */
		cdb[1] = 0x01;
		cdb[5] = 1;
		put_be16(cdb + 7, 64);
		break;
	case 0xad: /* READ DVD STRUCTURE: physical format */
		put_be16(cdb + 8, 1024);
		break;
	case 0xbd: /* MECHANISM STATUS */
		put_be16(cdb + 8, 8);
		break;
	case 0xa0: /* REPORT LUNS */
	case 0xa3: /* MAINTENANCE IN */
		put_be32(cdb + 6, 1024);
		break;
	default:
		fail_msg("no base CDB for %s: add one to this test", op->name);
	}
}

static void run_row(const struct scsi_op *op, const uint8_t *cdb,
		    struct ht_outcome *o)
{
	uint64_t lun = op->opcode == 0xad ? DVD_LUN : CD_LUN;
	struct ht_cmd hc;

	ht_exec(&hc, &ht_nexus, lun, cdb, op->cdb_len, op->dir,
		op->dir == SCSI_DIR_WRITE ? 0 : sizeof(o->data), NULL);
	ht_outcome_of(&hc, o);
	ht_release(&hc);
}

/* Every row's ignored bits are ignored (ht_check_usage_zero_bits). */
static void test_usage_zero_bits_are_ignored(void **state)
{
	/* The first poll reports the medium found; later ones nothing. */
	assert_int_equal(gesn_media(&ht_nexus, NULL), 2);
	for (unsigned i = 0; i < mmc_cd_type.nr_ops; i++) {
		const struct scsi_op *op = mmc_cd_type.ops[i];
		struct ht_outcome want;
		uint8_t cdb[SCSI_CDB_MAX];

		if (op->supported && !op->supported(ht_lu(CD_LUN)))
			continue;
		base_cdb(op, cdb);
		run_row(op, cdb, &want);
		if (want.status != SAM_STAT_GOOD)
			fail_msg("%s: the base CDB fails (sense %02x/%02x)",
				 op->name, want.sense[12], want.sense[13]);
		ht_check_usage_zero_bits(op, base_cdb, run_row, &want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    mmc_test(test_check_params),
	    mmc_test(test_inquiry),
	    mmc_test(test_read_capacity),
	    mmc_test(test_read),
	    mmc_test(test_read_store_error),
	    mmc_test(test_writes_absent),
	    mmc_test(test_toc_formatted),
	    mmc_test(test_toc_session_and_full),
	    mmc_test(test_get_configuration),
	    mmc_test(test_gesn_sequence),
	    mmc_test(test_gesn_per_nexus),
	    mmc_test(test_gesn_cdb),
	    mmc_test(test_eject_load),
	    mmc_test(test_ssu_cdb),
	    mmc_test(test_prevent),
	    mmc_test(test_mode_sense),
	    mmc_test(test_disc_info),
	    mmc_test(test_track_info),
	    mmc_test(test_dvd_structure),
	    mmc_test(test_mechanism_status),
	    mmc_test(test_set_cd_speed),
	    mmc_test(test_report_opcodes),
	    mmc_test(test_usage_zero_bits_are_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
