/*
 * Unit tests of the SCSI core and the SPC-5 commands every device type
 * shares: dispatch and CDB checks, sense data, unit attentions (POWER ON
 * RESET, LU reset, LUN inventory changes), LUN addressing and the LUN
 * map, INQUIRY (standard data and VPD 00h/80h/83h), REPORT LUNS, REQUEST
 * SENSE, MODE SENSE (6)/(10), REPORT SUPPORTED OPERATION CODES against the
 * opcode table it is generated from, REPORT SUPPORTED TASK MANAGEMENT
 * FUNCTIONS, the checks of opcode tables at registration, and the LU
 * create/delete errors admins see.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scsi_harness.h"

static const uint8_t cdb_tur[6] = {0x00};

/* ---- helpers ---- */

static void inquiry(struct ht_cmd *hc, uint64_t lun, bool evpd, uint8_t page,
		    uint16_t alloc)
{
	uint8_t cdb[6] = {0x12, evpd ? 0x01 : 0x00, page};

	put_be16(cdb + 3, alloc);
	ht_exec(hc, &ht_nexus, lun, cdb, 6, SCSI_DIR_READ, alloc, NULL);
}

static void report_luns(struct ht_cmd *hc, struct scsi_nexus *n, uint64_t lun,
			uint8_t select, uint32_t alloc)
{
	uint8_t cdb[12] = {0xa0, 0, select};

	put_be32(cdb + 6, alloc);
	ht_exec(hc, n, lun, cdb, 12, SCSI_DIR_READ, alloc, NULL);
}

static void mode_sense6(struct ht_cmd *hc, uint8_t flags, uint8_t pc_page,
			uint8_t subpage, uint8_t alloc)
{
	uint8_t cdb[6] = {0x1a, flags, pc_page, subpage, alloc};

	ht_exec(hc, &ht_nexus, 0, cdb, 6, SCSI_DIR_READ, alloc, NULL);
}

static void mode_sense10(struct ht_cmd *hc, uint8_t flags, uint8_t pc_page,
			 uint16_t alloc)
{
	uint8_t cdb[10] = {0x5a, flags, pc_page};

	put_be16(cdb + 7, alloc);
	ht_exec(hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_READ, alloc, NULL);
}

/* Finds a mode page in MODE SENSE data after header and descriptors. */
static const uint8_t *mode_page(const uint8_t *d, size_t len, size_t start,
				uint8_t code)
{
	for (size_t off = start; off + 2 <= len; off += 2 + d[off + 1]) {
		if ((d[off] & 0x3f) == code)
			return d + off;
	}
	return NULL;
}

/* ---- dispatch, CDB checks, sense ---- */

static void test_device_type_registered(void **state)
{
	assert_ptr_equal(scsi_device_type_find("disk"), &sbc_disk_type);
	assert_null(scsi_device_type_find("tape"));
}

static void test_unknown_opcode(void **state)
{
	const uint8_t cdb[6] = {0xc7};

	ht_clear_power_on(&ht_nexus, 0);
	ht_expect_sense(&ht_nexus, 0, cdb, 6, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_OPCODE);
}

static void test_unknown_service_action(void **state)
{
	uint8_t cdb[16] = {0x9e, 0x11};

	ht_clear_power_on(&ht_nexus, 0);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 16, SCSI_DIR_READ, 32, 1, 4);
}

static void test_control_byte(void **state)
{
	uint8_t naca[6] = {0x00, 0, 0, 0, 0, 0x04};
	uint8_t link[6] = {0x00, 0, 0, 0, 0, 0x01};
	uint8_t naca10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0x04};

	ht_clear_power_on(&ht_nexus, 0);
	ht_expect_invalid_field(&ht_nexus, 0, naca, 6, SCSI_DIR_NONE, 0, 5, 2);
	ht_expect_invalid_field(&ht_nexus, 0, link, 6, SCSI_DIR_NONE, 0, 5, 0);
	ht_expect_invalid_field(&ht_nexus, 0, naca10, 10, SCSI_DIR_READ, 512, 9,
				2);
}

static void test_short_cdb(void **state)
{
	struct ht_cmd hc;
	uint8_t cdb[32] = {0x88};

	ht_clear_power_on(&ht_nexus, 0);
	ht_cmd_init(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_READ, 512, NULL);
	hc.c.cdb_len = 10; /* a transport that delivered less */
	ht_run(&hc);
	ht_assert_invalid_field(&hc, 0, 7);
	ht_release(&hc);
}

static void test_sense_builders(void **state)
{
	struct scsi_sense_info si;
	uint8_t s[64];
	size_t len;

	scsi_sense_info_init(&si, SCSI_SK_MEDIUM_ERROR,
			     SCSI_ASC_UNRECOVERED_READ_ERROR);
	si.info_valid = true;
	si.info = 0x1234;
	scsi_sense_field_pointer(&si, true, 0x0102, 3);
	memset(s, 0xee, sizeof(s));
	len = scsi_sense_build(s, sizeof(s), false, &si);
	assert_int_equal(len, 18);
	assert_int_equal(s[0], 0xf0); /* VALID, current, fixed */
	assert_int_equal(s[2], SCSI_SK_MEDIUM_ERROR);
	assert_int_equal(get_be32(s + 3), 0x1234);
	assert_int_equal(s[7], 10);
	assert_int_equal(s[12], 0x11);
	assert_int_equal(s[13], 0x00);
	assert_int_equal(s[15], 0x80 | 0x40 | 0x08 | 3);
	assert_int_equal(get_be16(s + 16), 0x0102);

	len = scsi_sense_build(s, sizeof(s), true, &si);
	assert_int_equal(len, 8 + 12 + 8);
	assert_int_equal(s[0], 0x72);
	assert_int_equal(s[1], SCSI_SK_MEDIUM_ERROR);
	assert_int_equal(s[2], 0x11);
	assert_int_equal(s[7], 20);
	assert_int_equal(s[8], 0x00); /* information descriptor */
	assert_int_equal(s[9], 0x0a);
	assert_int_equal(s[10], 0x80);
	assert_int_equal(get_be64(s + 12), 0x1234);
	assert_int_equal(s[20], 0x02); /* sense key specific descriptor */
	assert_int_equal(s[21], 0x06);
	assert_int_equal(s[24], 0x80 | 0x40 | 0x08 | 3);

	/* An INFORMATION value over 32 bits cannot be VALID in 70h. */
	si.info = 1ull << 40;
	scsi_sense_build(s, sizeof(s), false, &si);
	assert_int_equal(s[0], 0x70);
	/* Truncation keeps the full length as the answer. */
	assert_int_equal(scsi_sense_build(s, 4, false, &si), 18);
}

/* ---- unit attentions ---- */

static void test_power_on_ua_sequence(void **state)
{
	struct ht_cmd hc;

	/* INQUIRY runs and leaves the UA pending. */
	inquiry(&hc, 0, false, 0, 96);
	ht_assert_good(&hc);
	ht_release(&hc);
	/* REPORT LUNS too. */
	report_luns(&hc, &ht_nexus, 0, 0, 64);
	ht_assert_good(&hc);
	ht_release(&hc);
	/* Anything else reports it, once. */
	ht_expect_sense(&ht_nexus, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_POWER_ON_RESET);
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
}

static void test_power_on_ua_takes_precedence(void **state)
{
	const uint8_t bad[6] = {0xc7};

	/* A UA comes before the opcode check. */
	ht_expect_sense(&ht_nexus, 0, bad, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_POWER_ON_RESET);
	ht_expect_sense(&ht_nexus, 0, bad, 6, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_OPCODE);
}

