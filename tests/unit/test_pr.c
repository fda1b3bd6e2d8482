/*
 * Unit tests of reservations (pr.c, pr_in.c, pr_out.c, pr_store.c)
 * through the core with fake nexuses: REGISTER, RESERVE, RELEASE, CLEAR,
 * PREEMPT (AND ABORT) and REGISTER AND MOVE for each type, their unit
 * attentions, the conflict matrix of reads and writes from holder,
 * registrant and non-registrant, READ FULL STATUS encoding, SPEC_I_PT
 * TransportIDs and their errors, truncation to the allocation length,
 * the SPC-2 RESERVE/RELEASE and what ends them, identity across a
 * re-login, APTPL saved and read back into a temporary state directory,
 * and a corrupt saved file refusing the LU.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scsi/pr.h"
#include "scsi_harness.h"

#define BS 512

#define INIT_A HT_INITIATOR
#define INIT_B "iqn.2026-01.org.lunar:initiator-b"
#define INIT_C "iqn.2026-01.org.lunar:initiator-c"
#define ISID_A 0x400001

#define SA_REGISTER	   0x00
#define SA_RESERVE	   0x01
#define SA_RELEASE	   0x02
#define SA_CLEAR	   0x03
#define SA_PREEMPT	   0x04
#define SA_PREEMPT_ABORT   0x05
#define SA_REGISTER_IGNORE 0x06
#define SA_REGISTER_MOVE   0x07

#define KEY_A 0xaaaa000000000001ull
#define KEY_B 0xbbbb000000000002ull
#define KEY_C 0xcccc000000000003ull

static const uint8_t types[] = {
    SCSI_PR_WRITE_EXCLUSIVE,	SCSI_PR_EXCLUSIVE_ACCESS,
    SCSI_PR_WRITE_EXCLUSIVE_RO, SCSI_PR_EXCLUSIVE_ACCESS_RO,
    SCSI_PR_WRITE_EXCLUSIVE_AR, SCSI_PR_EXCLUSIVE_ACCESS_AR,
};

static struct scsi_nexus nb, nc;
static char state_dir[64];

/* ---- helpers ---- */

static void nexus_init_isid(struct scsi_nexus *n, const char *iname,
			    unsigned long long isid)
{
	char port[SCSI_PORT_NAME_MAX];

	memset(n, 0, sizeof(*n));
	snprintf(port, sizeof(port), "%s,i,0x%012llx", iname, isid);
	scsi_config_rdlock();
	scsi_nexus_init(n, ht_target, ht_reactor, iname, port, 1);
	scsi_config_unlock();
}

/* A returning initiator port first sees a unit attention (POWER ON, or
 * I_T NEXUS LOSS OCCURRED): take it, whichever. */
static void clear_ua(struct scsi_nexus *n)
{
	const uint8_t tur[6] = {0};
	struct ht_cmd hc;

	for (int i = 0; i < 4; i++) {
		ht_exec(&hc, n, 0, tur, 6, SCSI_DIR_NONE, 0, NULL);
		if (hc.c.status == SAM_STAT_GOOD) {
			ht_release(&hc);
			return;
		}
		ht_assert_sense(&hc, SCSI_SK_UNIT_ATTENTION, hc.c.sense[12],
				hc.c.sense[13]);
		ht_release(&hc);
	}
	fail_msg("unit attentions without end");
}

static int pr_setup(void **state)
{
	if (ht_setup(state))
		return -1;
	ht_clear_power_on(&ht_nexus, 0);
	nexus_init_isid(&nb, INIT_B, ISID_A);
	ht_clear_power_on(&nb, 0);
	nexus_init_isid(&nc, INIT_C, ISID_A);
	ht_clear_power_on(&nc, 0);
	return 0;
}

static void remove_tree(const char *dir)
{
	char sub[256], path[512];
	struct dirent *e;
	DIR *d;

	snprintf(sub, sizeof(sub), "%s/pr", dir);
	d = opendir(sub);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", sub, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(sub);
	rmdir(dir);
}

static int pr_teardown(void **state)
{
	ht_nexus_release(&nb);
	ht_nexus_release(&nc);
	scsi_pr_set_state_dir(NULL);
	if (state_dir[0])
		remove_tree(state_dir);
	state_dir[0] = '\0';
	return ht_teardown(state);
}

#define pr_test(fn) cmocka_unit_test_setup_teardown(fn, pr_setup, pr_teardown)

/* A PERSISTENT RESERVE OUT with the basic parameter list (flags: byte
 * 20) and extra bytes after it; status and sense stay in hc. */
static void prout_full(struct ht_cmd *hc, struct scsi_nexus *n, uint8_t sa,
		       uint8_t type, uint64_t rk, uint64_t sark, uint8_t flags,
		       const uint8_t *extra, size_t extra_len)
{
	static uint8_t d[1024];
	uint8_t cdb[10] = {0x5f, sa, type};
	uint32_t len = (uint32_t)(24 + extra_len);

	memset(d, 0, sizeof(d));
	put_be64(d, rk);
	put_be64(d + 8, sark);
	d[20] = flags;
	if (extra_len)
		memcpy(d + 24, extra, extra_len);
	put_be32(cdb + 5, len);
	ht_exec(hc, n, 0, cdb, 10, SCSI_DIR_WRITE, len, d);
}

static uint8_t prout(struct scsi_nexus *n, uint8_t sa, uint8_t type,
		     uint64_t rk, uint64_t sark)
{
	struct ht_cmd hc;
	uint8_t st;

	prout_full(&hc, n, sa, type, rk, sark, 0, NULL, 0);
	st = hc.c.status;
	ht_release(&hc);
	return st;
}

