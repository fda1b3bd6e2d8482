/*
 * Unit tests of asymmetric logical unit access (scsi/tpg.c, SPC-5 §5.16):
 * the port group model (create, delete, portals, tags of portals), what
 * INQUIRY (TPGS, VPD 83h) and REPORT TARGET PORT GROUPS report with and
 * without configured groups, SET TARGET PORT GROUPS and its parameter
 * list checks, the access state check of each state against the opcode
 * rows, and the unit attentions of state and membership changes.
 */
#include "scsi/tpg.h"
#include "scsi_harness.h"

#define PORTAL_A "127.0.0.1:3260"
#define PORTAL_B "127.0.0.1:3261"

static const uint8_t cdb_tur[6] = {0x00};
static const uint8_t cdb_read10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
static const uint8_t cdb_inquiry[6] = {0x12, 0, 0, 0, 96, 0};
static const uint8_t cdb_mode_sense6[6] = {0x1a, 0x08, 0x3f, 0, 252, 0};
static const uint8_t cdb_report_luns[12] = {0xa0, 0, 0, 0, 0, 0,
					    0,	  0, 1, 0, 0, 0};
static const uint8_t cdb_request_sense[6] = {0x03, 0, 0, 0, 252, 0};

/* The nexus through port group 2 (the harness's own is in group 1). */
static struct scsi_nexus nexus2;

/* ---- helpers ---- */

static void nexus_init_tag(struct scsi_nexus *n, const char *iname,
			   uint16_t tpgt)
{
	char port[SCSI_PORT_NAME_MAX];

	memset(n, 0, sizeof(*n));
	snprintf(port, sizeof(port), "%s,i,0x%012x", iname, 0x400002);
	scsi_config_rdlock();
	scsi_nexus_init(n, ht_target, ht_reactor, iname, port, tpgt);
	scsi_config_unlock();
}

static struct scsi_tpg_conf conf(uint16_t id, enum scsi_alua_state st,
				 bool pref, const char *portal)
{
	struct scsi_tpg_conf c;

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.state = st;
	c.pref = pref;
	if (portal) {
		snprintf(c.portals[0], sizeof(c.portals[0]), "%s", portal);
		c.nr_portals = 1;
	}
	return c;
}

/* Group 1 on PORTAL_A (active/optimized), group 2 on PORTAL_B. */
static void two_groups(enum scsi_alua_state st2, bool pref2)
{
	struct scsi_tpg_conf c1 =
	    conf(1, SCSI_ALUA_ACTIVE_OPTIMIZED, false, PORTAL_A);
	struct scsi_tpg_conf c2 = conf(2, st2, pref2, PORTAL_B);

	assert_int_equal(scsi_tpg_create(ht_target, &c1, NULL), 0);
	assert_int_equal(scsi_tpg_create(ht_target, &c2, NULL), 0);
}

static void rtpg(struct ht_cmd *hc, struct scsi_nexus *n, bool ext,
		 uint32_t alloc)
{
	uint8_t cdb[12] = {0xa3, (uint8_t)(0x0a | (ext ? 0x20 : 0))};

	put_be32(cdb + 6, alloc);
	ht_exec(hc, n, 0, cdb, 12, SCSI_DIR_READ, alloc, NULL);
}

/* SET TARGET PORT GROUPS with n descriptors (group, state). */
static void stpg(struct ht_cmd *hc, struct scsi_nexus *n,
		 const uint16_t *groups, const uint8_t *states, unsigned nr,
		 uint32_t len)
{
	static uint8_t param[4 + 4 * 32];
	uint8_t cdb[12] = {0xa4, 0x0a};

	memset(param, 0, sizeof(param));
	for (unsigned i = 0; i < nr; i++) {
		param[4 + 4 * i] = states[i];
		put_be16(param + 4 + 4 * i + 2, groups[i]);
	}
	put_be32(cdb + 6, len);
	ht_exec(hc, n, 0, cdb, 12, SCSI_DIR_WRITE, len, param);
}

static void stpg_one(struct ht_cmd *hc, struct scsi_nexus *n, uint16_t group,
		     uint8_t state)
{
	stpg(hc, n, &group, &state, 1, 8);
}