static void test_request_sense_reports_ua(void **state)
{
	const uint8_t cdb[6] = {0x03, 0, 0, 0, 252};
	const uint8_t desc[6] = {0x03, 0x01, 0, 0, 252};
	struct ht_cmd hc;

	ht_exec(&hc, &ht_nexus, 0, cdb, 6, SCSI_DIR_READ, 252, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 18);
	assert_int_equal(hc.c.buf[0], 0x70);
	assert_int_equal(hc.c.buf[2], SCSI_SK_UNIT_ATTENTION);
	assert_int_equal(hc.c.buf[12], 0x29);
	assert_int_equal(hc.c.buf[13], 0x00);
	ht_release(&hc);
	/* Reported, hence cleared. */
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	/* Nothing pending: NO SENSE, in descriptor format when asked. */
	ht_exec(&hc, &ht_nexus, 0, desc, 6, SCSI_DIR_READ, 252, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(hc.c.buf[0], 0x72);
	assert_int_equal(hc.c.buf[1], SCSI_SK_NO_SENSE);
	assert_int_equal(hc.c.buf[2], 0);
	ht_release(&hc);
	/* Allocation length honoured. */
	ht_exec(&hc, &ht_nexus, 0, (const uint8_t[6]){0x03, 0, 0, 0, 7}, 6,
		SCSI_DIR_READ, 7, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 7);
	ht_release(&hc);
}

static void test_ua_per_nexus_and_lu_reset(void **state)
{
	struct scsi_nexus b;
	uint8_t raw[8];

	ht_nexus_init(&b, HT_INITIATOR "-b");
	ht_clear_power_on(&ht_nexus, 0);
	/* The other nexus has its own POWER ON RESET. */
	ht_clear_power_on(&b, 0);
	/* A LU reset through nexus a tells every nexus, a included. */
	scsi_lun_encode(0, raw);
	assert_true(scsi_nexus_has_lun(&ht_nexus, raw));
	scsi_lu_reset_by(&ht_nexus, raw);
	ht_expect_sense(&ht_nexus, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET);
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	ht_expect_sense(&b, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET);
	ht_expect_good(&b, 0, cdb_tur, 6);
	/* A reset of a LUN without a LU changes nothing. */
	scsi_lun_encode(9, raw);
	scsi_lu_reset_by(&ht_nexus, raw);
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	/* The same initiator port after its nexus was lost sees only that
	 * loss; a port never seen before sees a power on. */
	ht_nexus_release(&b);
	ht_nexus_init(&b, HT_INITIATOR "-b");
	ht_clear_nexus_loss(&b, 0);
	ht_nexus_release(&b);
	ht_nexus_init(&b, HT_INITIATOR "-c");
	ht_clear_power_on(&b, 0);
	ht_nexus_release(&b);
}

/* ---- LUNs and the LUN map ---- */

static void test_lun_codec(void **state)
{
	uint8_t raw[8];
	uint64_t lun;

	scsi_lun_encode(5, raw);
	assert_memory_equal(raw, ((uint8_t[8]){0, 5}), 8);
	scsi_lun_encode(300, raw);
	assert_memory_equal(raw, ((uint8_t[8]){0x41, 0x2c}), 8);
	scsi_lun_encode(16383, raw);
	assert_memory_equal(raw, ((uint8_t[8]){0x7f, 0xff}), 8);
	assert_true(scsi_lun_decode(raw, &lun));
	assert_int_equal(lun, 16383);
	/* Flat space addressing of a small LUN is the same LUN. */
	assert_true(scsi_lun_decode((uint8_t[8]){0x40, 0x05}, &lun));
	assert_int_equal(lun, 5);
	/* Peripheral addressing with a bus, second levels, extended: no. */
	assert_false(scsi_lun_decode((uint8_t[8]){0x01, 0x05}, &lun));
	assert_false(scsi_lun_decode((uint8_t[8]){0, 1, 0, 1}, &lun));
	assert_false(scsi_lun_decode((uint8_t[8]){0xc0, 0}, &lun));
	assert_false(scsi_lun_decode((uint8_t[8]){0x80, 0}, &lun));
}

static void test_lun_without_lu(void **state)
{
	const uint8_t rs[6] = {0x03, 0, 0, 0, 18};
	struct ht_cmd hc;

	/* TEST UNIT READY to LUN 7: LOGICAL UNIT NOT SUPPORTED. */
	ht_expect_sense(&ht_nexus, 7, cdb_tur, 6, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LU_NOT_SUPPORTED);
	/* INQUIRY: peripheral qualifier 011b, type 1Fh. */
	inquiry(&hc, 7, false, 0, 96);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[0], 0x7f);
	ht_release(&hc);
	/* VPD 00h is all there is. */
	inquiry(&hc, 7, true, 0x00, 255);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 5);
	assert_int_equal(hc.c.buf[0], 0x7f);
	assert_int_equal(hc.c.buf[4], 0x00);
	ht_release(&hc);
	ht_expect_invalid_field(&ht_nexus, 7,
				(const uint8_t[6]){0x12, 1, 0x80, 0, 255}, 6,
				SCSI_DIR_READ, 255, 2, 7);
	/* REQUEST SENSE: GOOD with the sense data as data. */
	ht_exec(&hc, &ht_nexus, 7, rs, 6, SCSI_DIR_READ, 18, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 18);
	assert_int_equal(hc.c.buf[2], SCSI_SK_ILLEGAL_REQUEST);
	assert_int_equal(hc.c.buf[12], 0x25);
	ht_release(&hc);
	/* An address form we do not use names no LU either. */
	ht_cmd_init(&hc, &ht_nexus, 0, cdb_tur, 6, SCSI_DIR_NONE, 0, NULL);
	hc.c.lun_raw[0] = 0xc0;
	ht_run(&hc);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LU_NOT_SUPPORTED);
	ht_release(&hc);
	assert_false(scsi_nexus_has_lun(&ht_nexus, (uint8_t[8]){0, 7}));
}

static void test_report_luns(void **state)
{
	struct ht_cmd hc;

	assert_int_equal(ht_lu_add(1, HT_LU_SIZE, 512, false), 0);
	assert_int_equal(ht_lu_add(300, HT_LU_SIZE, 4096, false), 0);
	ht_clear_power_on(&ht_nexus, 0);
	report_luns(&hc, &ht_nexus, 0, 0x00, 4096);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 32);
	assert_int_equal(hc.c.cdb_xfer_len, 4096);
	assert_int_equal(get_be32(hc.c.buf), 24);
	assert_memory_equal(hc.c.buf + 8, ((uint8_t[8]){0, 0}), 8);
	assert_memory_equal(hc.c.buf + 16, ((uint8_t[8]){0, 1}), 8);
	/* 300 >= 256: flat space addressing. */
	assert_memory_equal(hc.c.buf + 24, ((uint8_t[8]){0x41, 0x2c}), 8);
	ht_release(&hc);
	/* Truncated by the allocation length; the length says it all. */
	report_luns(&hc, &ht_nexus, 0, 0x02, 20);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 20);
	assert_int_equal(get_be32(hc.c.buf), 24);
	ht_release(&hc);
	/* A 4 GiB allocation length buys a buffer the size of the answer
	 * at most, not 4 GiB. */
	report_luns(&hc, &ht_nexus, 0, 0x00, 0xffffffffu);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.cdb_xfer_len, 0xffffffffu);
	assert_in_range(hc.c.xfer_len, 32, 8 + 8 * 16384);
	assert_int_equal(hc.c.data_len, 32);
	ht_release(&hc);
	/* Well known LUs only: none. */
	report_luns(&hc, &ht_nexus, 0, 0x01, 64);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(get_be32(hc.c.buf), 0);
	ht_release(&hc);
	/* Errors: allocation length under 16, unknown SELECT REPORT. */
	report_luns(&hc, &ht_nexus, 0, 0x00, 15);
	ht_assert_invalid_field(&hc, 6, 7);
	ht_release(&hc);
	report_luns(&hc, &ht_nexus, 0, 0x03, 64);
	ht_assert_invalid_field(&hc, 2, 7);
	ht_release(&hc);
	report_luns(&hc, &ht_nexus, 0, 0x12, 64);
	ht_assert_invalid_field(&hc, 2, 7);
	ht_release(&hc);
	/* Addressed to a LUN without a LU (LUN 9), and with a UA pending on
	 * LUN 1 (not reported by REPORT LUNS). */
	report_luns(&hc, &ht_nexus, 9, 0x00, 64);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), 24);
	ht_release(&hc);
	report_luns(&hc, &ht_nexus, 1, 0x00, 64);
	ht_assert_good(&hc);
	ht_release(&hc);
	ht_clear_power_on(&ht_nexus, 1);
}

