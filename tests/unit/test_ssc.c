/*
 * Unit tests of the tape device type (SSC, src/scsi/ssc.c, ssc_rw.c)
 * over the SCSI core and the rdwr store on a real cartridge file: its
 * parameters, INQUIRY, the usage data of every row of its table against
 * the parsers, the MODE SELECT hook (block descriptor and device-specific
 * parameter, with the field pointer of what it refuses), and FILEMARK /
 * ILI in descriptor format sense (the stream commands descriptor).
 */
#include "scsi_harness.h"

#include <unistd.h>

#include "bs/rdwr.c"
#include "scsi/ssc_format.h"

extern struct scsi_device_type ssc_tape_type;

#define TAPE_LUN 1

static char tape_path[64];

static int ssc_setup(void **state)
{
	struct scsi_lu_params p;
	char err[256];
	int fd;

	if (ht_setup(state))
		return -1;
	if (scsi_device_type_find("tape") != &ssc_tape_type)
		return -1;
	snprintf(tape_path, sizeof(tape_path), "/tmp/test_ssc.XXXXXX");
	fd = mkstemp(tape_path);
	if (fd < 0)
		return -1;
	close(fd);
	if (ssc_fmt_create(tape_path, 1 << 20, "U1", true, err, sizeof(err)))
		return -1;
	memset(&p, 0, sizeof(p));
	snprintf(p.dtype, sizeof(p.dtype), "tape");
	snprintf(p.bstype, sizeof(p.bstype), "rdwr");
	snprintf(p.backing, sizeof(p.backing), "%s", tape_path);
	if (scsi_lu_create(ht_target, TAPE_LUN, &p, err, sizeof(err))) {
		print_error("scsi_lu_create: %s\n", err);
		return -1;
	}
	ht_clear_power_on(&ht_nexus, TAPE_LUN);
	return 0;
}

static int ssc_teardown(void **state)
{
	int rc = ht_teardown(state);

	unlink(tape_path);
	return rc;
}

#define ssc_test(fn)                                                           \
	cmocka_unit_test_setup_teardown(fn, ssc_setup, ssc_teardown)

static void run6(struct ht_cmd *hc, uint8_t op, uint8_t b1, uint32_t n,
		 enum scsi_dir dir, uint32_t xfer, const void *out)
{
	uint8_t cdb[6] = {op,	      b1, (uint8_t)(n >> 16), (uint8_t)(n >> 8),
			  (uint8_t)n, 0};

	ht_exec(hc, &ht_nexus, TAPE_LUN, cdb, 6, dir, xfer, out);
}

static void good6(uint8_t op, uint8_t b1, uint32_t n, enum scsi_dir dir,
		  uint32_t xfer, const void *out)
{
	struct ht_cmd hc;

	run6(&hc, op, b1, n, dir, xfer, out);
	ht_assert_good(&hc);
	ht_release(&hc);
}

/* BOP, three 512-byte blocks, a filemark, BOP again. */
static void tape_reset_state(void)
{
	uint8_t data[512];

	memset(data, 0x33, sizeof(data));
	good6(0x01, 0, 0, SCSI_DIR_NONE, 0, NULL);
	for (int i = 0; i < 3; i++)
		good6(0x0a, 0, 512, SCSI_DIR_WRITE, 512, data);
	good6(0x10, 0, 1, SCSI_DIR_NONE, 0, NULL);
	good6(0x01, 0, 0, SCSI_DIR_NONE, 0, NULL);
}

static void test_check_params(void **state)
{
	struct scsi_lu_params p;
	char err[256];

	memset(&p, 0, sizeof(p));
	snprintf(p.dtype, sizeof(p.dtype), "tape");
	assert_int_equal(
	    scsi_lu_check_type_params(&p, bs_find("rdwr"), err, sizeof(err)),
	    0);
	assert_int_equal(p.block_size, 512);
	assert_true(p.removable);
	p.size = 1 << 20;
	assert_int_equal(scsi_lu_check_type_params(&p, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "tape create"));
	p.size = 0;
	p.direct = true;
	assert_int_equal(scsi_lu_check_type_params(&p, NULL, err, sizeof(err)),
			 -EINVAL);
	p.direct = false;
	p.thin = true;
	assert_int_equal(scsi_lu_check_type_params(&p, NULL, err, sizeof(err)),
			 -EINVAL);
	p.thin = false;
	p.block_size = 4096;
	assert_int_equal(scsi_lu_check_type_params(&p, NULL, err, sizeof(err)),
			 -EINVAL);
	p.block_size = 0;
	assert_int_equal(scsi_lu_check_type_params(&p, bs_find("scsi-test-mem"),
						   err, sizeof(err)),
			 -EINVAL);
}