/* ILLEGAL REQUEST / INVALID FIELD IN PARAMETER LIST at byte (bit). */
static void assert_invalid_param(const struct ht_cmd *hc, uint16_t byte,
				 int bit)
{
	const uint8_t *s = hc->c.sense;

	ht_assert_sense(hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_PARAM);
	assert_true(s[15] & 0x80);  /* SKSV */
	assert_false(s[15] & 0x40); /* C/D: the parameter list */
	if (bit >= 0) {
		assert_true(s[15] & 0x08); /* BPV */
		assert_int_equal(s[15] & 0x07, bit);
	}
	assert_int_equal(get_be16(s + 16), byte);
}

/* The descriptor of group id in REPORT TARGET PORT GROUPS data. */
static const uint8_t *rtpg_find(const uint8_t *d, size_t hdr, uint16_t id)
{
	uint32_t len = get_be32(d) + 4;

	for (size_t off = hdr; off + 8 <= len; off += 8 + 4u * d[off + 7]) {
		if (get_be16(d + off + 2) == id)
			return d + off;
	}
	return NULL;
}

static unsigned rtpg_count(const uint8_t *d, size_t hdr)
{
	uint32_t len = get_be32(d) + 4;
	unsigned n = 0;

	for (size_t off = hdr; off + 8 <= len; off += 8 + 4u * d[off + 7])
		n++;
	return n;
}

/* POWER ON RESET of a nexus's first command, then a command that runs in
 * standby (TEST UNIT READY does not). */
static void clear_power_on(struct scsi_nexus *n)
{
	struct ht_cmd hc;

	ht_expect_sense(n, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_POWER_ON_RESET);
	ht_exec(&hc, n, 0, cdb_mode_sense6, 6, SCSI_DIR_READ, 252, NULL);
	ht_assert_good(&hc);
	ht_release(&hc);
}

/* Takes the next UA of n on LU 0 with TEST UNIT READY. */
static void expect_ua(struct scsi_nexus *n, uint8_t asc, uint8_t ascq)
{
	ht_expect_sense(n, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION, asc, ascq);
}

static uint8_t tpgs_bits(struct scsi_nexus *n)
{
	struct ht_cmd hc;
	uint8_t tpgs;

	ht_exec(&hc, n, 0, cdb_inquiry, 6, SCSI_DIR_READ, 96, NULL);
	ht_assert_good(&hc);
	tpgs = hc.c.buf[5] & 0x30;
	ht_release(&hc);
	return tpgs;
}

static int setup(void **state)
{
	int rc = ht_setup(state);

	if (rc)
		return rc;
	ht_clear_power_on(&ht_nexus, 0);
	return 0;
}

#define tpg_test(fn) cmocka_unit_test_setup_teardown(fn, setup, ht_teardown)

/* ---- without configured groups ---- */

static void test_default_group(void **state)
{
	struct ht_cmd hc;
	const uint8_t *g;

	assert_int_equal(tpgs_bits(&ht_nexus), SCSI_TPGS_IMPLICIT);
	/* Length only: one group 1, active/optimized, port 1. */
	rtpg(&hc, &ht_nexus, false, 512);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), 12);
	assert_int_equal(hc.c.data_len, 16);
	g = hc.c.buf + 4;
	assert_int_equal(g[0], SCSI_ALUA_ACTIVE_OPTIMIZED);
	assert_int_equal(g[1], SCSI_ALUA_SUP_AO);
	assert_int_equal(get_be16(g + 2), 1);
	assert_int_equal(g[7], 1);
	assert_int_equal(get_be16(g + 10), 1);
	ht_release(&hc);
	/* Extended header: format type 1 and the transition time. */
	rtpg(&hc, &ht_nexus, true, 512);
	ht_assert_good(&hc);
	assert_int_equal(get_be32(hc.c.buf), 16);
	assert_int_equal(hc.c.buf[4], 0x10);
	assert_int_equal(hc.c.buf[5], SCSI_TPG_TRANSITION_SECS);
	ht_release(&hc);
	/* Implicit only: SET TARGET PORT GROUPS is not there. */
	stpg_one(&hc, &ht_nexus, 1, SCSI_ALUA_ACTIVE_OPTIMIZED);
	ht_assert_invalid_field(&hc, 1, 4);
	ht_release(&hc);
	assert_int_equal(scsi_tpg_portal_tag(ht_target, PORTAL_B, NULL), 1);
}

/* ---- the model ---- */