static void test_report_luns_only_lun1(void **state)
{
	struct ht_cmd hc;

	/* Only LUN 1 exists: REPORT LUNS to LUN 0 still works. */
	assert_int_equal(ht_lu_add(1, HT_LU_SIZE, 512, false), 0);
	assert_int_equal(scsi_lu_delete(ht_target, 0), 0);
	report_luns(&hc, &ht_nexus, 0, 0x00, 16);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), 8);
	assert_memory_equal(hc.c.buf + 8, ((uint8_t[8]){0, 1}), 8);
	ht_release(&hc);
}

static void test_lun_map_changes(void **state)
{
	struct ht_cmd hc;

	ht_clear_power_on(&ht_nexus, 0);
	/* A new LU: the nexus picks the map up on its next command; the
	 * LU it knew hears that the inventory changed. */
	assert_int_equal(ht_lu_add(2, HT_LU_SIZE, 512, false), 0);
	ht_expect_sense(&ht_nexus, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_REPORTED_LUNS_CHANGED);
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	ht_clear_power_on(&ht_nexus, 2);
	/* REPORT LUNS clears a pending inventory change. */
	assert_int_equal(ht_lu_add(3, HT_LU_SIZE, 512, false), 0);
	report_luns(&hc, &ht_nexus, 0, 0x00, 64);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), 24);
	ht_release(&hc);
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	/* A deleted LU is gone for the nexus; its ITL went with it. */
	assert_int_equal(scsi_lu_delete(ht_target, 2), 0);
	assert_int_equal(scsi_lu_delete(ht_target, 2), -ENOENT);
	ht_expect_sense(&ht_nexus, 2, cdb_tur, 6, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LU_NOT_SUPPORTED);
	/* Re-created, it is a new LU: power on again. */
	assert_int_equal(ht_lu_add(2, HT_LU_SIZE, 512, false), 0);
	ht_clear_power_on(&ht_nexus, 2);
}

static void test_lu_delete_with_command_in_flight(void **state)
{
	const uint8_t read10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1};
	struct ht_store *s;
	struct ht_cmd hc;

	ht_clear_power_on(&ht_nexus, 0);
	s = ht_store(0);
	s->hold = true;
	ht_cmd_init(&hc, &ht_nexus, 0, read10, 10, SCSI_DIR_READ, 512, NULL);
	ht_start(&hc);
	assert_false(hc.finished);
	/* Deleted while the store holds the read: nothing is freed under
	 * it, the command completes, the LU goes with its release. */
	assert_int_equal(scsi_lu_delete(ht_target, 0), 0);
	ht_expect_sense(&ht_nexus, 0, cdb_tur, 6, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LU_NOT_SUPPORTED);
	ht_store_release(s);
	ht_wait(&hc);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 512);
	ht_release(&hc);
}