static void prout_good(struct scsi_nexus *n, uint8_t sa, uint8_t type,
		       uint64_t rk, uint64_t sark)
{
	struct ht_cmd hc;

	prout_full(&hc, n, sa, type, rk, sark, 0, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
}

/* PERSISTENT RESERVE IN into out; returns the bytes moved. */
static uint32_t prin(struct scsi_nexus *n, uint8_t sa, uint16_t alloc,
		     uint8_t *out)
{
	uint8_t cdb[10] = {0x5e, sa};
	struct ht_cmd hc;
	uint32_t len;

	put_be16(cdb + 7, alloc);
	ht_exec(&hc, n, 0, cdb, 10, SCSI_DIR_READ, alloc, NULL);
	ht_assert_good(&hc);
	len = hc.c.data_len;
	memcpy(out, hc.c.buf, len);
	ht_release(&hc);
	return len;
}

static uint8_t rw10(struct scsi_nexus *n, bool write)
{
	static uint8_t blk[BS];
	uint8_t cdb[10] = {write ? 0x2a : 0x28};
	struct ht_cmd hc;
	uint8_t st;

	put_be32(cdb + 2, 1);
	put_be16(cdb + 7, 1);
	ht_exec(&hc, n, 0, cdb, 10, write ? SCSI_DIR_WRITE : SCSI_DIR_READ, BS,
		blk);
	st = hc.c.status;
	ht_release(&hc);
	return st;
}

static uint8_t run_cdb(struct scsi_nexus *n, const uint8_t *cdb, unsigned len,
		       enum scsi_dir dir, uint32_t edtl)
{
	static uint8_t buf[BS];
	struct ht_cmd hc;
	uint8_t st;

	ht_exec(&hc, n, 0, cdb, len, dir, edtl, buf);
	st = hc.c.status;
	ht_release(&hc);
	return st;
}

static void expect_ua(struct scsi_nexus *n, uint8_t asc, uint8_t ascq)
{
	const uint8_t tur[6] = {0};

	ht_expect_sense(n, 0, tur, 6, SCSI_SK_UNIT_ATTENTION, asc, ascq);
}

static void expect_no_ua(struct scsi_nexus *n)
{
	const uint8_t tur[6] = {0};

	assert_int_equal(run_cdb(n, tur, 6, SCSI_DIR_NONE, 0), SAM_STAT_GOOD);
}

/* ILLEGAL REQUEST with this ASC, pointing (SKSV, C/D=0) at byte. */
static void assert_param_sense(const struct ht_cmd *hc, uint8_t asc,
			       uint8_t ascq, int byte)
{
	ht_assert_sense(hc, SCSI_SK_ILLEGAL_REQUEST, asc, ascq);
	if (byte >= 0) {
		assert_true(hc->c.sense[15] & 0x80);
		assert_false(hc->c.sense[15] & 0x40);
		assert_int_equal(get_be16(hc->c.sense + 16), byte);
	}
}

static uint32_t generation(struct scsi_nexus *n)
{
	uint8_t d[8];

	prin(n, 0, 8, d);
	return get_be32(d);
}

/* READ RESERVATION: whether reserved, and the key and type. */
static bool read_reservation(struct scsi_nexus *n, uint64_t *key, uint8_t *type)
{
	uint8_t d[32];
	uint32_t len = prin(n, 1, sizeof(d), d);

	if (get_be32(d + 4) == 0) {
		assert_int_equal(len, 8);
		return false;
	}
	assert_int_equal(get_be32(d + 4), 16);
	assert_int_equal(len, 24);
	*key = get_be64(d + 8);
	*type = d[21] & 0x0f;
	assert_int_equal(d[21] >> 4, 0); /* LU_SCOPE */
	return true;
}

/* An iSCSI TransportID of text (format 01b when it has ",i,0x"). */
static size_t tid(uint8_t *out, const char *text)
{
	size_t n = strlen(text) + 1, len = (n + 3) & ~(size_t)3;

	if (len < 20)
		len = 20;
	memset(out, 0, 4 + len);
	out[0] = (strstr(text, ",i,0x") ? 0x40 : 0x00) | 0x05;
	put_be16(out + 2, (uint16_t)len);
	memcpy(out + 4, text, n - 1);
	return 4 + len;
}

/* ---- the table ---- */

static void test_every_row_classified(void **state)
{
	for (unsigned i = 0; i < sbc_disk_type.nr_ops; i++) {
		const struct scsi_op *op = sbc_disk_type.ops[i];

		if (!(op->flags & SCSI_OP_PR_CLASS))
			fail_msg("%s has no reservation class", op->name);
	}
}

/* The new rows are in REPORT SUPPORTED OPERATION CODES. */
static void test_rows_reported(void **state)
{
	const uint8_t opcodes[] = {0x16, 0x17, 0x56, 0x57};
	uint8_t cdb[12] = {0xa3, 0x0c, 0x02, 0x5f};
	struct ht_cmd hc;

	for (uint16_t sa = 0; sa < 8; sa++) {
		put_be16(cdb + 4, sa);
		put_be32(cdb + 6, 64);
		ht_exec(&hc, &ht_nexus, 0, cdb, 12, SCSI_DIR_READ, 64, NULL);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.buf[1] & 0x07, 0x03);
		assert_int_equal(get_be16(hc.c.buf + 2), 10);
		ht_release(&hc);
	}
	cdb[2] = 0x01;
	for (unsigned i = 0; i < sizeof(opcodes); i++) {
		cdb[3] = opcodes[i];
		ht_exec(&hc, &ht_nexus, 0, cdb, 12, SCSI_DIR_READ, 64, NULL);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.buf[1] & 0x07, 0x03);
		ht_release(&hc);
	}
}

/*
 * A zero in a PERSISTENT RESERVE OUT row's usage data is a bit the
 * device server ignores (test_sbc.c does this for the rows a constant
 * parameter list can run): REGISTER, REGISTER AND IGNORE EXISTING KEY,
 * RESERVE and RELEASE, each repeated so that it succeeds every time.
 */
static void test_prout_usage_zero_bits(void **state)
{
	static const struct {
		const struct scsi_op *op;
		uint64_t rk, sark;
	} rows[] = {
	    {&spc_op_pr_out_register_ignore, 0, KEY_A},
	    {&spc_op_pr_out_register, KEY_A, KEY_A},
	    {&spc_op_pr_out_reserve, KEY_A, 0},
	    {&spc_op_pr_out_release, KEY_A, 0},
	};
	uint8_t d[24];

	for (unsigned r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		const struct scsi_op *op = rows[r].op;

		for (unsigned byte = 1; byte < op->cdb_len; byte++) {
			for (unsigned bit = 0; bit < 8; bit++) {
				uint8_t cdb[10] = {0x5f,
						   (uint8_t)op->service_action,
						   SCSI_PR_WRITE_EXCLUSIVE};
				uint8_t mask = (uint8_t)(1u << bit);
				struct ht_cmd hc;

				if ((op->usage[byte] & mask) ||
				    (byte == 1 && (mask & 0x1f)))
					continue;
				memset(d, 0, sizeof(d));
				put_be64(d, rows[r].rk);
				put_be64(d + 8, rows[r].sark);
				put_be32(cdb + 5, sizeof(d));
				cdb[byte] |= mask;
				ht_exec(&hc, &ht_nexus, 0, cdb, 10,
					SCSI_DIR_WRITE, sizeof(d), d);
				if (hc.c.status != SAM_STAT_GOOD)
					fail_msg("%s: byte %u bit %u is 0 in "
						 "the usage data but changes "
						 "the outcome (status %02x)",
						 op->name, byte, bit,
						 hc.c.status);
				ht_release(&hc);
			}
		}
	}
}

/* ---- REGISTER ---- */