static void test_model_errors(void **state)
{
	struct scsi_tpg_conf c = conf(2, SCSI_ALUA_STANDBY, false, PORTAL_B);
	struct scsi_tpg_conf l[SCSI_TPG_MAX];
	enum scsi_alua_state st = SCSI_ALUA_STANDBY;
	uint16_t owner = 0;

	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), 0);
	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), -EEXIST);
	/* A portal belongs to one group. */
	c = conf(3, SCSI_ALUA_ACTIVE_OPTIMIZED, false, PORTAL_B);
	assert_int_equal(scsi_tpg_create(ht_target, &c, &owner), -EADDRINUSE);
	assert_int_equal(owner, 2);
	c = conf(3, SCSI_ALUA_ACTIVE_OPTIMIZED, false, NULL);
	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), 0);
	owner = 0;
	assert_int_equal(scsi_tpg_portal_add(ht_target, 3, PORTAL_B, &owner),
			 -EADDRINUSE);
	assert_int_equal(owner, 2);
	assert_int_equal(scsi_tpg_portal_add(ht_target, 2, PORTAL_B, NULL),
			 -EEXIST);
	assert_int_equal(scsi_tpg_portal_add(ht_target, 9, PORTAL_A, NULL),
			 -ENOENT);
	assert_int_equal(scsi_tpg_portal_remove(ht_target, 3, PORTAL_B),
			 -ENOENT);
	/* Bad ids and states; offline and LBA dependent are not offered. */
	c = conf(0, SCSI_ALUA_ACTIVE_OPTIMIZED, false, NULL);
	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), -EINVAL);
	c = conf(4, SCSI_ALUA_OFFLINE, false, NULL);
	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), -EINVAL);
	st = SCSI_ALUA_LBA_DEPENDENT;
	assert_int_equal(scsi_tpg_set(ht_target, 2, &st, NULL), -EINVAL);
	st = SCSI_ALUA_STANDBY;
	assert_int_equal(scsi_tpg_set(ht_target, 9, &st, NULL), -ENOENT);
	/* Group 1 is not configured until created. */
	assert_int_equal(scsi_tpg_set(ht_target, 1, &st, NULL), -ENOENT);
	assert_int_equal(scsi_tpg_delete(ht_target, 1), -ENOENT);
	/* At most SCSI_TPG_MAX groups. */
	for (uint16_t id = 10; id < 10 + SCSI_TPG_MAX - 2; id++) {
		c = conf(id, SCSI_ALUA_ACTIVE_OPTIMIZED, false, NULL);
		assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), 0);
	}
	c = conf(100, SCSI_ALUA_ACTIVE_OPTIMIZED, false, NULL);
	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), -ENOSPC);
	scsi_config_rdlock();
	unsigned nr = scsi_tpg_conf_list_locked(ht_target, l, SCSI_TPG_MAX);
	scsi_config_unlock();
	assert_int_equal(nr, SCSI_TPG_MAX);
	/* Sorted by id, with what was configured. */
	assert_int_equal(l[0].id, 2);
	assert_int_equal(l[0].state, SCSI_ALUA_STANDBY);
	assert_string_equal(l[0].portals[0], PORTAL_B);
	assert_int_equal(l[1].id, 3);
	assert_int_equal(l[2].id, 10);
	/* Names of states, both ways. */
	assert_int_equal(scsi_alua_state_parse("Standby", &st), 0);
	assert_int_equal(st, SCSI_ALUA_STANDBY);
	assert_int_equal(scsi_alua_state_parse("an", &st), 0);
	assert_int_equal(st, SCSI_ALUA_ACTIVE_NON_OPTIMIZED);
	assert_int_equal(scsi_alua_state_parse("sleepy", &st), -EINVAL);
	assert_string_equal(scsi_alua_state_name(SCSI_ALUA_TRANSITIONING),
			    "transitioning");
}

/* The tag of a login through local on listener (takes the read lock;
 * an assertion must not fail while it is held). */
static uint16_t tag(const char *local, const char *listener)
{
	uint16_t t;

	scsi_config_rdlock();
	t = scsi_tpg_portal_tag(ht_target, local, listener);
	scsi_config_unlock();
	return t;
}