static void test_lu_create_errors(void **state)
{
	struct scsi_lu_params p;
	char err[256];

	memset(&p, 0, sizeof(p));
	snprintf(p.bstype, sizeof(p.bstype), "scsi-test-mem");
	p.size = HT_LU_SIZE;
	assert_int_equal(scsi_lu_create(ht_target, 0, &p, err, sizeof(err)),
			 -EEXIST);
	assert_string_equal(err, "target " HT_TARGET " already has LUN 0; "
				 "delete it first or pick another LUN");
	assert_int_equal(scsi_lu_create(ht_target, 16384, &p, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "0..16383"));
	p.block_size = 1024;
	assert_int_equal(scsi_lu_create(ht_target, 1, &p, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "use 512 or 4096"));
	p.block_size = 4096;
	p.size = 4096 * 3 + 512;
	assert_int_equal(scsi_lu_create(ht_target, 1, &p, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a multiple"));
	p.size = 512;
	assert_int_equal(scsi_lu_create(ht_target, 1, &p, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "smaller than one 4096-byte block"));
	p.size = HT_LU_SIZE;
	snprintf(p.bstype, sizeof(p.bstype), "foo");
	assert_int_equal(scsi_lu_create(ht_target, 1, &p, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bstype 'foo' unknown; known: "));
	assert_non_null(strstr(err, "scsi-test-mem"));
	snprintf(p.bstype, sizeof(p.bstype), "scsi-test-mem");
	snprintf(p.serial, sizeof(p.serial), "bad serial");
	assert_int_equal(scsi_lu_create(ht_target, 1, &p, err, sizeof(err)),
			 -EINVAL);
	/* The store's own refusal comes through as it wrote it. */
	p.serial[0] = '\0';
	p.size = 0;
	assert_int_equal(scsi_lu_create(ht_target, 1, &p, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "scsi-test-mem needs a size");
	assert_null(ht_lu(1));
}

/* ---- INQUIRY ---- */

static void test_inquiry_standard(void **state)
{
	const uint8_t *d;
	struct ht_cmd hc;
	bool spc5 = false, sbc3 = false, sbc4 = false;

	inquiry(&hc, 0, false, 0, 260);
	ht_assert_good(&hc);
	d = hc.c.buf;
	assert_int_equal(hc.c.data_len, 96);
	assert_int_equal(d[0], 0x00);	     /* connected disk */
	assert_int_equal(d[1], 0x00);	     /* not removable */
	assert_int_equal(d[2], 0x06);	     /* VERSION */
	assert_int_equal(d[3], 0x12);	     /* HISUP, format 2 */
	assert_int_equal(d[4], 96 - 5);	     /* ADDITIONAL LENGTH */
	assert_int_equal(d[7] & 0x02, 0x02); /* CMDQUE */
	assert_memory_equal(d + 8, "LUNAR   ", 8);
	assert_memory_equal(d + 16, "VIRTUAL DISK    ", 16);
	assert_memory_equal(d + 32, "0.1 ", 4);
	for (int i = 0; i < 8; i++) {
		uint16_t v = get_be16(d + 58 + 2 * i);

		spc5 |= v == 0x05c0;
		sbc3 |= v == 0x04c0;
		sbc4 |= v == 0x0600;
	}
	assert_true(spc5 && sbc3 && sbc4);
	ht_release(&hc);
}

static void test_inquiry_alloc_length(void **state)
{
	uint8_t full[96];
	struct ht_cmd hc;

	inquiry(&hc, 0, false, 0, 255);
	memcpy(full, hc.c.buf, sizeof(full));
	ht_release(&hc);
	for (unsigned alloc = 0; alloc < 300; alloc += 7) {
		inquiry(&hc, 0, false, 0, (uint16_t)alloc);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.cdb_xfer_len, alloc);
		assert_int_equal(hc.c.data_len, alloc < 96 ? alloc : 96);
		if (hc.c.data_len)
			assert_memory_equal(hc.c.buf, full, hc.c.data_len);
		ht_release(&hc);
	}
	/* EDTL below the allocation length cuts the data, not the CDB. */
	ht_exec(&hc, &ht_nexus, 0, (const uint8_t[6]){0x12, 0, 0, 0, 255}, 6,
		SCSI_DIR_READ, 40, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.cdb_xfer_len, 255);
	assert_int_equal(hc.c.xfer_len, 40);
	assert_int_equal(hc.c.data_len, 40);
	ht_release(&hc);
}

static void test_inquiry_invalid(void **state)
{
	/* EVPD=0 with a page code; CMDDT; a VPD page that does not exist. */
	ht_expect_invalid_field(&ht_nexus, 0,
				(const uint8_t[6]){0x12, 0, 1, 0, 255}, 6,
				SCSI_DIR_READ, 255, 2, 7);
	ht_expect_invalid_field(&ht_nexus, 0,
				(const uint8_t[6]){0x12, 2, 0, 0, 255}, 6,
				SCSI_DIR_READ, 255, 1, 1);
	ht_expect_invalid_field(&ht_nexus, 0,
				(const uint8_t[6]){0x12, 1, 0x99, 0, 255}, 6,
				SCSI_DIR_READ, 255, 2, 7);
}

static void test_vpd_supported_pages(void **state)
{
	const uint8_t want[] = {0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1, 0xb2};
	struct ht_cmd hc;

	inquiry(&hc, 0, true, 0x00, 255);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[0], 0x00);
	assert_int_equal(hc.c.buf[1], 0x00);
	assert_int_equal(get_be16(hc.c.buf + 2), sizeof(want));
	assert_memory_equal(hc.c.buf + 4, want, sizeof(want));
	ht_release(&hc);
	/* Every page listed answers, its length matching its data. */
	for (unsigned i = 0; i < sizeof(want); i++) {
		inquiry(&hc, 0, true, want[i], 1024);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.buf[1], want[i]);
		assert_int_equal(hc.c.data_len, get_be16(hc.c.buf + 2) + 4);
		ht_release(&hc);
	}
}

static void read_serial(uint64_t lun, char *out)
{
	struct ht_cmd hc;

	inquiry(&hc, lun, true, 0x80, 255);
	ht_assert_good(&hc);
	memcpy(out, hc.c.buf + 4, get_be16(hc.c.buf + 2));
	out[get_be16(hc.c.buf + 2)] = '\0';
	ht_release(&hc);
}

static void read_naa(uint64_t lun, uint8_t naa[16])
{
	struct ht_cmd hc;

	inquiry(&hc, lun, true, 0x83, 1024);
	ht_assert_good(&hc);
	memcpy(naa, hc.c.buf + 8, 16);
	ht_release(&hc);
}

static void test_vpd_serial_and_naa_stable(void **state)
{
	char s0[40], s1[40], again[40];
	uint8_t n0[16], n1[16], n_again[16];
	struct scsi_lu_params p;
	char err[256];

	assert_int_equal(ht_lu_add(1, HT_LU_SIZE, 512, false), 0);
	read_serial(0, s0);
	read_serial(1, s1);
	read_naa(0, n0);
	read_naa(1, n1);
	assert_int_equal(strlen(s0), 16);
	assert_string_not_equal(s0, s1);
	assert_memory_not_equal(n0, n1, 16);
	/* NAA 6h with our company ID. */
	assert_int_equal(n0[0] >> 4, 6);
	assert_int_equal(n0[0] & 0x0f, 0x0);
	assert_int_equal(n0[1], 0xa4);
	assert_int_equal(n0[2], 0xc5);
	assert_int_equal(n0[3] >> 4, 0x5);
	/* Deleting and re-creating (a restart) gives the same identity. */
	assert_int_equal(scsi_lu_delete(ht_target, 1), 0);
	assert_int_equal(ht_lu_add(1, HT_LU_SIZE, 512, false), 0);
	read_serial(1, again);
	read_naa(1, n_again);
	assert_string_equal(s1, again);
	assert_memory_equal(n1, n_again, 16);
	/* A configured serial is reported and drives the NAA. */
	memset(&p, 0, sizeof(p));
	snprintf(p.bstype, sizeof(p.bstype), "scsi-test-mem");
	snprintf(p.serial, sizeof(p.serial), "SN-0042");
	p.size = HT_LU_SIZE;
	assert_int_equal(scsi_lu_create(ht_target, 5, &p, err, sizeof(err)), 0);
	read_serial(5, again);
	assert_string_equal(again, "SN-0042");
	read_naa(5, n_again);
	assert_memory_not_equal(n_again, n1, 16);
}

static void test_vpd_device_identification(void **state)
{
	const uint8_t *d, *end;
	struct ht_cmd hc;
	bool naa = false, t10 = false, relport = false, port = false,
	     dev = false;
	char serial[40];

	read_serial(0, serial);
	inquiry(&hc, 0, true, 0x83, 1024);
	ht_assert_good(&hc);
	d = hc.c.buf + 4;
	end = hc.c.buf + hc.c.data_len;
	while (d + 4 <= end) {
		uint8_t code_set = d[0] & 0x0f, assoc = (d[1] >> 4) & 3;
		uint8_t type = d[1] & 0x0f, len = d[3];

		assert_true(d + 4 + len <= end);
		if (type == 3 && assoc == 0) {
			naa = true;
			assert_int_equal(code_set, 1);
			assert_int_equal(len, 16);
		} else if (type == 1 && assoc == 0) {
			t10 = true;
			assert_int_equal(code_set, 2);
			assert_memory_equal(d + 4, "LUNAR   ", 8);
			assert_memory_equal(d + 12, serial, strlen(serial));
		} else if (type == 4 && assoc == 1) {
			relport = true;
			assert_int_equal(len, 4);
			assert_int_equal(get_be16(d + 6), ht_nexus.rel_port_id);
			assert_int_not_equal(ht_nexus.rel_port_id, 0);
		} else if (type == 8 && assoc == 1) {
			port = true;
			assert_int_equal(code_set, 3);
			assert_int_equal(len % 4, 0);
			assert_string_equal((const char *)d + 4,
					    HT_TARGET ",t,0x0001");
		} else if (type == 8 && assoc == 2) {
			dev = true;
			assert_string_equal((const char *)d + 4, HT_TARGET);
		}
		d += 4 + len;
	}
	assert_ptr_equal(d, end);
	assert_true(naa && t10 && relport && port && dev);
	ht_release(&hc);
}

/* ---- MODE SENSE ---- */

static void test_mode_sense6_all_pages(void **state)
{
	const uint8_t order[] = {0x01, 0x08, 0x0a, 0x1c};
	const uint8_t *d, *p;
	struct ht_cmd hc;
	size_t off;

	ht_clear_power_on(&ht_nexus, 0);
	mode_sense6(&hc, 0, 0x3f, 0, 255);
	ht_assert_good(&hc);
	d = hc.c.buf;
	/* header 4 + block descriptor 8 + 12 + 20 + 12 + 12 */
	assert_int_equal(hc.c.data_len, 4 + 8 + 56);
	assert_int_equal(d[0], hc.c.data_len - 1);
	assert_int_equal(d[1], 0);    /* medium type */
	assert_int_equal(d[2], 0x10); /* DPOFUA, not WP */
	assert_int_equal(d[3], 8);    /* block descriptor length */
	assert_int_equal(get_be32(d + 4), HT_LU_SIZE / 512);
	assert_int_equal(get_be24(d + 9), 512);
	off = 12;
	for (unsigned i = 0; i < sizeof(order); i++) {
		assert_int_equal(d[off] & 0x3f, order[i]);
		off += 2 + d[off + 1];
	}
	assert_int_equal(off, hc.c.data_len);
	/* Caching: WCE. Control: TST 001b, QAM 1, D_SENSE 0. */
	p = mode_page(d, hc.c.data_len, 12, 0x08);
	assert_int_equal(p[1], 0x12);
	assert_int_equal(p[2] & 0x04, 0x04);
	p = mode_page(d, hc.c.data_len, 12, 0x0a);
	assert_int_equal(p[1], 0x0a);
	assert_int_equal(p[2] >> 5, 1);
	assert_int_equal(p[2] & 0x04, 0);
	assert_int_equal(p[3] >> 4, 1);
	p = mode_page(d, hc.c.data_len, 12, 0x1c);
	assert_int_equal(p[2] & 0x08, 0x08);
	ht_release(&hc);
}

static void test_mode_sense6_pages_and_errors(void **state)
{
	struct ht_cmd hc;

	ht_clear_power_on(&ht_nexus, 0);
	/* One page, DBD: no block descriptor. */
	mode_sense6(&hc, 0x08, 0x08, 0, 255);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4 + 20);
	assert_int_equal(hc.c.buf[3], 0);
	assert_int_equal(hc.c.buf[4], 0x08);
	ht_release(&hc);
	/* Changeable values: WCE (test_mode.c checks MODE SELECT). */
	mode_sense6(&hc, 0x08, 0x40 | 0x08, 0, 255);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[4 + 2], 0x04);
	ht_release(&hc);
	/* Default values: WCE. */
	mode_sense6(&hc, 0x08, 0x80 | 0x08, 0, 255);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[4 + 2], 0x04);
	ht_release(&hc);
	/* Saved values: not supported. */
	mode_sense6(&hc, 0, 0xc0 | 0x08, 0, 255);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_SAVING_PARAMS_UNSUPPORTED);
	ht_release(&hc);
	/* A page we do not have; a subpage we do not have. */
	mode_sense6(&hc, 0, 0x05, 0, 255);
	ht_assert_invalid_field(&hc, 2, 5);
	ht_release(&hc);
	mode_sense6(&hc, 0, 0x0a, 0x01, 255);
	ht_assert_invalid_field(&hc, 3, 7);
	ht_release(&hc);
	/* All pages and subpages is all pages. */
	mode_sense6(&hc, 0, 0x3f, 0xff, 255);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4 + 8 + 56);
	ht_release(&hc);
	/* Allocation length 4: the header alone, its length field whole. */
	mode_sense6(&hc, 0, 0x3f, 0, 4);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4);
	assert_int_equal(hc.c.buf[0], 4 + 8 + 56 - 1);
	ht_release(&hc);
}