static void test_register(void **state)
{
	uint8_t d[64];
	uint32_t gen = generation(&ht_nexus);

	/* Unregistered: a non-zero RESERVATION KEY conflicts; SARK 0 does
	 * nothing. */
	assert_int_equal(prout(&ht_nexus, SA_REGISTER, 0, KEY_B, KEY_A),
			 SAM_STAT_RESERVATION_CONFLICT);
	prout_good(&ht_nexus, SA_REGISTER, 0, 0, 0);
	assert_int_equal(generation(&ht_nexus), gen);
	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	assert_int_equal(generation(&ht_nexus), gen + 1);
	prout_good(&nb, SA_REGISTER_IGNORE, 0, 0x1234, KEY_B);
	assert_int_equal(prin(&nc, 0, sizeof(d), d), 24);
	assert_int_equal(get_be32(d + 4), 16);
	assert_int_equal(get_be64(d + 8), KEY_A);
	assert_int_equal(get_be64(d + 16), KEY_B);
	/* Registered: the key must match; then it changes or goes. */
	assert_int_equal(prout(&ht_nexus, SA_REGISTER, 0, KEY_B, KEY_C),
			 SAM_STAT_RESERVATION_CONFLICT);
	prout_good(&ht_nexus, SA_REGISTER, 0, KEY_A, KEY_C);
	prout_good(&nb, SA_REGISTER_IGNORE, 0, 0, 0);
	prin(&nc, 0, sizeof(d), d);
	assert_int_equal(get_be32(d + 4), 8);
	assert_int_equal(get_be64(d + 8), KEY_C);
	assert_int_equal(generation(&ht_nexus), gen + 4);
	/* B through target port 2 with ALL_TG_PT while registered through
	 * port 1: that I_T nexus would be registered twice. */
	{
		struct scsi_nexus b2;
		char port[SCSI_PORT_NAME_MAX];
		struct ht_cmd hc;

		prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
		snprintf(port, sizeof(port), "%s,i,0x%012x", INIT_B, ISID_A);
		memset(&b2, 0, sizeof(b2));
		scsi_config_rdlock();
		scsi_nexus_init(&b2, ht_target, ht_reactor, INIT_B, port, 2);
		scsi_config_unlock();
		clear_ua(&b2);
		prout_full(&hc, &b2, SA_REGISTER, 0, 0, KEY_C, 0x04, NULL, 0);
		assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 20);
		ht_release(&hc);
		/* Without ALL_TG_PT it is another I_T nexus. */
		prout_good(&b2, SA_REGISTER, 0, 0, KEY_C);
		prin(&nc, 0, sizeof(d), d);
		assert_int_equal(get_be32(d + 4), 24);
		ht_nexus_release(&b2);
	}
}

/* RESERVE, READ RESERVATION and RELEASE of each type. */
static void test_reserve_release_types(void **state)
{
	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	for (unsigned i = 0; i < sizeof(types); i++) {
		uint8_t t = types[i], got_type;
		bool ar = t >= SCSI_PR_WRITE_EXCLUSIVE_AR;
		uint32_t gen = generation(&ht_nexus);
		uint64_t key;
		struct ht_cmd hc;

		/* Not registered, or the wrong key: conflict. */
		assert_int_equal(prout(&nc, SA_RESERVE, t, 0, 0),
				 SAM_STAT_RESERVATION_CONFLICT);
		assert_int_equal(prout(&ht_nexus, SA_RESERVE, t, KEY_B, 0),
				 SAM_STAT_RESERVATION_CONFLICT);
		prout_good(&ht_nexus, SA_RESERVE, t, KEY_A, 0);
		assert_true(read_reservation(&nc, &key, &got_type));
		assert_int_equal(got_type, t);
		assert_int_equal(key, ar ? 0 : KEY_A);
		/* Again by the holder: GOOD; another type: conflict. */
		prout_good(&ht_nexus, SA_RESERVE, t, KEY_A, 0);
		assert_int_equal(
		    prout(&ht_nexus, SA_RESERVE, t == 1 ? 3 : 1, KEY_A, 0),
		    SAM_STAT_RESERVATION_CONFLICT);
		/* B is a holder only of an all registrants type. */
		assert_int_equal(prout(&nb, SA_RESERVE, t, KEY_B, 0),
				 ar ? SAM_STAT_GOOD
				    : SAM_STAT_RESERVATION_CONFLICT);
		/* RELEASE of another type by the holder. */
		prout_full(&hc, &ht_nexus, SA_RELEASE, t == 1 ? 3 : 1, KEY_A, 0,
			   0, NULL, 0);
		ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_INVALID_RELEASE_OF_PR);
		ht_release(&hc);
		/* RELEASE by a registrant that does not hold: nothing. */
		if (!ar) {
			prout_good(&nb, SA_RELEASE, t, KEY_B, 0);
			assert_true(read_reservation(&nc, &key, &got_type));
		}
		prout_good(&ht_nexus, SA_RELEASE, t, KEY_A, 0);
		assert_false(read_reservation(&nc, &key, &got_type));
		/* RO and AR types tell the other registrants. */
		if (t >= SCSI_PR_WRITE_EXCLUSIVE_RO)
			expect_ua(&nb, SCSI_ASC_RESERVATIONS_RELEASED);
		expect_no_ua(&nb);
		expect_no_ua(&ht_nexus);
		/* RESERVE and RELEASE leave PRgeneration alone. */
		assert_int_equal(generation(&ht_nexus), gen);
	}
	/* RELEASE with nothing reserved: GOOD. */
	prout_good(&ht_nexus, SA_RELEASE, 1, KEY_A, 0);
}

/* Reads and writes from holder (A), registrant (B), non-registrant (C),
 * with the classes of other commands (SPC-5 table 69, SBC-4 table 14). */