static void test_portal_tags(void **state)
{
	struct scsi_tpg_conf c = conf(2, SCSI_ALUA_STANDBY, false, PORTAL_B);

	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), 0);
	c = conf(3, SCSI_ALUA_ACTIVE_OPTIMIZED, false, "0.0.0.0:3262");
	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), 0);
	c = conf(4, SCSI_ALUA_ACTIVE_OPTIMIZED, false, "127.0.0.2:3262");
	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), 0);
	assert_int_equal(tag(PORTAL_B, PORTAL_B), 2);
	/* A portal in no group: the default group. */
	assert_int_equal(tag(PORTAL_A, PORTAL_A), 1);
	/* The wildcard covers its port, but an exact address wins. */
	assert_int_equal(tag("127.0.0.1:3262", "0.0.0.0:3262"), 3);
	assert_int_equal(tag("127.0.0.2:3262", "0.0.0.0:3262"), 4);
	assert_int_equal(tag("[::1]:3262", NULL), 1);
	assert_int_equal(scsi_tpg_portal_remove(ht_target, 2, PORTAL_B), 0);
	assert_int_equal(tag(PORTAL_B, PORTAL_B), 1);
}

static void test_delete_waits_for_sessions(void **state)
{
	struct scsi_tpg_conf c =
	    conf(2, SCSI_ALUA_ACTIVE_OPTIMIZED, false, PORTAL_B);

	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), 0);
	nexus_init_tag(&nexus2, HT_INITIATOR "2", 2);
	assert_int_equal(scsi_tpg_delete(ht_target, 2), -EBUSY);
	ht_nexus_release(&nexus2);
	assert_int_equal(scsi_tpg_delete(ht_target, 2), 0);
	assert_int_equal(tpgs_bits(&ht_nexus), SCSI_TPGS_IMPLICIT);
}

/* ---- INQUIRY and REPORT TARGET PORT GROUPS ---- */

static void test_report_two_groups(void **state)
{
	struct ht_cmd hc;
	const uint8_t *g;
	uint8_t cdb[6] = {0x12, 0x01, 0x83, 0x01, 0x00, 0};

	two_groups(SCSI_ALUA_STANDBY, true);
	nexus_init_tag(&nexus2, HT_INITIATOR "2", 2);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	clear_power_on(&nexus2);
	assert_int_equal(tpgs_bits(&ht_nexus),
			 SCSI_TPGS_IMPLICIT | SCSI_TPGS_EXPLICIT);
	/* Both paths see both groups, each one port. */
	for (int path = 0; path < 2; path++) {
		rtpg(&hc, path ? &nexus2 : &ht_nexus, true, 512);
		ht_assert_good(&hc);
		assert_int_equal(rtpg_count(hc.c.buf, 8), 2);
		assert_int_equal(get_be32(hc.c.buf), 4 + 2 * 12);
		g = rtpg_find(hc.c.buf, 8, 1);
		assert_non_null(g);
		assert_int_equal(g[0], SCSI_ALUA_ACTIVE_OPTIMIZED);
		assert_int_equal(g[1], SCSI_ALUA_SUP_CONFIGURED);
		assert_int_equal(g[7], 1);
		assert_int_equal(get_be16(g + 10), 1);
		g = rtpg_find(hc.c.buf, 8, 2);
		assert_non_null(g);
		assert_int_equal(g[0], 0x80 | SCSI_ALUA_STANDBY); /* PREF */
		assert_int_equal(g[5], SCSI_TPG_STATUS_NONE);
		assert_int_equal(get_be16(g + 10), 2);
		ht_release(&hc);
	}
	/* A short allocation length cuts the data, not the length. */
	rtpg(&hc, &ht_nexus, false, 8);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(get_be32(hc.c.buf), 2 * 12);
	ht_release(&hc);
	/* VPD 83h through group 2: relative port 2, port group 2, and the
	 * target port named with tag 2. */
	ht_exec(&hc, &nexus2, 0, cdb, 6, SCSI_DIR_READ, 256, NULL);
	ht_assert_good(&hc);
	{
		const uint8_t *d = hc.c.buf;
		size_t len = get_be16(d + 2) + 4;
		bool rel = false, tpg = false, name = false;

		for (size_t off = 4; off + 4 <= len; off += 4 + d[off + 3]) {
			uint8_t type = d[off + 1] & 0x3f;

			if (type == 0x14) {
				assert_int_equal(get_be16(d + off + 6), 2);
				rel = true;
			} else if (type == 0x15) {
				assert_int_equal(get_be16(d + off + 6), 2);
				tpg = true;
			} else if (type == 0x18) {
				assert_string_equal((const char *)d + off + 4,
						    HT_TARGET ",t,0x0002");
				name = true;
			}
		}
		assert_true(rel && tpg && name);
	}
	ht_release(&hc);
	ht_nexus_release(&nexus2);
}