static void test_mode_sense10(void **state)
{
	struct ht_cmd hc;

	ht_clear_power_on(&ht_nexus, 0);
	mode_sense10(&hc, 0, 0x0a, 512);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8 + 8 + 12);
	assert_int_equal(get_be16(hc.c.buf), hc.c.data_len - 2);
	assert_int_equal(hc.c.buf[3], 0x10);
	assert_int_equal(hc.c.buf[4], 0); /* not LONGLBA */
	assert_int_equal(get_be16(hc.c.buf + 6), 8);
	assert_int_equal(hc.c.buf[16], 0x0a);
	ht_release(&hc);
	/* LLBAA: the long descriptor. */
	mode_sense10(&hc, 0x10, 0x0a, 512);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8 + 16 + 12);
	assert_int_equal(hc.c.buf[4], 0x01);
	assert_int_equal(get_be16(hc.c.buf + 6), 16);
	assert_int_equal(get_be64(hc.c.buf + 8), HT_LU_SIZE / 512);
	assert_int_equal(get_be32(hc.c.buf + 8 + 12), 512);
	ht_release(&hc);
	/* DBD wins over LLBAA. */
	mode_sense10(&hc, 0x18, 0x3f, 512);
	ht_assert_good(&hc);
	assert_int_equal(get_be16(hc.c.buf + 6), 0);
	assert_int_equal(hc.c.data_len, 8 + 56);
	ht_release(&hc);
}

static void test_mode_sense_write_protect(void **state)
{
	struct ht_cmd hc;
	uint8_t cdb[6] = {0x1a, 0x08, 0x3f, 0, 255};

	assert_int_equal(ht_lu_add(4, HT_LU_SIZE, 512, true), 0);
	ht_clear_power_on(&ht_nexus, 4);
	ht_exec(&hc, &ht_nexus, 4, cdb, 6, SCSI_DIR_READ, 255, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[2], 0x80 | 0x10);
	ht_release(&hc);
}

/* ---- REPORT SUPPORTED OPERATION CODES ---- */

#define RSOC_ALL	0
#define RSOC_OPCODE	1
#define RSOC_OPCODE_SA	2
#define RSOC_OPCODE_ANY 3

static void rsoc(struct ht_cmd *hc, uint8_t options, bool rctd, uint8_t opcode,
		 uint16_t sa, uint32_t alloc)
{
	uint8_t cdb[12] = {0xa3, 0x0c, (uint8_t)(options | (rctd ? 0x80 : 0)),
			   opcode};

	put_be16(cdb + 4, sa);
	put_be32(cdb + 6, alloc);
	ht_exec(hc, &ht_nexus, 0, cdb, 12, SCSI_DIR_READ, alloc, NULL);
}

/* Whether LU 0 (fully provisioned, not removable) supports a row. */
static bool row_supported(const struct scsi_op *op)
{
	return !op->supported || op->supported(ht_lu(0));
}

/* The rows LU 0 supports: what REPORT SUPPORTED OPERATION CODES lists. */
static unsigned supported_rows(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < sbc_disk_type.nr_ops; i++)
		n += row_supported(sbc_disk_type.ops[i]);
	return n;
}

/* The disk's row for a command descriptor, or NULL. */
static const struct scsi_op *disk_row(uint8_t opcode, uint16_t sa,
				      bool servactv, unsigned *idx)
{
	const struct scsi_device_type *dt = &sbc_disk_type;

	for (unsigned i = 0; i < dt->nr_ops; i++) {
		const struct scsi_op *op = dt->ops[i];

		if (op->opcode != opcode ||
		    servactv != !!(op->flags & SCSI_OP_SA) ||
		    (servactv && op->service_action != sa))
			continue;
		*idx = i;
		return op;
	}
	return NULL;
}

/* The descriptor of opcode/sa in all_commands data of len bytes. */
static const uint8_t *rsoc_find(const uint8_t *d, size_t len, size_t desc_len,
				uint8_t opcode, int sa)
{
	for (size_t off = 4; off + desc_len <= len; off += desc_len) {
		if (d[off] == opcode &&
		    (sa < 0
			 ? !(d[off + 5] & 0x01)
			 : (d[off + 5] & 0x01) && get_be16(d + off + 2) == sa))
			return d + off;
	}
	return NULL;
}

/* The same, for a command that must be listed. */
static const uint8_t *rsoc_get(const uint8_t *d, size_t len, size_t desc_len,
			       uint8_t opcode, int sa)
{
	const uint8_t *e = rsoc_find(d, len, desc_len, opcode, sa);

	if (!e)
		fail_msg("opcode %02x service action %d is not listed", opcode,
			 sa);
	return e;
}