static void test_conflict_matrix(void **state)
{
	/* can read / can write: registrant, non-registrant */
	static const struct {
		uint8_t type;
		bool reg_r, reg_w, unreg_r, unreg_w;
	} m[] = {
	    {SCSI_PR_WRITE_EXCLUSIVE, true, false, true, false},
	    {SCSI_PR_EXCLUSIVE_ACCESS, false, false, false, false},
	    {SCSI_PR_WRITE_EXCLUSIVE_RO, true, true, true, false},
	    {SCSI_PR_EXCLUSIVE_ACCESS_RO, true, true, false, false},
	    {SCSI_PR_WRITE_EXCLUSIVE_AR, true, true, true, false},
	    {SCSI_PR_EXCLUSIVE_ACCESS_AR, true, true, false, false},
	};
	const uint8_t inquiry[6] = {0x12, 0, 0, 0, 96};
	const uint8_t tur[6] = {0};
	const uint8_t capacity[10] = {0x25};
	const uint8_t mode_sense[6] = {0x1a, 0x08, 0x3f, 0, 255};
	const uint8_t sync[10] = {0x35};
	const uint8_t prin_caps[10] = {0x5e, 2, 0, 0, 0, 0, 0, 0, 8};
	const uint8_t reserve6[6] = {0x16};

	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		const uint8_t ok = SAM_STAT_GOOD,
			      rc = SAM_STAT_RESERVATION_CONFLICT;

		prout_good(&ht_nexus, SA_RESERVE, m[i].type, KEY_A, 0);
		assert_int_equal(rw10(&ht_nexus, false), ok);
		assert_int_equal(rw10(&ht_nexus, true), ok);
		assert_int_equal(rw10(&nb, false), m[i].reg_r ? ok : rc);
		assert_int_equal(rw10(&nb, true), m[i].reg_w ? ok : rc);
		assert_int_equal(rw10(&nc, false), m[i].unreg_r ? ok : rc);
		assert_int_equal(rw10(&nc, true), m[i].unreg_w ? ok : rc);
		/* Always allowed. */
		assert_int_equal(run_cdb(&nc, inquiry, 6, SCSI_DIR_READ, 96),
				 ok);
		assert_int_equal(run_cdb(&nc, tur, 6, SCSI_DIR_NONE, 0), ok);
		assert_int_equal(run_cdb(&nc, capacity, 10, SCSI_DIR_READ, 8),
				 ok);
		assert_int_equal(run_cdb(&nc, prin_caps, 10, SCSI_DIR_READ, 8),
				 ok);
		/* MODE SENSE reads, SYNCHRONIZE CACHE writes. */
		assert_int_equal(
		    run_cdb(&nc, mode_sense, 6, SCSI_DIR_READ, 255),
		    m[i].unreg_r ? ok : rc);
		assert_int_equal(run_cdb(&nc, sync, 10, SCSI_DIR_NONE, 0), rc);
		/* RESERVE (6) while registrations exist: conflict even
		 * from the holder. */
		assert_int_equal(
		    run_cdb(&ht_nexus, reserve6, 6, SCSI_DIR_NONE, 0), rc);
		prout_good(&ht_nexus, SA_RELEASE, m[i].type, KEY_A, 0);
		if (m[i].type >= SCSI_PR_WRITE_EXCLUSIVE_RO)
			expect_ua(&nb, SCSI_ASC_RESERVATIONS_RELEASED);
	}
}

/* Unregistering the holder ends its reservation; the last registrant of
 * an all registrants reservation ends it. */
static void test_unregister_holder(void **state)
{
	uint64_t key;
	uint8_t type;

	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	prout_good(&ht_nexus, SA_RESERVE, SCSI_PR_EXCLUSIVE_ACCESS_RO, KEY_A,
		   0);
	prout_good(&ht_nexus, SA_REGISTER, 0, KEY_A, 0);
	assert_false(read_reservation(&nc, &key, &type));
	expect_ua(&nb, SCSI_ASC_RESERVATIONS_RELEASED);
	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	prout_good(&ht_nexus, SA_RESERVE, SCSI_PR_WRITE_EXCLUSIVE_AR, KEY_A, 0);
	prout_good(&ht_nexus, SA_REGISTER, 0, KEY_A, 0);
	assert_true(read_reservation(&nc, &key, &type));
	assert_int_equal(rw10(&nb, true), SAM_STAT_GOOD);
	prout_good(&nb, SA_REGISTER, 0, KEY_B, 0);
	assert_false(read_reservation(&nc, &key, &type));
}

/* ---- CLEAR, PREEMPT ---- */

static void test_clear(void **state)
{
	uint32_t gen;
	uint64_t key;
	uint8_t type, d[16];

	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	prout_good(&ht_nexus, SA_RESERVE, SCSI_PR_EXCLUSIVE_ACCESS, KEY_A, 0);
	gen = generation(&nc);
	assert_int_equal(prout(&nc, SA_CLEAR, 0, 0, 0),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(prout(&nb, SA_CLEAR, 0, KEY_A, 0),
			 SAM_STAT_RESERVATION_CONFLICT);
	prout_good(&nb, SA_CLEAR, 0, KEY_B, 0);
	assert_false(read_reservation(&nc, &key, &type));
	prin(&nc, 0, sizeof(d), d);
	assert_int_equal(get_be32(d), gen + 1);
	assert_int_equal(get_be32(d + 4), 0);
	expect_ua(&ht_nexus, SCSI_ASC_RESERVATIONS_PREEMPTED);
	expect_no_ua(&nb);
	expect_no_ua(&nc);
}

static void test_preempt(void **state)
{
	struct ht_cmd hc;
	uint64_t key;
	uint8_t type, d[32];

	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	/* No reservation: SARK 0 is invalid, an unknown key conflicts. */
	prout_full(&hc, &nb, SA_PREEMPT, 1, KEY_B, 0, 0, NULL, 0);
	assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 8);
	ht_release(&hc);
	assert_int_equal(prout(&nb, SA_PREEMPT, 1, KEY_B, KEY_C),
			 SAM_STAT_RESERVATION_CONFLICT);
	/* A holds WE; B preempts A's key with EA. */
	prout_good(&ht_nexus, SA_RESERVE, SCSI_PR_WRITE_EXCLUSIVE, KEY_A, 0);
	prout_good(&nb, SA_PREEMPT, SCSI_PR_EXCLUSIVE_ACCESS, KEY_B, KEY_A);
	assert_true(read_reservation(&nc, &key, &type));
	assert_int_equal(key, KEY_B);
	assert_int_equal(type, SCSI_PR_EXCLUSIVE_ACCESS);
	prin(&nc, 0, sizeof(d), d);
	assert_int_equal(get_be32(d + 4), 8);
	expect_ua(&ht_nexus, SCSI_ASC_REGISTRATIONS_PREEMPTED);
	expect_no_ua(&nb);
	assert_int_equal(rw10(&ht_nexus, false), SAM_STAT_RESERVATION_CONFLICT);
	/* Removing registrations only: the reservation stays. */
	prout_good(&nc, SA_REGISTER, 0, 0, KEY_C);
	prout_good(&nb, SA_PREEMPT_ABORT, SCSI_PR_EXCLUSIVE_ACCESS, KEY_B,
		   KEY_C);
	expect_ua(&nc, SCSI_ASC_REGISTRATIONS_PREEMPTED);
	assert_true(read_reservation(&nc, &key, &type));
	assert_int_equal(key, KEY_B);
	/* All registrants with SARK 0: the others go, the sender holds a
	 * reservation of the new type. */
	prout_good(&nb, SA_RELEASE, SCSI_PR_EXCLUSIVE_ACCESS, KEY_B, 0);
	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	prout_good(&nb, SA_RESERVE, SCSI_PR_WRITE_EXCLUSIVE_AR, KEY_B, 0);
	prout_good(&ht_nexus, SA_PREEMPT, SCSI_PR_WRITE_EXCLUSIVE_RO, KEY_A, 0);
	assert_true(read_reservation(&nc, &key, &type));
	assert_int_equal(key, KEY_A);
	assert_int_equal(type, SCSI_PR_WRITE_EXCLUSIVE_RO);
	expect_ua(&nb, SCSI_ASC_REGISTRATIONS_PREEMPTED);
	/* Preempting with a new type tells the remaining registrants. */
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	prout_good(&nc, SA_REGISTER, 0, 0, KEY_C);
	prout_good(&nc, SA_PREEMPT, SCSI_PR_EXCLUSIVE_ACCESS, KEY_C, KEY_A);
	expect_ua(&ht_nexus, SCSI_ASC_REGISTRATIONS_PREEMPTED);
	expect_ua(&nb, SCSI_ASC_RESERVATIONS_RELEASED);
	expect_no_ua(&nc);
}