/* The default group is listed where a portal in no group reaches it. */
static void test_report_default_group(void **state)
{
	struct scsi_tpg_conf c = conf(2, SCSI_ALUA_STANDBY, false, PORTAL_B);
	struct ht_cmd hc;
	const uint8_t *g;

	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), 0);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	rtpg(&hc, &ht_nexus, false, 512);
	ht_assert_good(&hc);
	assert_int_equal(rtpg_count(hc.c.buf, 4), 2);
	g = rtpg_find(hc.c.buf, 4, 1);
	assert_non_null(g);
	assert_int_equal(g[1], SCSI_ALUA_SUP_AO);
	ht_release(&hc);
	/* The one state the default group takes is active/optimized. */
	stpg_one(&hc, &ht_nexus, 1, SCSI_ALUA_ACTIVE_OPTIMIZED);
	ht_assert_good(&hc);
	ht_release(&hc);
	stpg_one(&hc, &ht_nexus, 1, SCSI_ALUA_STANDBY);
	assert_invalid_param(&hc, 4, 3);
	ht_release(&hc);
}

/* ---- SET TARGET PORT GROUPS ---- */

static void test_set_tpgs(void **state)
{
	struct ht_cmd hc;
	const uint8_t *g;

	two_groups(SCSI_ALUA_STANDBY, false);
	nexus_init_tag(&nexus2, HT_INITIATOR "2", 2);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	clear_power_on(&nexus2);
	/* Path 2 (standby) brings itself up and path 1 down. */
	stpg(&hc, &nexus2, (const uint16_t[]){2, 1},
	     (const uint8_t[]){SCSI_ALUA_ACTIVE_OPTIMIZED,
			       SCSI_ALUA_ACTIVE_NON_OPTIMIZED},
	     2, 12);
	ht_assert_good(&hc);
	ht_release(&hc);
	/* The other nexus hears of it, the one that asked does not. */
	expect_ua(&ht_nexus, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	ht_expect_good(&nexus2, 0, cdb_read10, 10);
	rtpg(&hc, &ht_nexus, false, 512);
	ht_assert_good(&hc);
	g = rtpg_find(hc.c.buf, 4, 2);
	assert_int_equal(g[0], SCSI_ALUA_ACTIVE_OPTIMIZED);
	assert_int_equal(g[5], SCSI_TPG_STATUS_EXPLICIT);
	g = rtpg_find(hc.c.buf, 4, 1);
	assert_int_equal(g[0], SCSI_ALUA_ACTIVE_NON_OPTIMIZED);
	ht_release(&hc);
	/* Asking for the state a group is in changes nothing: no UA. */
	stpg_one(&hc, &nexus2, 2, SCSI_ALUA_ACTIVE_OPTIMIZED);
	ht_assert_good(&hc);
	ht_release(&hc);
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	/* From a standby path too (it is how a path is brought back). */
	stpg_one(&hc, &nexus2, 2, SCSI_ALUA_STANDBY);
	ht_assert_good(&hc);
	ht_release(&hc);
	stpg_one(&hc, &nexus2, 2, SCSI_ALUA_ACTIVE_NON_OPTIMIZED);
	ht_assert_good(&hc);
	ht_release(&hc);
	ht_nexus_release(&nexus2);
}

static void test_set_tpgs_errors(void **state)
{
	struct ht_cmd hc;
	const uint8_t *g;

	two_groups(SCSI_ALUA_STANDBY, false);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	/* Zero length: nothing happens, no error. */
	stpg(&hc, &ht_nexus, NULL, NULL, 0, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	/* A cut header or descriptor. */
	stpg(&hc, &ht_nexus, NULL, NULL, 0, 2);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH);
	ht_release(&hc);
	stpg(&hc, &ht_nexus, (const uint16_t[]){2},
	     (const uint8_t[]){SCSI_ALUA_ACTIVE_OPTIMIZED}, 1, 6);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH);
	ht_release(&hc);
	/* An unknown group; a group named twice. */
	stpg_one(&hc, &ht_nexus, 7, SCSI_ALUA_ACTIVE_OPTIMIZED);
	assert_invalid_param(&hc, 6, -1);
	ht_release(&hc);
	stpg(&hc, &ht_nexus, (const uint16_t[]){2, 2},
	     (const uint8_t[]){SCSI_ALUA_ACTIVE_OPTIMIZED, SCSI_ALUA_STANDBY},
	     2, 12);
	assert_invalid_param(&hc, 10, -1);
	ht_release(&hc);
	/* States an initiator cannot ask for. */
	const uint8_t bad[] = {SCSI_ALUA_TRANSITIONING, SCSI_ALUA_OFFLINE,
			       SCSI_ALUA_LBA_DEPENDENT, 0x5};
	for (unsigned i = 0; i < sizeof(bad); i++) {
		stpg_one(&hc, &ht_nexus, 2, bad[i]);
		assert_invalid_param(&hc, 4, 3);
		ht_release(&hc);
	}
	/* All or nothing: a good first descriptor is not applied when the
	 * second is bad. */
	stpg(&hc, &ht_nexus, (const uint16_t[]){2, 9},
	     (const uint8_t[]){SCSI_ALUA_ACTIVE_OPTIMIZED,
			       SCSI_ALUA_ACTIVE_OPTIMIZED},
	     2, 12);
	assert_invalid_param(&hc, 10, -1);
	ht_release(&hc);
	rtpg(&hc, &ht_nexus, false, 512);
	g = rtpg_find(hc.c.buf, 4, 2);
	assert_int_equal(g[0], SCSI_ALUA_STANDBY);
	ht_release(&hc);
	/* Far more than there can be groups. */
	stpg(&hc, &ht_nexus, NULL, NULL, 0, 4096);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH);
	ht_release(&hc);
}