static void test_rsoc_all_commands(void **state)
{
	const struct scsi_device_type *dt = &sbc_disk_type;
	unsigned seen[SCSI_OPS_MAX] = {0};
	const uint8_t *d;
	struct ht_cmd hc;
	uint32_t n;

	ht_clear_power_on(&ht_nexus, 0);
	rsoc(&hc, RSOC_ALL, false, 0x28, 0x1234, 65535); /* both ignored */
	ht_assert_good(&hc);
	d = hc.c.buf;
	n = get_be32(d);
	assert_int_equal(n, supported_rows() * 8);
	assert_int_equal(hc.c.data_len, 4 + n);
	for (uint32_t off = 4; off < 4 + n; off += 8) {
		const uint8_t *e = d + off;
		bool servactv = e[5] & 0x01;
		const struct scsi_op *op;
		unsigned i = 0;

		assert_int_equal(e[1], 0);
		assert_int_equal(e[4], 0);
		assert_int_equal(e[5] & ~0x01, 0); /* CTDP 0 without RCTD */
		if (!servactv)
			assert_int_equal(get_be16(e + 2), 0);
		op = disk_row(e[0], get_be16(e + 2), servactv, &i);
		if (!op)
			fail_msg("listed opcode %02x/%04x is not in the table",
				 e[0], get_be16(e + 2));
		assert_int_equal(get_be16(e + 6), op->cdb_len);
		seen[i]++;
	}
	/* Every row the LU supports exactly once, the others never. */
	for (unsigned i = 0; i < dt->nr_ops; i++) {
		if (seen[i] != (row_supported(dt->ops[i]) ? 1u : 0u))
			fail_msg("%s listed %u times", dt->ops[i]->name,
				 seen[i]);
	}
	/* What SBC-4 and SPC-5 say of some of them. */
	assert_int_equal(get_be16(rsoc_get(d, 4 + n, 8, 0x28, -1) + 6), 10);
	assert_int_equal(get_be16(rsoc_get(d, 4 + n, 8, 0x8a, -1) + 6), 16);
	assert_int_equal(get_be16(rsoc_get(d, 4 + n, 8, 0x12, -1) + 6), 6);
	assert_int_equal(get_be16(rsoc_get(d, 4 + n, 8, 0x9e, 0x10) + 6), 16);
	assert_int_equal(get_be16(rsoc_get(d, 4 + n, 8, 0xa3, 0x0c) + 6), 12);
	assert_int_equal(get_be16(rsoc_get(d, 4 + n, 8, 0xa3, 0x0d) + 6), 12);
	assert_null(rsoc_find(d, 4 + n, 8, 0xa3, -1));
	assert_null(rsoc_find(d, 4 + n, 8, 0x9e, -1));
	ht_release(&hc);
	/* Dispatch agrees: an opcode not listed is an invalid opcode, a
	 * service action not listed an invalid field. */
	for (unsigned opc = 0; opc < 256; opc++) {
		uint8_t cdb[16] = {(uint8_t)opc};
		const struct scsi_op *first =
		    scsi_opcode_first(&sbc_disk_type, (uint8_t)opc);
		unsigned i;

		if (first && (first->flags & SCSI_OP_SA)) {
			for (uint8_t sa = 0; sa < 32; sa++) {
				cdb[1] = sa;
				if (disk_row((uint8_t)opc, sa, true, &i))
					continue;
				ht_expect_invalid_field(&ht_nexus, 0, cdb, 16,
							SCSI_DIR_NONE, 0, 1, 4);
			}
			continue;
		}
		if (disk_row((uint8_t)opc, 0, false, &i))
			continue;
		ht_expect_sense(&ht_nexus, 0, cdb, 16, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_INVALID_OPCODE);
	}
}

static void test_rsoc_one_command_read10(void **state)
{
	/* SBC-4 READ (10): RDPROTECT, DPO, FUA; LBA; GROUP NUMBER
	 * (ignored); TRANSFER LENGTH; NACA and LINK of CONTROL. */
	const uint8_t want[10] = {0x28, 0xf8, 0xff, 0xff, 0xff,
				  0xff, 0x00, 0xff, 0xff, 0x05};
	const uint8_t rw[] = {0x28, 0x2a, 0xa8, 0xaa, 0x88, 0x8a};
	struct ht_cmd hc;
	uint8_t dpofua;

	ht_clear_power_on(&ht_nexus, 0);
	rsoc(&hc, RSOC_OPCODE, false, 0x28, 0xffff, 512); /* SA ignored */
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4 + 10);
	assert_int_equal(hc.c.buf[0], 0);
	assert_int_equal(hc.c.buf[1], 0x03); /* SUPPORT: conforming, CTDP 0 */
	assert_int_equal(get_be16(hc.c.buf + 2), 10);
	assert_memory_equal(hc.c.buf + 4, want, sizeof(want));
	ht_release(&hc);
	/* The DPO and FUA bits agree with DPOFUA of MODE SENSE, for every
	 * READ and WRITE that has them. */
	mode_sense6(&hc, 0x08, 0x3f, 0, 255);
	ht_assert_good(&hc);
	dpofua = hc.c.buf[2] & 0x10;
	assert_int_equal(dpofua, 0x10);
	ht_release(&hc);
	for (unsigned i = 0; i < sizeof(rw); i++) {
		rsoc(&hc, RSOC_OPCODE, false, rw[i], 0, 512);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.buf[4], rw[i]);
		assert_int_equal(hc.c.buf[5] & 0x18, 0x18);
		ht_release(&hc);
	}
	/* Every row answers with its own CDB length and usage data. */
	for (unsigned i = 0; i < sbc_disk_type.nr_ops; i++) {
		const struct scsi_op *op = sbc_disk_type.ops[i];
		bool sa = op->flags & SCSI_OP_SA;

		rsoc(&hc, sa ? RSOC_OPCODE_SA : RSOC_OPCODE, false, op->opcode,
		     op->service_action, 512);
		ht_assert_good(&hc);
		if (!row_supported(op)) {
			assert_int_equal(hc.c.buf[1], 0x01);
			ht_release(&hc);
			continue;
		}
		assert_int_equal(hc.c.buf[1], 0x03);
		assert_int_equal(get_be16(hc.c.buf + 2), op->cdb_len);
		assert_int_equal(hc.c.data_len, 4 + op->cdb_len);
		assert_int_equal(hc.c.buf[4], op->opcode);
		assert_memory_equal(hc.c.buf + 4, op->usage, op->cdb_len);
		ht_release(&hc);
	}
}

static void test_rsoc_service_actions(void **state)
{
	const uint8_t rsoc_usage[12] = {0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0xff, 0x00, 0x05};
	struct ht_cmd hc;

	ht_clear_power_on(&ht_nexus, 0);
	/* 010b: READ CAPACITY (16), its service action in byte 1. */
	rsoc(&hc, RSOC_OPCODE_SA, false, 0x9e, 0x10, 512);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1], 0x03);
	assert_int_equal(get_be16(hc.c.buf + 2), 16);
	assert_int_equal(hc.c.buf[4], 0x9e);
	assert_int_equal(hc.c.buf[5], 0x10);
	ht_release(&hc);
	/* 010b: REPORT SUPPORTED OPERATION CODES itself (SPC-5's example,
	 * with the CONTROL bits the core checks). */
	rsoc(&hc, RSOC_OPCODE_SA, false, 0xa3, 0x0c, 512);
	ht_assert_good(&hc);
	assert_int_equal(get_be16(hc.c.buf + 2), 12);
	assert_memory_equal(hc.c.buf + 4, rsoc_usage, 12);
	ht_release(&hc);
	/* 010b with a service action the opcode does not have: not
	 * supported, nothing after byte 1. */
	rsoc(&hc, RSOC_OPCODE_SA, false, 0x9e, 0x11, 512);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1], 0x01);
	assert_int_equal(hc.c.data_len, 4);
	ht_release(&hc);
	/* 001b for an opcode with service actions, 010b for one without:
	 * INVALID FIELD IN CDB at REQUESTED OPERATION CODE. */
	rsoc(&hc, RSOC_OPCODE, false, 0x9e, 0x10, 512);
	ht_assert_invalid_field(&hc, 3, 7);
	ht_release(&hc);
	rsoc(&hc, RSOC_OPCODE, false, 0xa3, 0, 512);
	ht_assert_invalid_field(&hc, 3, 7);
	ht_release(&hc);
	rsoc(&hc, RSOC_OPCODE_SA, false, 0x28, 0, 512);
	ht_assert_invalid_field(&hc, 3, 7);
	ht_release(&hc);
	/* An opcode the disk does not have, in every one-command form:
	 * not supported. */
	for (uint8_t o = RSOC_OPCODE; o <= RSOC_OPCODE_ANY; o++) {
		rsoc(&hc, o, false, 0xc7, 0, 512);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.data_len, 4);
		assert_int_equal(hc.c.buf[1], 0x01);
		ht_release(&hc);
	}
	/* 011b: the service action when the opcode has them, else 0. */
	rsoc(&hc, RSOC_OPCODE_ANY, false, 0x9e, 0x10, 512);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1], 0x03);
	assert_int_equal(hc.c.buf[5], 0x10);
	ht_release(&hc);
	rsoc(&hc, RSOC_OPCODE_ANY, false, 0xa3, 0x0d, 512);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1], 0x03);
	assert_int_equal(hc.c.buf[5], 0x0d);
	ht_release(&hc);
	rsoc(&hc, RSOC_OPCODE_ANY, false, 0x9e, 0x11, 512);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1], 0x01);
	ht_release(&hc);
	rsoc(&hc, RSOC_OPCODE_ANY, false, 0x28, 0, 512);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1], 0x03);
	assert_int_equal(get_be16(hc.c.buf + 2), 10);
	ht_release(&hc);
	rsoc(&hc, RSOC_OPCODE_ANY, false, 0x28, 0x0001, 512);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1], 0x01);
	ht_release(&hc);
}