/* ---- READ FULL STATUS, truncation ---- */

static void test_read_full_status(void **state)
{
	uint8_t d[1024], t[300];
	char port[SCSI_PORT_NAME_MAX];
	struct ht_cmd hc;
	size_t off = 8, tl;
	uint32_t len;

	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	prout_full(&hc, &nb, SA_REGISTER, 0, 0, KEY_B, 0x04, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	prout_good(&ht_nexus, SA_RESERVE, SCSI_PR_WRITE_EXCLUSIVE_RO, KEY_A, 0);
	len = prin(&nc, 3, sizeof(d), d);
	assert_int_equal(get_be32(d + 4), len - 8);
	/* A: the holder, through relative target port 1. */
	snprintf(port, sizeof(port), "%s,i,0x%012x", INIT_A, ISID_A);
	tl = tid(t, port);
	assert_int_equal(get_be64(d + off), KEY_A);
	assert_int_equal(d[off + 12], 0x01); /* R_HOLDER */
	assert_int_equal(d[off + 13], SCSI_PR_WRITE_EXCLUSIVE_RO);
	assert_int_equal(get_be16(d + off + 18), 1);
	assert_int_equal(get_be32(d + off + 20), tl);
	assert_int_equal((tl - 4) % 4, 0);
	assert_memory_equal(d + off + 24, t, tl);
	assert_int_equal(d[off + 24], 0x45); /* format 01b, iSCSI */
	off += 24 + tl;
	/* B: ALL_TG_PT, not a holder. */
	snprintf(port, sizeof(port), "%s,i,0x%012x", INIT_B, ISID_A);
	tl = tid(t, port);
	assert_int_equal(get_be64(d + off), KEY_B);
	assert_int_equal(d[off + 12], 0x02);
	assert_int_equal(d[off + 13], 0);
	assert_memory_equal(d + off + 24, t, tl);
	off += 24 + tl;
	assert_int_equal(off, len);
}

static void test_truncation(void **state)
{
	uint8_t d[64];

	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	/* READ KEYS with room for the header only (PrinReadKeys.Truncate). */
	assert_int_equal(prin(&nc, 0, 8, d), 8);
	assert_int_equal(get_be32(d + 4), 16);
	assert_int_equal(prin(&nc, 0, 12, d), 12);
	assert_int_equal(get_be32(d + 8), KEY_A >> 32);
	/* READ FULL STATUS and REPORT CAPABILITIES cut short. */
	assert_int_equal(prin(&nc, 3, 10, d), 10);
	assert_true(get_be32(d + 4) > 48);
	assert_int_equal(prin(&nc, 2, 4, d), 4);
	assert_int_equal(get_be16(d), 8);
	/* The capabilities themselves. */
	assert_int_equal(prin(&nc, 2, 8, d), 8);
	assert_int_equal(d[2], 0x0c); /* SIP_C, ATP_C; no store: PTPL_C 0 */
	assert_int_equal(d[3], 0xb0); /* TMV, ALLOW COMMANDS 011b */
	assert_int_equal(d[4], 0xea);
	assert_int_equal(d[5], 0x01);
}

/* ---- REGISTER AND MOVE ---- */

static void rmove(struct ht_cmd *hc, struct scsi_nexus *n, uint64_t rk,
		  uint64_t sark, uint8_t flags, uint16_t port, const char *dest)
{
	static uint8_t d[512];
	uint8_t cdb[10] = {0x5f, SA_REGISTER_MOVE, SCSI_PR_WRITE_EXCLUSIVE};
	size_t tl = tid(d + 24, dest);

	memset(d, 0, 24);
	put_be64(d, rk);
	put_be64(d + 8, sark);
	d[17] = flags;
	put_be16(d + 18, port);
	put_be32(d + 20, (uint32_t)tl);
	put_be32(cdb + 5, (uint32_t)(24 + tl));
	ht_exec(hc, n, 0, cdb, 10, SCSI_DIR_WRITE, (uint32_t)(24 + tl), d);
}

static void test_register_and_move(void **state)
{
	char port_b[SCSI_PORT_NAME_MAX], port_a[SCSI_PORT_NAME_MAX];
	struct ht_cmd hc;
	uint64_t key;
	uint8_t type, d[64];

	snprintf(port_a, sizeof(port_a), "%s,i,0x%012x", INIT_A, ISID_A);
	snprintf(port_b, sizeof(port_b), "%s,i,0x%012x", INIT_B, ISID_A);
	prout_good(&ht_nexus, SA_REGISTER, 0, 0, KEY_A);
	/* Not the holder: conflict. */
	rmove(&hc, &ht_nexus, KEY_A, KEY_B, 0, 1, port_b);
	assert_int_equal(hc.c.status, SAM_STAT_RESERVATION_CONFLICT);
	ht_release(&hc);
	prout_good(&ht_nexus, SA_RESERVE, SCSI_PR_WRITE_EXCLUSIVE, KEY_A, 0);
	/* To itself, to a port that does not exist, with SARK 0. */
	rmove(&hc, &ht_nexus, KEY_A, KEY_B, 0, 1, port_a);
	assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 28);
	ht_release(&hc);
	rmove(&hc, &ht_nexus, KEY_A, KEY_B, 0, 7, port_b);
	assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 18);
	ht_release(&hc);
	rmove(&hc, &ht_nexus, KEY_A, 0, 0, 1, port_b);
	assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 8);
	ht_release(&hc);
	/* To B's port, which is not registered: it is, with SARK, and
	 * holds; A stays registered. */
	rmove(&hc, &ht_nexus, KEY_A, KEY_B, 0, 1, port_b);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_true(read_reservation(&nc, &key, &type));
	assert_int_equal(key, KEY_B);
	assert_int_equal(type, SCSI_PR_WRITE_EXCLUSIVE);
	assert_int_equal(rw10(&nb, true), SAM_STAT_GOOD);
	assert_int_equal(rw10(&ht_nexus, true), SAM_STAT_RESERVATION_CONFLICT);
	/* Back to A, with UNREG: B's registration goes. */
	rmove(&hc, &nb, KEY_B, KEY_C, 0x02, 1, port_a);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_true(read_reservation(&nc, &key, &type));
	assert_int_equal(key, KEY_A); /* A was registered: keeps its key */
	prin(&nc, 0, sizeof(d), d);
	assert_int_equal(get_be32(d + 4), 8);
}