/* REPORT SUPPORTED OPERATION CODES lists it once groups exist, with its
 * usage data. */
static void test_set_tpgs_in_rsoc(void **state)
{
	uint8_t cdb[12] = {0xa3, 0x0c, 0x02, 0xa4, 0, 0x0a, 0, 0, 1, 0};
	struct ht_cmd hc;

	ht_exec(&hc, &ht_nexus, 0, cdb, 12, SCSI_DIR_READ, 256, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1] & 0x07, 1); /* SUPPORT: not supported */
	ht_release(&hc);
	two_groups(SCSI_ALUA_STANDBY, false);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	ht_exec(&hc, &ht_nexus, 0, cdb, 12, SCSI_DIR_READ, 256, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[1] & 0x07, 3); /* SUPPORT: yes */
	assert_int_equal(get_be16(hc.c.buf + 2), 12);
	assert_memory_equal(hc.c.buf + 4, spc_op_set_tpgs.usage, 12);
	ht_release(&hc);
}

/* ---- the access state check ---- */

static void test_enforcement(void **state)
{
	enum scsi_alua_state st;
	struct ht_cmd hc;

	two_groups(SCSI_ALUA_ACTIVE_OPTIMIZED, false);
	nexus_init_tag(&nexus2, HT_INITIATOR "2", 2);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	clear_power_on(&nexus2);

	st = SCSI_ALUA_STANDBY;
	assert_int_equal(scsi_tpg_set(ht_target, 2, &st, NULL), 0);
	/* An implicit change: every nexus hears of it, then the standby
	 * path is refused what standby does not allow. */
	expect_ua(&ht_nexus, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	expect_ua(&nexus2, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	ht_expect_good(&ht_nexus, 0, cdb_read10, 10);
	ht_expect_sense(&nexus2, 0, cdb_read10, 10, SCSI_SK_NOT_READY,
			SCSI_ASC_ALUA_STANDBY);
	ht_expect_sense(&nexus2, 0, cdb_tur, 6, SCSI_SK_NOT_READY,
			SCSI_ASC_ALUA_STANDBY);
	ht_exec(&hc, &nexus2, 0, cdb_inquiry, 6, SCSI_DIR_READ, 96, NULL);
	ht_assert_good(&hc);
	ht_release(&hc);
	ht_exec(&hc, &nexus2, 0, cdb_mode_sense6, 6, SCSI_DIR_READ, 252, NULL);
	ht_assert_good(&hc);
	ht_release(&hc);
	ht_exec(&hc, &nexus2, 0, cdb_report_luns, 12, SCSI_DIR_READ, 256, NULL);
	ht_assert_good(&hc);
	ht_release(&hc);
	rtpg(&hc, &nexus2, false, 512);
	ht_assert_good(&hc);
	/* STATUS CODE: altered by the device server. */
	assert_int_equal(rtpg_find(hc.c.buf, 4, 2)[5],
			 SCSI_TPG_STATUS_IMPLICIT);
	ht_release(&hc);

	st = SCSI_ALUA_UNAVAILABLE;
	assert_int_equal(scsi_tpg_set(ht_target, 2, &st, NULL), 0);
	expect_ua(&nexus2, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	ht_expect_sense(&nexus2, 0, cdb_read10, 10, SCSI_SK_NOT_READY,
			SCSI_ASC_ALUA_UNAVAILABLE);
	ht_expect_sense(&nexus2, 0, cdb_mode_sense6, 6, SCSI_SK_NOT_READY,
			SCSI_ASC_ALUA_UNAVAILABLE);
	ht_exec(&hc, &nexus2, 0, cdb_request_sense, 6, SCSI_DIR_READ, 252,
		NULL);
	ht_assert_good(&hc);
	ht_release(&hc);
	ht_exec(&hc, &nexus2, 0, cdb_inquiry, 6, SCSI_DIR_READ, 96, NULL);
	ht_assert_good(&hc);
	ht_release(&hc);

	st = SCSI_ALUA_TRANSITIONING;
	assert_int_equal(scsi_tpg_set(ht_target, 2, &st, NULL), 0);
	expect_ua(&nexus2, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	ht_expect_sense(&nexus2, 0, cdb_read10, 10, SCSI_SK_NOT_READY,
			SCSI_ASC_ALUA_TRANSITION);
	rtpg(&hc, &nexus2, false, 512);
	ht_assert_good(&hc);
	ht_release(&hc);

	st = SCSI_ALUA_ACTIVE_NON_OPTIMIZED;
	assert_int_equal(scsi_tpg_set(ht_target, 2, &st, NULL), 0);
	expect_ua(&nexus2, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	ht_expect_good(&nexus2, 0, cdb_read10, 10);
	/* The same state again is no change: no UA. */
	assert_int_equal(scsi_tpg_set(ht_target, 2, &st, NULL), 0);
	ht_expect_good(&nexus2, 0, cdb_tur, 6);
	/* The preferred flag alone changes what RTPG says: a UA too. */
	bool pref = true;
	assert_int_equal(scsi_tpg_set(ht_target, 2, NULL, &pref), 0);
	expect_ua(&nexus2, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	ht_nexus_release(&nexus2);
}

/* Group 1 is the default group: configuring it changes the state of the
 * nexuses that came through portals in no group. */
static void test_default_group_configured(void **state)
{
	struct scsi_tpg_conf c = conf(1, SCSI_ALUA_STANDBY, false, NULL);

	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), 0);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	expect_ua(&ht_nexus, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	ht_expect_sense(&ht_nexus, 0, cdb_read10, 10, SCSI_SK_NOT_READY,
			SCSI_ASC_ALUA_STANDBY);
	/* Deleting it returns them to active/optimized. */
	assert_int_equal(scsi_tpg_delete(ht_target, 1), 0);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	expect_ua(&ht_nexus, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	ht_expect_good(&ht_nexus, 0, cdb_read10, 10);
	assert_int_equal(tpgs_bits(&ht_nexus), SCSI_TPGS_IMPLICIT);
}

static void test_membership_ua(void **state)
{
	struct scsi_tpg_conf c =
	    conf(2, SCSI_ALUA_ACTIVE_OPTIMIZED, false, NULL);

	assert_int_equal(scsi_tpg_create(ht_target, &c, NULL), 0);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	assert_int_equal(scsi_tpg_portal_add(ht_target, 2, PORTAL_B, NULL), 0);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	assert_int_equal(scsi_tpg_portal_remove(ht_target, 2, PORTAL_B), 0);
	expect_ua(&ht_nexus, SCSI_ASC_INQUIRY_DATA_CHANGED);
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    tpg_test(test_default_group),
	    tpg_test(test_model_errors),
	    tpg_test(test_portal_tags),
	    tpg_test(test_delete_waits_for_sessions),
	    tpg_test(test_report_two_groups),
	    tpg_test(test_report_default_group),
	    tpg_test(test_set_tpgs),
	    tpg_test(test_set_tpgs_errors),
	    tpg_test(test_set_tpgs_in_rsoc),
	    tpg_test(test_enforcement),
	    tpg_test(test_default_group_configured),
	    tpg_test(test_membership_ua),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