static void test_rsoc_errors(void **state)
{
	const uint8_t cdb_rsoc[12] = {0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 1, 0};
	uint8_t naca[12] = {0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x04};
	uint8_t rtimestamp[12] = {0xa3, 0x0f, 0, 0, 0, 0, 0, 0, 1, 0};
	struct ht_cmd hc;

	ht_clear_power_on(&ht_nexus, 0);
	/* Reserved reporting options. */
	for (uint8_t o = 4; o < 8; o++) {
		rsoc(&hc, o, false, 0x28, 0, 512);
		ht_assert_invalid_field(&hc, 2, 2);
		ht_release(&hc);
		rsoc(&hc, o, true, 0x28, 0, 512);
		ht_assert_invalid_field(&hc, 2, 2);
		ht_release(&hc);
	}
	/* Another MAINTENANCE IN service action (REPORT TIMESTAMP) is not
	 * implemented; NACA is refused as for any command. */
	ht_expect_invalid_field(&ht_nexus, 0, rtimestamp, 12, SCSI_DIR_READ,
				256, 1, 4);
	ht_expect_invalid_field(&ht_nexus, 0, naca, 12, SCSI_DIR_READ, 256, 11,
				2);
	/* A LUN without a LU has no opcode table to report. */
	ht_exec(&hc, &ht_nexus, 7, cdb_rsoc, 12, SCSI_DIR_READ, 256, NULL);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LU_NOT_SUPPORTED);
	ht_release(&hc);
	/* Not one of the commands a unit attention lets through. */
	assert_int_equal(ht_lu_add(1, HT_LU_SIZE, 512, false), 0);
	ht_exec(&hc, &ht_nexus, 0, cdb_rsoc, 12, SCSI_DIR_READ, 256, NULL);
	ht_assert_sense(&hc, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_REPORTED_LUNS_CHANGED);
	ht_release(&hc);
	ht_exec(&hc, &ht_nexus, 0, cdb_rsoc, 12, SCSI_DIR_READ, 256, NULL);
	ht_assert_good(&hc);
	ht_release(&hc);
}

static void test_rsoc_alloc_length(void **state)
{
	uint8_t full[4 + SCSI_OPS_MAX * 20];
	uint32_t len;
	struct ht_cmd hc;

	ht_clear_power_on(&ht_nexus, 0);
	rsoc(&hc, RSOC_ALL, true, 0, 0, 65535);
	ht_assert_good(&hc);
	len = hc.c.data_len;
	assert_int_equal(len, 4 + get_be32(hc.c.buf));
	memcpy(full, hc.c.buf, len);
	ht_release(&hc);
	/* Cut at every length: the prefix, the length field unchanged. */
	for (uint32_t alloc = 0; alloc <= len + 8; alloc++) {
		rsoc(&hc, RSOC_ALL, true, 0, 0, alloc);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.cdb_xfer_len, alloc);
		assert_int_equal(hc.c.data_len, alloc < len ? alloc : len);
		if (hc.c.data_len)
			assert_memory_equal(hc.c.buf, full, hc.c.data_len);
		ht_release(&hc);
	}
	/* EDTL below the allocation length cuts the data too. */
	ht_exec(
	    &hc, &ht_nexus, 0,
	    (const uint8_t[12]){0xa3, 0x0c, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff},
	    12, SCSI_DIR_READ, 10, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 10);
	assert_memory_equal(hc.c.buf, full, 10);
	ht_release(&hc);
	/* A 4 GiB allocation length does not buy a 4 GiB buffer. */
	rsoc(&hc, RSOC_ALL, true, 0, 0, 0xffffffffu);
	ht_assert_good(&hc);
	assert_in_range(hc.c.xfer_len, len, sizeof(full));
	assert_int_equal(hc.c.data_len, len);
	ht_release(&hc);
	/* One command, cut in its usage data. */
	rsoc(&hc, RSOC_OPCODE, false, 0x28, 0, 6);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 6);
	assert_int_equal(get_be16(hc.c.buf + 2), 10);
	assert_int_equal(hc.c.buf[4], 0x28);
	ht_release(&hc);
}

/* A command timeouts descriptor: length 0Ah and the row's timeouts. */
static void check_timeouts(const uint8_t *t, const struct scsi_op *op)
{
	assert_int_equal(get_be16(t), 0x0a);
	assert_int_equal(t[2], 0);
	assert_int_equal(t[3], 0);
	assert_int_equal(get_be32(t + 4), op->timeouts.nominal);
	assert_int_equal(get_be32(t + 8), op->timeouts.recommended);
	assert_int_not_equal(op->timeouts.nominal, 0);
	assert_true(op->timeouts.recommended >= op->timeouts.nominal);
}

static void test_rsoc_timeouts(void **state)
{
	const struct scsi_device_type *dt = &sbc_disk_type;
	unsigned seen[SCSI_OPS_MAX] = {0};
	const uint8_t *d, *e;
	struct ht_cmd hc;
	uint32_t n;

	ht_clear_power_on(&ht_nexus, 0);
	rsoc(&hc, RSOC_ALL, true, 0, 0, 65535);
	ht_assert_good(&hc);
	d = hc.c.buf;
	n = get_be32(d);
	assert_int_equal(n, supported_rows() * 20);
	assert_int_equal(hc.c.data_len, 4 + n);
	for (uint32_t off = 4; off < 4 + n; off += 20) {
		const struct scsi_op *op;
		unsigned i = 0;

		e = d + off;
		assert_int_equal(e[5] & 0x02, 0x02); /* CTDP */
		op = disk_row(e[0], get_be16(e + 2), e[5] & 0x01, &i);
		assert_non_null(op);
		assert_int_equal(get_be16(e + 6), op->cdb_len);
		check_timeouts(e + 8, op);
		seen[i]++;
	}
	for (unsigned i = 0; i < dt->nr_ops; i++)
		assert_int_equal(seen[i], row_supported(dt->ops[i]) ? 1 : 0);
	/* An I/O waits longer than an answer from memory, a flush longer
	 * than an I/O. */
	e = rsoc_get(d, 4 + n, 20, 0x28, -1);
	assert_int_equal(get_be32(e + 16), 30);
	assert_true(get_be32(rsoc_get(d, 4 + n, 20, 0x35, -1) + 16) >
		    get_be32(e + 16));
	assert_true(get_be32(rsoc_get(d, 4 + n, 20, 0x12, -1) + 16) <
		    get_be32(e + 16));
	ht_release(&hc);
	/* One command with RCTD: CTDP and the descriptor after the usage
	 * data, for each of the one-command forms. */
	for (unsigned i = 0; i < dt->nr_ops; i++) {
		const struct scsi_op *op = dt->ops[i];
		bool sa = op->flags & SCSI_OP_SA;

		rsoc(&hc, sa ? RSOC_OPCODE_SA : RSOC_OPCODE_ANY, true,
		     op->opcode, op->service_action, 512);
		ht_assert_good(&hc);
		if (!row_supported(op)) {
			assert_int_equal(hc.c.buf[1], 0x01);
			ht_release(&hc);
			continue;
		}
		assert_int_equal(hc.c.buf[1], 0x80 | 0x03);
		assert_int_equal(hc.c.data_len, 4 + op->cdb_len + 12);
		check_timeouts(hc.c.buf + 4 + op->cdb_len, op);
		ht_release(&hc);
	}
	/* Not supported: no descriptor even with RCTD. */
	rsoc(&hc, RSOC_OPCODE, true, 0xc7, 0, 512);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1], 0x01);
	assert_int_equal(hc.c.data_len, 4);
	ht_release(&hc);
}