static void test_inquiry(void **state)
{
	const uint8_t cdb[6] = {0x12, 0, 0, 0, 96, 0};
	struct ht_cmd hc;

	ht_exec(&hc, &ht_nexus, TAPE_LUN, cdb, 6, SCSI_DIR_READ, 96, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[0], 0x01);
	assert_int_equal(hc.c.buf[1] & 0x80, 0x80);
	assert_memory_equal(hc.c.buf + 16, "VIRTUAL TAPE", 12);
	ht_release(&hc);
}

/* MODE SELECT (6) with a header and an 8-byte block descriptor. */
static void mode_select(struct ht_cmd *hc, uint8_t dp, uint8_t density,
			uint32_t blocks, uint32_t blen)
{
	uint8_t cdb[6] = {0x15, 0x10, 0, 0, 12, 0};
	uint8_t d[12] = {0, 0, dp, 8, density};

	put_be24(d + 5, blocks);
	put_be24(d + 9, blen);
	ht_exec(hc, &ht_nexus, TAPE_LUN, cdb, 6, SCSI_DIR_WRITE, 12, d);
}

static void expect_param_error(uint8_t dp, uint8_t density, uint32_t blocks,
			       uint32_t blen, uint16_t byte)
{
	struct ht_cmd hc;

	mode_select(&hc, dp, density, blocks, blen);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_PARAM);
	/* SKSV, C/D 0 (parameter data), the byte */
	assert_int_equal(hc.c.sense[15] & 0xc0, 0x80);
	assert_int_equal(get_be16(hc.c.sense + 16), byte);
	ht_release(&hc);
}

static void test_mode_select(void **state)
{
	const uint8_t sense6[6] = {0x1a, 0, 0x3f, 0, 255, 0};
	struct ht_cmd hc;

	expect_param_error(0x20, 0, 0, 0, 2);	     /* BUFFERED MODE 2 */
	expect_param_error(0x11, 0, 0, 0, 2);	     /* SPEED 1 */
	expect_param_error(0x10, 0x42, 0, 0, 4);     /* another density */
	expect_param_error(0x10, 0, 1, 0, 5);	     /* NUMBER OF BLOCKS */
	expect_param_error(0x10, 0, 0, 0x200000, 9); /* > 1 MiB blocks */
	/* Nothing changed by the refused lists. */
	ht_exec(&hc, &ht_nexus, TAPE_LUN, sense6, 6, SCSI_DIR_READ, 255, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[2], 0x10);
	assert_int_equal(get_be24(hc.c.buf + 9), 0);
	ht_release(&hc);

	mode_select(&hc, 0x00, 0x80, 0, 1024);
	ht_assert_good(&hc);
	ht_release(&hc);
	ht_exec(&hc, &ht_nexus, TAPE_LUN, sense6, 6, SCSI_DIR_READ, 255, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[2], 0x00); /* unbuffered */
	assert_int_equal(hc.c.buf[4], 0x80);
	assert_int_equal(get_be24(hc.c.buf + 9), 1024);
	ht_release(&hc);
}

/* D_SENSE 1: FILEMARK and ILI come in a stream commands descriptor,
 * the residual in an information descriptor. */