/* ---- SPEC_I_PT ---- */

static void test_spec_i_pt(void **state)
{
	uint8_t list[600], *p;
	char port[SCSI_PORT_NAME_MAX];
	struct scsi_nexus nd, ne;
	struct ht_cmd hc;
	size_t n = 4;

	/* C by name (every ISID), D's port (not logged in yet). */
	n += tid(list + n, INIT_C);
	snprintf(port, sizeof(port), "%s,i,0x%012x", "iqn.2026-01.org.lunar:d",
		 0x1234);
	n += tid(list + n, port);
	put_be32(list, (uint32_t)(n - 4));
	/* Only with REGISTER. */
	prout_full(&hc, &ht_nexus, SA_REGISTER_IGNORE, 0, 0, KEY_A, 0x08, list,
		   n);
	assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 20);
	ht_release(&hc);
	/* TRANSPORTID PARAMETER DATA LENGTH that disagrees. */
	put_be32(list, (uint32_t)(n - 8));
	prout_full(&hc, &ht_nexus, SA_REGISTER, 0, 0, KEY_A, 0x08, list, n);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH);
	ht_release(&hc);
	put_be32(list, (uint32_t)(n - 4));
	/* Not iSCSI (protocol identifier 0: Fibre Channel). */
	list[4] &= 0xf0;
	prout_full(&hc, &ht_nexus, SA_REGISTER, 0, 0, KEY_A, 0x08, list, n);
	assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 28);
	ht_release(&hc);
	list[4] |= 0x05;
	/* Format 01b without ",i,0x", and a name that is no iSCSI name. */
	p = list + 4 + get_be16(list + 6) + 4;
	p[0] = 0x40 | 0x05;
	list[4] = 0x45;
	prout_full(&hc, &ht_nexus, SA_REGISTER, 0, 0, KEY_A, 0x08, list, n);
	assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 32);
	ht_release(&hc);
	list[4] = 0x05;
	memcpy(list + 8, "xyz", 3);
	prout_full(&hc, &ht_nexus, SA_REGISTER, 0, 0, KEY_A, 0x08, list, n);
	assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 32);
	ht_release(&hc);
	memcpy(list + 8, "iqn", 3);
	/* Registered already: no SPEC_I_PT. */
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	prout_full(&hc, &nb, SA_REGISTER, 0, KEY_B, KEY_B, 0x08, list, n);
	assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 20);
	ht_release(&hc);
	/* A TransportID of a registered nexus (B). */
	{
		uint8_t dup[300];
		size_t m = 4;

		snprintf(port, sizeof(port), "%s,i,0x%012x", INIT_B, ISID_A);
		m += tid(dup + m, port);
		put_be32(dup, (uint32_t)(m - 4));
		prout_full(&hc, &ht_nexus, SA_REGISTER, 0, 0, KEY_A, 0x08, dup,
			   m);
		assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 28);
		ht_release(&hc);
	}
	/* Now right: A, C (any ISID) and D get KEY_A. */
	prout_full(&hc, &ht_nexus, SA_REGISTER, 0, 0, KEY_A, 0x08, list, n);
	ht_assert_good(&hc);
	ht_release(&hc);
	prout_good(&ht_nexus, SA_RESERVE, SCSI_PR_WRITE_EXCLUSIVE_RO, KEY_A, 0);
	assert_int_equal(rw10(&nc, true), SAM_STAT_GOOD);
	/* C with another ISID, and D logging in later: registered. */
	nexus_init_isid(&nd, "iqn.2026-01.org.lunar:d", 0x1234);
	clear_ua(&nd);
	assert_int_equal(rw10(&nd, true), SAM_STAT_GOOD);
	nexus_init_isid(&ne, INIT_C, 0x99);
	clear_ua(&ne);
	assert_int_equal(rw10(&ne, true), SAM_STAT_GOOD);
	ht_nexus_release(&nd);
	/* D's other ISID is another initiator port: not registered. */
	nexus_init_isid(&nd, "iqn.2026-01.org.lunar:d", 0x1235);
	clear_ua(&nd);
	assert_int_equal(rw10(&nd, true), SAM_STAT_RESERVATION_CONFLICT);
	ht_nexus_release(&nd);
	ht_nexus_release(&ne);
}

/* Parameter list lengths and the CDB's SCOPE and TYPE. */
static void test_parameter_checks(void **state)
{
	uint8_t cdb[10] = {0x5f, SA_REGISTER};
	uint8_t d[32] = {0};
	struct ht_cmd hc;

	put_be32(cdb + 5, 20);
	ht_exec(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, 20, d);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH);
	ht_release(&hc);
	put_be32(cdb + 5, 28);
	ht_exec(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, 28, d);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH);
	ht_release(&hc);
	cdb[1] = SA_RESERVE;
	cdb[2] = 0x02; /* type 2: none */
	put_be32(cdb + 5, 24);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, 24, 2,
				3);
	cdb[2] = 0x11; /* scope 1 */
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, 24, 2,
				7);
	/* Service action 8 of either command. */
	cdb[1] = 0x08;
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, 24, 1,
				4);
	cdb[0] = 0x5e;
	cdb[1] = 0x04;
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 10, SCSI_DIR_READ, 24, 1, 4);
	/* APTPL without a state directory. */
	prout_full(&hc, &ht_nexus, SA_REGISTER, 0, 0, KEY_A, 0x01, NULL, 0);
	assert_param_sense(&hc, SCSI_ASC_INVALID_FIELD_IN_PARAM, 20);
	ht_release(&hc);
}

/* ---- identity ---- */