/* ---- REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS ---- */

static void rstmf(struct ht_cmd *hc, bool repd, uint32_t alloc)
{
	uint8_t cdb[12] = {0xa3, 0x0d, repd ? 0x80 : 0};

	put_be32(cdb + 6, alloc);
	ht_exec(hc, &ht_nexus, 0, cdb, 12, SCSI_DIR_READ, alloc, NULL);
}

static void test_report_tmfs(void **state)
{
	struct ht_cmd hc;

	ht_clear_power_on(&ht_nexus, 0);
	/* ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET,
	 * QUERY TASK; QUERY ASYNCHRONOUS EVENT, QUERY TASK SET, I_T NEXUS
	 * RESET. Not CLEAR ACA. */
	rstmf(&hc, false, 256);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 4);
	assert_int_equal(hc.c.buf[0], 0x80 | 0x40 | 0x10 | 0x08 | 0x04);
	assert_int_equal(hc.c.buf[1], 0x04 | 0x02 | 0x01);
	assert_int_equal(hc.c.buf[3], 0); /* ADDITIONAL DATA LENGTH */
	ht_release(&hc);
	/* REPD: the extended format, no timeouts (TMFTMOV 0). */
	rstmf(&hc, true, 256);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 16);
	assert_int_equal(hc.c.buf[0], 0xdc);
	assert_int_equal(hc.c.buf[3], 0x0c);
	assert_int_equal(hc.c.buf[4] & 0x01, 0);
	ht_release(&hc);
	/* Cut by the allocation length, the length field whole. */
	rstmf(&hc, true, 6);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 6);
	assert_int_equal(hc.c.buf[3], 0x0c);
	ht_release(&hc);
	/* At least four bytes must be allowed. */
	for (uint32_t alloc = 0; alloc < 4; alloc++) {
		rstmf(&hc, false, alloc);
		ht_assert_invalid_field(&hc, 6, 7);
		ht_release(&hc);
	}
	/* A transport that carries fewer functions says so. */
	ht_nexus.tmfs = SCSI_TMF_ABORT_TASK | SCSI_TMF_QUERY_TASK_SET;
	rstmf(&hc, false, 4);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[0], 0x80);
	assert_int_equal(hc.c.buf[1], 0x02);
	ht_release(&hc);
}

/* ---- opcode tables are checked when registered ---- */

static int dummy_execute(struct scsi_cmd *cmd)
{
	return 0;
}

static const struct scsi_op row_tur = {
    .name = "TEST UNIT READY",
    .opcode = 0x00,
    .cdb_len = 6,
    .execute = dummy_execute,
    .usage = {0x00, 0, 0, 0, 0, 0x05},
};
static const struct scsi_op row_sa1 = {
    .name = "SA 1",
    .opcode = 0x9e,
    .service_action = 0x01,
    .cdb_len = 16,
    .flags = SCSI_OP_SA,
    .execute = dummy_execute,
    .usage = {0x9e, 0x01},
};
static const struct scsi_op row_sa2 = {
    .name = "SA 2",
    .opcode = 0x9e,
    .service_action = 0x02,
    .cdb_len = 16,
    .flags = SCSI_OP_SA,
    .execute = dummy_execute,
    .usage = {0x9e, 0x02},
};
static const struct scsi_op row_bad_opcode = {
    .name = "usage of another opcode",
    .opcode = 0x01,
    .cdb_len = 6,
    .execute = dummy_execute,
    .usage = {0x02},
};
static const struct scsi_op row_bad_sa = {
    .name = "usage without its service action",
    .opcode = 0x9e,
    .service_action = 0x03,
    .cdb_len = 16,
    .flags = SCSI_OP_SA,
    .execute = dummy_execute,
    .usage = {0x9e, 0x1f},
};
static const struct scsi_op row_plain_9e = {
    .name = "9Eh without service action",
    .opcode = 0x9e,
    .cdb_len = 16,
    .execute = dummy_execute,
    .usage = {0x9e},
};

/* Whether registering a table of these rows stops the program. */
static bool registration_aborts(const struct scsi_op *const *ops, unsigned n)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct scsi_device_type dt = {.ops = ops, .nr_ops = n};

		/* The reason it logs is for developers, not for this log. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		scsi_device_type_register(&dt);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return false;
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	return true;
}

static void test_opcode_table_checks(void **state)
{
	static const struct scsi_op *const good[] = {&row_tur, &row_sa1,
						     &row_sa2};
	static const struct scsi_op *const dup[] = {&row_tur, &row_sa1,
						    &row_sa1};
	static const struct scsi_op *const bad_opcode[] = {&row_bad_opcode};
	static const struct scsi_op *const bad_sa[] = {&row_bad_sa};
	static const struct scsi_op *const mixed[] = {&row_sa1, &row_plain_9e};
	static const struct scsi_op *const dup_tur[] = {&row_tur, &row_tur};
	struct scsi_device_type dt = {.ops = good, .nr_ops = 3};

	assert_false(registration_aborts(good, 3));
	assert_true(registration_aborts(dup, 3));
	assert_true(registration_aborts(bad_opcode, 1));
	assert_true(registration_aborts(bad_sa, 1));
	assert_true(registration_aborts(mixed, 2));
	assert_true(registration_aborts(dup_tur, 2));
	/* A good table without a name is indexed, not listed. */
	scsi_device_type_register(&dt);
	assert_ptr_equal(scsi_opcode_first(&dt, 0x00), &row_tur);
	assert_ptr_equal(scsi_opcode_first(&dt, 0x9e), &row_sa1);
	assert_null(scsi_opcode_first(&dt, 0x28));
	assert_ptr_equal(scsi_op_find(&dt, 0x9e, 0x02), &row_sa2);
	assert_null(scsi_op_find(&dt, 0x9e, 0x03));
	assert_ptr_equal(scsi_op_find(&dt, 0x00, 0x1234), &row_tur);
	/* The disk's own table passed the same checks at start-up. */
	assert_ptr_equal(scsi_device_type_find("disk"), &sbc_disk_type);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    ht_test(test_device_type_registered),
	    ht_test(test_unknown_opcode),
	    ht_test(test_unknown_service_action),
	    ht_test(test_control_byte),
	    ht_test(test_short_cdb),
	    ht_test(test_sense_builders),
	    ht_test(test_power_on_ua_sequence),
	    ht_test(test_power_on_ua_takes_precedence),
	    ht_test(test_request_sense_reports_ua),
	    ht_test(test_ua_per_nexus_and_lu_reset),
	    ht_test(test_lun_codec),
	    ht_test(test_lun_without_lu),
	    ht_test(test_report_luns),
	    ht_test(test_report_luns_only_lun1),
	    ht_test(test_lun_map_changes),
	    ht_test(test_lu_delete_with_command_in_flight),
	    ht_test(test_lu_create_errors),
	    ht_test(test_inquiry_standard),
	    ht_test(test_inquiry_alloc_length),
	    ht_test(test_inquiry_invalid),
	    ht_test(test_vpd_supported_pages),
	    ht_test(test_vpd_serial_and_naa_stable),
	    ht_test(test_vpd_device_identification),
	    ht_test(test_mode_sense6_all_pages),
	    ht_test(test_mode_sense6_pages_and_errors),
	    ht_test(test_mode_sense10),
	    ht_test(test_mode_sense_write_protect),
	    ht_test(test_rsoc_all_commands),
	    ht_test(test_rsoc_one_command_read10),
	    ht_test(test_rsoc_service_actions),
	    ht_test(test_rsoc_errors),
	    ht_test(test_rsoc_alloc_length),
	    ht_test(test_rsoc_timeouts),
	    ht_test(test_report_tmfs),
	    cmocka_unit_test(test_opcode_table_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