static void test_descriptor_sense(void **state)
{
	const uint8_t cdb[6] = {0x15, 0x10, 0, 0, 16, 0};
	uint8_t ctl[16] = {0, 0, 0x10, 0, 0x0a, 0x0a, 0x26, 0x10, 0, 0x40};
	uint8_t buf[600];
	struct ht_cmd hc;

	put_be16(ctl + 12, 0xffff);
	ht_exec(&hc, &ht_nexus, TAPE_LUN, cdb, 6, SCSI_DIR_WRITE, 16, ctl);
	ht_assert_good(&hc);
	ht_release(&hc);
	tape_reset_state();
	/* A 600-byte read of a 512-byte block: ILI, +88. */
	run6(&hc, 0x08, 0, 600, SCSI_DIR_READ, 600, NULL);
	assert_int_equal(hc.c.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(hc.c.sense[0], 0x72);
	assert_int_equal(hc.c.sense[1], SCSI_SK_NO_SENSE);
	assert_int_equal(hc.c.sense[8], 0x00); /* information */
	assert_int_equal(get_be64(hc.c.sense + 12), 88);
	assert_int_equal(hc.c.sense[20], 0x04); /* stream commands */
	assert_int_equal(hc.c.sense[23], 0x20); /* ILI */
	assert_int_equal(hc.c.data_len, 512);
	ht_release(&hc);
	good6(0x11, 0, 2, SCSI_DIR_NONE, 0, NULL);
	run6(&hc, 0x08, 0, 100, SCSI_DIR_READ, 100, buf);
	assert_int_equal(hc.c.sense[0], 0x72);
	assert_int_equal(hc.c.sense[3], 0x01); /* FILEMARK DETECTED */
	assert_int_equal(get_be64(hc.c.sense + 12), 100);
	assert_int_equal(hc.c.sense[23], 0x80); /* FILEMARK */
	ht_release(&hc);
}

/* ---- the opcode table's CDB usage data against the parsers ---- */

/* A CDB each row runs with GOOD status from BOP of tape_reset_state. */
static void base_cdb(const struct scsi_op *op, uint8_t *cdb)
{
	memset(cdb, 0, SCSI_CDB_MAX);
	cdb[0] = op->opcode;
	if (op->flags & SCSI_OP_SA)
		cdb[1] = (uint8_t)op->service_action;
	switch (op->opcode) {
	case 0x00: /* TEST UNIT READY, REWIND, READ BLOCK LIMITS, */
	case 0x01: /* RESERVE and RELEASE, ERASE, PREVENT (allow) */
	case 0x05:
	case 0x16:
	case 0x17:
	case 0x19:
	case 0x1e:
	case 0x56:
	case 0x57:
		break;
	case 0x03: /* REQUEST SENSE */
		cdb[4] = 18;
		break;
	case 0x08: /* READ (6), WRITE (6): one 512-byte variable block */
	case 0x0a:
		cdb[3] = 0x02;
		break;
	case 0x10: /* WRITE FILEMARKS, SPACE: one */
	case 0x11:
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
	case 0x5a: /* MODE SENSE (10) */
		cdb[2] = 0x3f;
		put_be16(cdb + 7, 512);
		break;
	case 0x1b: /* LOAD UNLOAD: load */
		cdb[4] = 0x01;
		break;
	case 0x2b: /* LOCATE (10)/(16): object 1 */
		cdb[6] = 1;
		break;
	case 0x92:
		cdb[11] = 1;
		break;
	case 0x34: /* READ POSITION */
	case 0x44: /* REPORT DENSITY SUPPORT */
		put_be16(cdb + 7, 60);
		break;
	case 0x5e: /* PERSISTENT RESERVE IN */
		put_be16(cdb + 7, 1024);
		break;
	case 0x5f: /* PERSISTENT RESERVE OUT: a 24-byte parameter list */
		put_be32(cdb + 5, 24);
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
	uint8_t out[512];
	struct ht_cmd hc;

	memset(out, 0, sizeof(out));
	tape_reset_state();
	ht_exec(&hc, &ht_nexus, TAPE_LUN, cdb, op->cdb_len, op->dir,
		op->dir == SCSI_DIR_WRITE ? (op->opcode == 0x0a ? 512 : 0)
					  : sizeof(o->data),
		op->dir == SCSI_DIR_WRITE ? out : NULL);
	ht_outcome_of(&hc, o);
	ht_release(&hc);
}

/* Every row's ignored bits are ignored (ht_check_usage_zero_bits). */
static void test_usage_zero_bits_are_ignored(void **state)
{
	for (unsigned i = 0; i < ssc_tape_type.nr_ops; i++) {
		const struct scsi_op *op = ssc_tape_type.ops[i];
		struct ht_outcome want;
		uint8_t cdb[SCSI_CDB_MAX];

		/* The PR OUT and A4h rows need parameter data or ports of
		 * their own; spc.c's and pr.c's tests cover them. */
		if (op->opcode == 0x5f || op->opcode == 0xa4)
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
	    ssc_test(test_check_params),
	    ssc_test(test_inquiry),
	    ssc_test(test_mode_select),
	    ssc_test(test_descriptor_sense),
	    ssc_test(test_usage_zero_bits_are_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