/* A re-login with the same name and ISID is the same nexus. */
static void test_relogin_keeps_registration(void **state)
{
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	prout_good(&nb, SA_RESERVE, SCSI_PR_EXCLUSIVE_ACCESS, KEY_B, 0);
	ht_nexus_release(&nb);
	nexus_init_isid(&nb, INIT_B, ISID_A);
	clear_ua(&nb);
	assert_int_equal(rw10(&nb, true), SAM_STAT_GOOD);
	prout_good(&nb, SA_RELEASE, SCSI_PR_EXCLUSIVE_ACCESS, KEY_B, 0);
	/* Another ISID of the same name is another initiator port. */
	ht_nexus_release(&nb);
	nexus_init_isid(&nb, INIT_B, ISID_A + 1);
	clear_ua(&nb);
	assert_int_equal(prout(&nb, SA_REGISTER, 0, KEY_B, 0),
			 SAM_STAT_RESERVATION_CONFLICT);
}

/* ---- SPC-2 RESERVE and RELEASE ---- */

static void test_spc2(void **state)
{
	const uint8_t reserve6[6] = {0x16}, release6[6] = {0x17};
	const uint8_t reserve10[10] = {0x56}, release10[10] = {0x57};
	const uint8_t inquiry[6] = {0x12, 0, 0, 0, 96};
	const uint8_t tur[6] = {0};
	const uint8_t third[10] = {0x56, 0x10};
	const uint8_t extent[6] = {0x16, 0x01};
	uint8_t lun[8];

	assert_int_equal(run_cdb(&ht_nexus, reserve6, 6, SCSI_DIR_NONE, 0),
			 SAM_STAT_GOOD);
	assert_int_equal(run_cdb(&ht_nexus, reserve6, 6, SCSI_DIR_NONE, 0),
			 SAM_STAT_GOOD);
	assert_int_equal(rw10(&ht_nexus, true), SAM_STAT_GOOD);
	assert_int_equal(run_cdb(&nb, reserve10, 10, SCSI_DIR_NONE, 0),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(rw10(&nb, false), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(run_cdb(&nb, tur, 6, SCSI_DIR_NONE, 0),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(run_cdb(&nb, inquiry, 6, SCSI_DIR_READ, 96),
			 SAM_STAT_GOOD);
	/* PR OUT conflicts; REPORT CAPABILITIES does not. */
	assert_int_equal(prout(&nb, SA_REGISTER, 0, 0, KEY_B),
			 SAM_STAT_RESERVATION_CONFLICT);
	{
		uint8_t d[8];

		prin(&nb, 2, 8, d);
	}
	/* Another's RELEASE does nothing. */
	assert_int_equal(run_cdb(&nb, release6, 6, SCSI_DIR_NONE, 0),
			 SAM_STAT_GOOD);
	assert_int_equal(rw10(&nb, false), SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(run_cdb(&ht_nexus, release10, 10, SCSI_DIR_NONE, 0),
			 SAM_STAT_GOOD);
	assert_int_equal(rw10(&nb, false), SAM_STAT_GOOD);
	/* I_T nexus loss ends it. */
	assert_int_equal(run_cdb(&nb, reserve6, 6, SCSI_DIR_NONE, 0),
			 SAM_STAT_GOOD);
	ht_nexus_release(&nb);
	assert_int_equal(rw10(&nc, false), SAM_STAT_GOOD);
	nexus_init_isid(&nb, INIT_B, ISID_A);
	clear_ua(&nb);
	/* So does a LU reset. */
	assert_int_equal(run_cdb(&nc, reserve6, 6, SCSI_DIR_NONE, 0),
			 SAM_STAT_GOOD);
	scsi_lun_encode(0, lun);
	scsi_lu_reset_by(&nc, lun);
	expect_ua(&nb, SCSI_ASC_BUS_DEVICE_RESET);
	assert_int_equal(rw10(&nb, false), SAM_STAT_GOOD);
	expect_ua(&nc, SCSI_ASC_BUS_DEVICE_RESET);
	expect_ua(&ht_nexus, SCSI_ASC_BUS_DEVICE_RESET);
	/* Third-party and extent reservations are refused. */
	ht_expect_invalid_field(&ht_nexus, 0, third, 10, SCSI_DIR_NONE, 0, 1,
				4);
	ht_expect_invalid_field(&ht_nexus, 0, extent, 6, SCSI_DIR_NONE, 0, 1,
				0);
	/* A registration makes RESERVE and RELEASE conflict. */
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	assert_int_equal(run_cdb(&nc, reserve6, 6, SCSI_DIR_NONE, 0),
			 SAM_STAT_RESERVATION_CONFLICT);
	assert_int_equal(run_cdb(&nc, release6, 6, SCSI_DIR_NONE, 0),
			 SAM_STAT_RESERVATION_CONFLICT);
}

/* ---- APTPL ---- */

static void make_state_dir(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/lunar-test-pr.XXXXXX");
	assert_non_null(mkdtemp(state_dir));
	assert_int_equal(scsi_pr_set_state_dir(state_dir), 0);
}

static void saved_path(char *out, size_t len)
{
	snprintf(out, len, "%s/pr/%s.lun0.json", state_dir, HT_TARGET);
}

/* The LU again, as at a restart (scsi_lu_delete forgets the saved state:
 * keep a copy of the file across it). */
static int recreate_lu(char *err, size_t errlen)
{
	char path[256], copy[300];
	struct scsi_lu_params p;
	bool saved;
	int rc;

	saved_path(path, sizeof(path));
	snprintf(copy, sizeof(copy), "%s.copy", path);
	ht_nexus_release(&ht_nexus);
	ht_nexus_release(&nb);
	ht_nexus_release(&nc);
	saved = rename(path, copy) == 0;
	/* Gone already when the last creation failed. */
	rc = scsi_lu_delete(ht_target, 0);
	assert_true(rc == 0 || rc == -ENOENT);
	if (saved)
		assert_int_equal(rename(copy, path), 0);
	memset(&p, 0, sizeof(p));
	snprintf(p.bstype, sizeof(p.bstype), "scsi-test-mem");
	snprintf(p.backing, sizeof(p.backing), "mem-0");
	p.size = HT_LU_SIZE;
	rc = scsi_lu_create(ht_target, 0, &p, err, errlen);
	ht_nexus_init(&ht_nexus, HT_INITIATOR);
	nexus_init_isid(&nb, INIT_B, ISID_A);
	nexus_init_isid(&nc, INIT_C, ISID_A);
	if (rc == 0) {
		clear_ua(&ht_nexus);
		clear_ua(&nb);
		clear_ua(&nc);
	}
	return rc;
}

static void test_aptpl_round_trip(void **state)
{
	char path[256], err[1024];
	uint64_t key;
	uint8_t type, d[256];
	struct ht_cmd hc;

	make_state_dir();
	saved_path(path, sizeof(path));
	prout_good(&nb, SA_REGISTER, 0, 0, KEY_B);
	assert_int_equal(access(path, F_OK), -1);
	/* APTPL=1: saved before GOOD. */
	prout_full(&hc, &ht_nexus, SA_REGISTER, 0, 0, KEY_A, 0x01 | 0x04, NULL,
		   0);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_int_equal(access(path, R_OK), 0);
	prout_good(&ht_nexus, SA_RESERVE, SCSI_PR_EXCLUSIVE_ACCESS_RO, KEY_A,
		   0);
	prin(&nc, 2, 8, d);
	assert_int_equal(d[2] & 0x01, 0x01); /* PTPL_C */
	assert_int_equal(d[3] & 0x01, 0x01); /* PTPL_A */
	assert_int_equal(recreate_lu(err, sizeof(err)), 0);
	/* Everything is back, PRgeneration from zero. */
	assert_int_equal(generation(&nc), 0);
	assert_true(read_reservation(&nc, &key, &type));
	assert_int_equal(key, KEY_A);
	assert_int_equal(type, SCSI_PR_EXCLUSIVE_ACCESS_RO);
	prin(&nc, 0, sizeof(d), d);
	assert_int_equal(get_be32(d + 4), 16);
	assert_int_equal(rw10(&nb, true), SAM_STAT_GOOD);
	assert_int_equal(rw10(&nc, false), SAM_STAT_RESERVATION_CONFLICT);
	/* B registered first; then A, with ALL_TG_PT, holding. */
	prin(&nc, 3, sizeof(d), d);
	assert_int_equal(d[8 + 12], 0x00);
	assert_int_equal(d[8 + 24 + get_be32(d + 8 + 20) + 12], 0x03);
	/* APTPL=0 forgets the file; the state stays until power goes. */
	prout_good(&ht_nexus, SA_REGISTER, 0, KEY_A, KEY_C);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(recreate_lu(err, sizeof(err)), 0);
	prin(&nc, 0, sizeof(d), d);
	assert_int_equal(get_be32(d + 4), 0);
	/* Deleting the LU deletes its saved state. */
	prout_full(&hc, &ht_nexus, SA_REGISTER, 0, 0, KEY_A, 0x01, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_int_equal(access(path, F_OK), 0);
	ht_nexus_release(&ht_nexus);
	ht_nexus_release(&nb);
	ht_nexus_release(&nc);
	assert_int_equal(scsi_lu_delete(ht_target, 0), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(ht_lu_add(0, HT_LU_SIZE, 512, false), 0);
	ht_nexus_init(&ht_nexus, HT_INITIATOR);
	nexus_init_isid(&nb, INIT_B, ISID_A);
	nexus_init_isid(&nc, INIT_C, ISID_A);
}

/* An initiator name the login takes but an administrator could not type
 * ('_' is outside RFC 3722's characters, and common in the field): its
 * saved registration loads again instead of refusing the LU. */
static void test_aptpl_loose_initiator_name(void **state)
{
	static const char loose[] = "iqn.1994-05.com.redhat:my_host";
	struct scsi_nexus nl;
	char err[1024];
	struct ht_cmd hc;
	uint8_t d[256];

	make_state_dir();
	nexus_init_isid(&nl, loose, ISID_A);
	clear_ua(&nl);
	prout_full(&hc, &nl, SA_REGISTER, 0, 0, KEY_B, 0x01, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_int_equal(recreate_lu(err, sizeof(err)), 0);
	prin(&nc, 0, sizeof(d), d);
	assert_int_equal(get_be32(d + 4), 8); /* the one key is back */
	assert_int_equal(get_be64(d + 8), KEY_B);
	ht_nexus_release(&nl);
	ht_nexus_release(&ht_nexus);
	ht_nexus_release(&nb);
	ht_nexus_release(&nc);
	assert_int_equal(scsi_lu_delete(ht_target, 0), 0);
	assert_int_equal(ht_lu_add(0, HT_LU_SIZE, 512, false), 0);
	ht_nexus_init(&ht_nexus, HT_INITIATOR);
	nexus_init_isid(&nb, INIT_B, ISID_A);
	nexus_init_isid(&nc, INIT_C, ISID_A);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A corrupt file refuses the LU, naming the file. */
static void test_corrupt_file(void **state)
{
	char path[256], err[1024], json[1024];
	struct ht_cmd hc;

	make_state_dir();
	saved_path(path, sizeof(path));
	prout_full(&hc, &ht_nexus, SA_REGISTER, 0, 0, KEY_A, 0x01, NULL, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	log_set_level(LOG_LVL_ERROR);
	write_file(path, "{\"format\": \"lunar-pr\", \"version\": 1,");
	assert_int_equal(recreate_lu(err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, path));
	/* Well-formed JSON, a bad key. */
	snprintf(json, sizeof(json),
		 "{\"format\": \"lunar-pr\", \"version\": 1, \"target\": "
		 "\"%s\", \"lun\": 0, \"aptpl\": true, \"registrations\": "
		 "[{\"key\": \"12\", \"transport_id\": \"%s\", "
		 "\"relative_target_port\": 1, \"all_tg_pt\": false}], "
		 "\"reservation\": null}",
		 HT_TARGET, INIT_B);
	write_file(path, json);
	assert_int_equal(recreate_lu(err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "registrations[0].key"));
	/* A holder that is not a registration. */
	snprintf(json, sizeof(json),
		 "{\"format\": \"lunar-pr\", \"version\": 1, \"target\": "
		 "\"%s\", \"lun\": 0, \"aptpl\": true, \"registrations\": "
		 "[{\"key\": \"0x12\", \"transport_id\": \"not a name\", "
		 "\"relative_target_port\": 1, \"all_tg_pt\": false}], "
		 "\"reservation\": null}",
		 HT_TARGET);
	write_file(path, json);
	assert_int_equal(recreate_lu(err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "registration 0"));
	/* Moved away: the LU starts without reservations. */
	unlink(path);
	assert_int_equal(recreate_lu(err, sizeof(err)), 0);
	log_set_level(LOG_LVL_WARN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    pr_test(test_every_row_classified),
	    pr_test(test_rows_reported),
	    pr_test(test_prout_usage_zero_bits),
	    pr_test(test_register),
	    pr_test(test_reserve_release_types),
	    pr_test(test_conflict_matrix),
	    pr_test(test_unregister_holder),
	    pr_test(test_clear),
	    pr_test(test_preempt),
	    pr_test(test_read_full_status),
	    pr_test(test_truncation),
	    pr_test(test_register_and_move),
	    pr_test(test_spec_i_pt),
	    pr_test(test_parameter_checks),
	    pr_test(test_relogin_keeps_registration),
	    pr_test(test_aptpl_loose_initiator_name),
	    pr_test(test_spc2),
	    pr_test(test_aptpl_round_trip),
	    pr_test(test_corrupt_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
