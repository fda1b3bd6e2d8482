/*
 * Unit tests of the mode page model and its commands (mode.c): MODE SENSE
 * page control (changeable, default, saved), MODE SELECT (6)/(10) parameter
 * list checks and their sense (field pointers in the parameter list),
 * what the changeable bits do (WCE: FUA writes; SWP: writes refused,
 * WP reported; D_SENSE: descriptor format sense), MODE PARAMETERS CHANGED
 * for the other I_T nexuses, saved pages across a LU's re-creation; and
 * REPORT TARGET PORT GROUPS with INQUIRY's TPGS and target port group
 * designator (tpg.c).
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scsi/mode.h"
#include "scsi/tpg.h"
#include "scsi_harness.h"

#define BS	 512
#define BLOCKS	 (HT_LU_SIZE / BS)
#define CTL_PAGE 0x0a
#define CACHING	 0x08

static const uint8_t cdb_tur[6] = {0x00};

/* ---- helpers ---- */

static void mode_sense6(struct ht_cmd *hc, struct scsi_nexus *n, uint8_t flags,
			uint8_t pc_page)
{
	uint8_t cdb[6] = {0x1a, flags, pc_page, 0, 255};

	ht_exec(hc, n, 0, cdb, 6, SCSI_DIR_READ, 255, NULL);
}

/* One page (DBD) of the given page control into out; returns its length. */
static size_t get_page(struct scsi_nexus *n, uint8_t pc, uint8_t code,
		       uint8_t *out)
{
	struct ht_cmd hc;
	size_t len;

	mode_sense6(&hc, n, 0x08, (uint8_t)(pc << 6 | code));
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[3], 0); /* no block descriptor */
	assert_int_equal(hc.c.buf[4] & 0x3f, code);
	len = 2 + hc.c.buf[5];
	assert_int_equal(hc.c.data_len, 4 + len);
	memcpy(out, hc.c.buf + 4, len);
	ht_release(&hc);
	return len;
}

/* MODE SELECT with the parameter list data[0..len). */
static void mode_select(struct ht_cmd *hc, struct scsi_nexus *n, bool ten,
			uint8_t flags, const uint8_t *data, uint16_t len)
{
	uint8_t cdb[10] = {ten ? 0x55 : 0x15, flags};

	if (ten)
		put_be16(cdb + 7, len);
	else
		cdb[4] = (uint8_t)len;
	ht_exec(hc, n, 0, cdb, ten ? 10 : 6, SCSI_DIR_WRITE, len, data);
}

/* A MODE SELECT (6) list: the header, then a page. */
static size_t list6(uint8_t *d, const uint8_t *page, size_t plen)
{
	memset(d, 0, 4);
	memcpy(d + 4, page, plen);
	return 4 + plen;
}

static void select_page6(struct scsi_nexus *n, uint8_t flags,
			 const uint8_t *page, size_t plen)
{
	uint8_t d[64];
	struct ht_cmd hc;
	size_t len = list6(d, page, plen);

	mode_select(&hc, n, false, flags, d, (uint16_t)len);
	ht_assert_good(&hc);
	ht_release(&hc);
}

/* Sets or clears bits of the current value of a page. */
static void change_page(struct scsi_nexus *n, uint8_t code, unsigned byte,
			uint8_t mask, bool on)
{
	uint8_t p[64];
	size_t len = get_page(n, 0, code, p);

	p[0] &= 0x7f; /* PS is reserved in MODE SELECT */
	if (on)
		p[byte] |= mask;
	else
		p[byte] &= (uint8_t)~mask;
	select_page6(n, 0x10, p, len);
}

/* ILLEGAL REQUEST with a field pointer into the parameter list. */
static void assert_param_field(const struct ht_cmd *hc, uint16_t byte, int bit)
{
	const uint8_t *s = hc->c.sense;

	ht_assert_sense(hc, SCSI_SK_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_true(s[15] & 0x80);	   /* SKSV */
	assert_int_equal(s[15] & 0x40, 0); /* C/D: the parameter list */
	if (bit >= 0) {
		assert_true(s[15] & 0x08);
		assert_int_equal(s[15] & 0x07, bit);
	}
	assert_int_equal(get_be16(s + 16), byte);
}

static void expect_select_field(struct scsi_nexus *n, bool ten,
				const uint8_t *d, uint16_t len, uint16_t byte,
				int bit)
{
	struct ht_cmd hc;

	mode_select(&hc, n, ten, 0x10, d, len);
	assert_param_field(&hc, byte, bit);
	ht_release(&hc);
}

static void expect_select_sense(struct scsi_nexus *n, bool ten, uint8_t flags,
				const uint8_t *d, uint16_t len, uint8_t asc,
				uint8_t ascq)
{
	struct ht_cmd hc;

	mode_select(&hc, n, ten, flags, d, len);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST, asc, ascq);
	ht_release(&hc);
}

static void write10(struct ht_cmd *hc, struct scsi_nexus *n, uint32_t lba)
{
	static uint8_t out[BS];
	uint8_t cdb[10] = {0x2a};

	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, 1);
	ht_exec(hc, n, 0, cdb, 10, SCSI_DIR_WRITE, BS, out);
}

static void read10(struct ht_cmd *hc, struct scsi_nexus *n, uint32_t lba)
{
	uint8_t cdb[10] = {0x28};

	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, 1);
	ht_exec(hc, n, 0, cdb, 10, SCSI_DIR_READ, BS, NULL);
}

static int mode_setup(void **state)
{
	if (ht_setup(state))
		return -1;
	ht_clear_power_on(&ht_nexus, 0);
	return 0;
}

static int mode_teardown(void **state)
{
	scsi_mode_set_state_dir(NULL);
	return ht_teardown(state);
}

#define mode_test(fn)                                                          \
	cmocka_unit_test_setup_teardown(fn, mode_setup, mode_teardown)

/* ---- MODE SENSE page control ---- */

/* Bytes 2-11 of the control page's changeable mask: D_SENSE, SWP, TAS. */
static const uint8_t ctl_changeable[12] = {[2] = 0x04, [4] = 0x08, [5] = 0x40};

static void test_changeable_and_default(void **state)
{
	uint8_t p[64];

	/* Control: D_SENSE, SWP and TAS changeable, nothing else. */
	assert_int_equal(get_page(&ht_nexus, 1, CTL_PAGE, p), 12);
	assert_int_equal(p[0], CTL_PAGE); /* PS 0: no state directory */
	assert_int_equal(p[1], 10);
	for (unsigned i = 2; i < 12; i++)
		assert_int_equal(p[i], ctl_changeable[i]);
	/* Caching: WCE. */
	assert_int_equal(get_page(&ht_nexus, 1, CACHING, p), 20);
	for (unsigned i = 2; i < 20; i++)
		assert_int_equal(p[i], i == 2 ? 0x04 : 0);
	/* Defaults: TST 001b, GLTSD, QAM 1, SWP 0, D_SENSE 0, TAS 1;
	 * WCE 1. */
	get_page(&ht_nexus, 2, CTL_PAGE, p);
	assert_int_equal(p[2], 0x22);
	assert_int_equal(p[3], 0x10);
	assert_int_equal(p[4], 0);
	assert_int_equal(p[5], 0x40);
	get_page(&ht_nexus, 2, CACHING, p);
	assert_int_equal(p[2], 0x04);
}

/* ---- what the changeable bits do ---- */

static void test_swp_protects_the_medium(void **state)
{
	uint8_t p[64];
	struct ht_cmd hc;

	change_page(&ht_nexus, CTL_PAGE, 4, 0x08, true);
	get_page(&ht_nexus, 0, CTL_PAGE, p);
	assert_int_equal(p[4] & 0x08, 0x08);
	/* WP in the mode parameter header. */
	mode_sense6(&hc, &ht_nexus, 0x08, CTL_PAGE);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[2] & 0x80, 0x80);
	ht_release(&hc);
	/* Writes: DATA PROTECT, LOGICAL UNIT SOFTWARE WRITE PROTECTED. */
	write10(&hc, &ht_nexus, 3);
	ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT, 0x27, 0x02);
	ht_release(&hc);
	read10(&hc, &ht_nexus, 3);
	ht_assert_good(&hc);
	ht_release(&hc);
	/* Cleared: writable again. */
	change_page(&ht_nexus, CTL_PAGE, 4, 0x08, false);
	write10(&hc, &ht_nexus, 3);
	ht_assert_good(&hc);
	ht_release(&hc);
	mode_sense6(&hc, &ht_nexus, 0x08, CTL_PAGE);
	assert_int_equal(hc.c.buf[2] & 0x80, 0);
	ht_release(&hc);
}

static void test_wce_off_makes_writes_stable(void **state)
{
	struct ht_store *s = ht_store(0);
	struct ht_cmd hc;

	write10(&hc, &ht_nexus, 5);
	ht_assert_good(&hc);
	assert_int_equal(s->last_flags & BS_F_FUA, 0);
	ht_release(&hc);
	change_page(&ht_nexus, CACHING, 2, 0x04, false);
	assert_false(scsi_mode_wce(ht_lu(0)));
	write10(&hc, &ht_nexus, 5);
	ht_assert_good(&hc);
	assert_int_equal(s->last_op, BS_OP_WRITE);
	assert_int_equal(s->last_flags & BS_F_FUA, BS_F_FUA);
	ht_release(&hc);
	change_page(&ht_nexus, CACHING, 2, 0x04, true);
	write10(&hc, &ht_nexus, 5);
	assert_int_equal(s->last_flags & BS_F_FUA, 0);
	ht_release(&hc);
}

/* Descriptor format: key, ASC and ASCQ, then the descriptor of type
 * `type`, or NULL. */
static const uint8_t *desc_find(const struct ht_cmd *hc, uint8_t type)
{
	const uint8_t *s = hc->c.sense;
	size_t len = 8u + s[7];

	assert_int_equal(hc->c.sense_len, len);
	for (size_t off = 8; off + 2 <= len; off += 2u + s[off + 1]) {
		if (s[off] == type)
			return s + off;
	}
	return NULL;
}

static void test_d_sense_descriptor_format(void **state)
{
	const uint8_t bad_cdb[10] = {0x28, 0xe0}; /* RDPROTECT */
	uint8_t rs[6] = {0x03, 0, 0, 0, 252};
	const uint8_t *d;
	struct ht_cmd hc;

	change_page(&ht_nexus, CTL_PAGE, 2, 0x04, true);
	/* LBA out of range: 72h, no descriptors needed. */
	read10(&hc, &ht_nexus, BLOCKS);
	assert_int_equal(hc.c.status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(hc.c.sense[0], 0x72);
	assert_int_equal(hc.c.sense[1], SCSI_SK_ILLEGAL_REQUEST);
	assert_int_equal(hc.c.sense[2], 0x21);
	assert_int_equal(hc.c.sense[3], 0x00);
	ht_release(&hc);
	/* INVALID FIELD IN CDB: the sense key specific descriptor carries
	 * the field pointer. */
	ht_exec(&hc, &ht_nexus, 0, bad_cdb, 10, SCSI_DIR_READ, BS, NULL);
	assert_int_equal(hc.c.sense[0], 0x72);
	assert_int_equal(hc.c.sense[2], 0x24);
	d = desc_find(&hc, 0x02);
	assert_non_null(d);
	assert_int_equal(d[1], 6);
	assert_int_equal(d[4], 0x80 | 0x40 | 0x08 | 7);
	assert_int_equal(get_be16(d + 5), 1);
	ht_release(&hc);
	/* REQUEST SENSE follows its DESC bit, not D_SENSE. */
	ht_exec(&hc, &ht_nexus, 0, rs, 6, SCSI_DIR_READ, 252, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[0], 0x70);
	ht_release(&hc);
	rs[1] = 0x01;
	ht_exec(&hc, &ht_nexus, 0, rs, 6, SCSI_DIR_READ, 252, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[0], 0x72);
	ht_release(&hc);
	/* A unit attention too, to another nexus. */
	{
		struct scsi_nexus n2;

		ht_nexus_init(&n2, "iqn.2026-01.org.lunar:other");
		ht_exec(&hc, &n2, 0, cdb_tur, 6, SCSI_DIR_NONE, 0, NULL);
		assert_int_equal(hc.c.sense[0], 0x72);
		assert_int_equal(hc.c.sense[1], SCSI_SK_UNIT_ATTENTION);
		assert_int_equal(hc.c.sense[2], 0x29);
		ht_release(&hc);
		ht_nexus_release(&n2);
	}
	change_page(&ht_nexus, CTL_PAGE, 2, 0x04, false);
	read10(&hc, &ht_nexus, BLOCKS);
	assert_int_equal(hc.c.sense[0], 0x70);
	ht_release(&hc);
}

/* ---- unit attentions ---- */

static void test_other_nexus_told_of_changes(void **state)
{
	struct scsi_nexus n2;
	uint8_t p[64];
	size_t len;

	ht_nexus_init(&n2, "iqn.2026-01.org.lunar:other");
	ht_clear_power_on(&n2, 0);
	change_page(&ht_nexus, CACHING, 2, 0x04, false);
	ht_expect_sense(&n2, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION, 0x2a, 0x01);
	ht_expect_good(&n2, 0, cdb_tur, 6);
	/* Not the nexus that changed them. */
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	/* Sending the current values back changes nothing: no UA. */
	len = get_page(&ht_nexus, 0, CACHING, p);
	select_page6(&ht_nexus, 0x10, p, len);
	ht_expect_good(&n2, 0, cdb_tur, 6);
	ht_nexus_release(&n2);
}

/* ---- MODE SELECT parameter list checks ---- */

static void test_select_page_errors(void **state)
{
	uint8_t p[64], d[64];
	size_t plen = get_page(&ht_nexus, 0, CTL_PAGE, p), len;

	/* A non-changeable bit changed: QERR (byte 3 bits 2-1). */
	len = list6(d, p, plen);
	d[4 + 3] |= 0x02;
	expect_select_field(&ht_nexus, false, d, (uint16_t)len, 4 + 3, 1);
	/* TST, byte 2 bit 7. */
	len = list6(d, p, plen);
	d[4 + 2] |= 0x80;
	expect_select_field(&ht_nexus, false, d, (uint16_t)len, 4 + 2, 7);
	/* A page length that is not the page's. */
	len = list6(d, p, plen);
	d[4 + 1] = 8;
	expect_select_field(&ht_nexus, false, d, (uint16_t)len, 4 + 1, 7);
	/* A page the LU does not have. */
	len = list6(d, p, plen);
	d[4] = 0x05;
	expect_select_field(&ht_nexus, false, d, (uint16_t)len, 4, 5);
	/* Sub_page format: no page has subpages. */
	len = list6(d, p, plen);
	d[4] |= 0x40;
	expect_select_field(&ht_nexus, false, d, (uint16_t)len, 4, 6);
	/* MEDIUM TYPE. */
	len = list6(d, p, plen);
	d[1] = 0x01;
	expect_select_field(&ht_nexus, false, d, (uint16_t)len, 1, 7);
	/* PS set is accepted (initiators echo MODE SENSE data). */
	len = list6(d, p, plen);
	d[4] |= 0x80;
	{
		struct ht_cmd hc;

		mode_select(&hc, &ht_nexus, false, 0x10, d, (uint16_t)len);
		ht_assert_good(&hc);
		ht_release(&hc);
	}
}

static void test_select_length_errors(void **state)
{
	uint8_t p[64], d[64];
	size_t plen = get_page(&ht_nexus, 0, CTL_PAGE, p), len;
	struct ht_cmd hc;

	len = list6(d, p, plen);
	/* Shorter than the header. */
	expect_select_sense(&ht_nexus, false, 0x10, d, 3, 0x1a, 0x00);
	/* The page cut short, by the list length or its page header. */
	expect_select_sense(&ht_nexus, false, 0x10, d, (uint16_t)(len - 1),
			    0x1a, 0x00);
	expect_select_sense(&ht_nexus, false, 0x10, d, 5, 0x1a, 0x00);
	/* A block descriptor longer than the list. */
	d[3] = 8;
	expect_select_sense(&ht_nexus, false, 0x10, d, 8, 0x1a, 0x00);
	/* Header only, and no list at all: nothing to do. */
	memset(d, 0, 4);
	mode_select(&hc, &ht_nexus, false, 0x10, d, 4);
	ht_assert_good(&hc);
	ht_release(&hc);
	mode_select(&hc, &ht_nexus, false, 0x10, d, 0);
	ht_assert_good(&hc);
	ht_release(&hc);
	/* EDTL shorter than the PARAMETER LIST LENGTH: what came is cut. */
	len = list6(d, p, plen);
	{
		uint8_t cdb[6] = {0x15, 0x10, 0, 0, (uint8_t)len};

		ht_exec(&hc, &ht_nexus, 0, cdb, 6, SCSI_DIR_WRITE, 10, d);
		ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST, 0x1a, 0x00);
		ht_release(&hc);
	}
}

static void test_select_block_descriptor(void **state)
{
	uint8_t d[64], d10[64];
	struct ht_cmd hc;

	/* Short: number of blocks 0 or the capacity, the block length. */
	memset(d, 0, sizeof(d));
	d[3] = 8;
	put_be24(d + 4 + 5, BS);
	mode_select(&hc, &ht_nexus, false, 0x10, d, 12);
	ht_assert_good(&hc);
	ht_release(&hc);
	put_be32(d + 4, BLOCKS);
	mode_select(&hc, &ht_nexus, false, 0x10, d, 12);
	ht_assert_good(&hc);
	ht_release(&hc);
	put_be32(d + 4, BLOCKS / 2);
	expect_select_field(&ht_nexus, false, d, 12, 4, 7);
	put_be32(d + 4, 0);
	put_be24(d + 4 + 5, 4096);
	expect_select_field(&ht_nexus, false, d, 12, 4 + 5, 7);
	/* A length that is no descriptor's. */
	d[3] = 4;
	expect_select_field(&ht_nexus, false, d, 12, 3, 7);
	/* (10) with LONGLBA: the 16-byte descriptor. */
	memset(d10, 0, sizeof(d10));
	d10[4] = 0x01;
	put_be16(d10 + 6, 16);
	put_be64(d10 + 8, BLOCKS);
	put_be32(d10 + 8 + 12, BS);
	mode_select(&hc, &ht_nexus, true, 0x10, d10, 24);
	ht_assert_good(&hc);
	ht_release(&hc);
	put_be32(d10 + 8 + 12, 520);
	expect_select_field(&ht_nexus, true, d10, 24, 8 + 12, 7);
	/* A long descriptor without LONGLBA. */
	d10[4] = 0;
	expect_select_field(&ht_nexus, true, d10, 24, 6, 7);
}

static void test_select_cdb_checks(void **state)
{
	uint8_t p[64], d[64];
	size_t plen = get_page(&ht_nexus, 0, CACHING, p), len;
	struct ht_cmd hc;
	const uint8_t rtd_cdb[6] = {0x15, 0x12, 0, 0, 4};

	len = list6(d, p, plen);
	/* PF=0: the pages would be vendor specific. */
	mode_select(&hc, &ht_nexus, false, 0x00, d, (uint16_t)len);
	ht_assert_invalid_field(&hc, 1, 4);
	ht_release(&hc);
	/* SP=1 without a place to save to. */
	mode_select(&hc, &ht_nexus, false, 0x11, d, (uint16_t)len);
	ht_assert_invalid_field(&hc, 1, 0);
	ht_release(&hc);
	/* RTD with a parameter list. */
	ht_exec(&hc, &ht_nexus, 0, rtd_cdb, 6, SCSI_DIR_WRITE, 4, d);
	ht_assert_invalid_field(&hc, 1, 1);
	ht_release(&hc);
	/* MODE SENSE of saved values without a place to save to. */
	mode_sense6(&hc, &ht_nexus, 0, 0xc0 | CACHING);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST, 0x39, 0x00);
	ht_release(&hc);
}

/* A list with a good page and a bad one changes nothing. */
static void test_select_is_all_or_nothing(void **state)
{
	uint8_t cache[64], ctl[64], d[128];
	size_t clen = get_page(&ht_nexus, 0, CACHING, cache);
	size_t tlen = get_page(&ht_nexus, 0, CTL_PAGE, ctl);
	struct ht_cmd hc;

	memset(d, 0, 4);
	memcpy(d + 4, cache, clen);
	d[4 + 2] &= (uint8_t)~0x04; /* WCE 0 */
	memcpy(d + 4 + clen, ctl, tlen);
	d[4 + clen + 3] |= 0x02; /* QERR: not changeable */
	mode_select(&hc, &ht_nexus, false, 0x10, d,
		    (uint16_t)(4 + clen + tlen));
	assert_param_field(&hc, (uint16_t)(4 + clen + 3), 1);
	ht_release(&hc);
	assert_true(scsi_mode_wce(ht_lu(0)));
	/* Both good: both applied, by MODE SELECT (10). */
	memset(d, 0, 8);
	memcpy(d + 8, cache, clen);
	d[8 + 2] &= (uint8_t)~0x04;
	memcpy(d + 8 + clen, ctl, tlen);
	d[8 + clen + 2] |= 0x04; /* D_SENSE */
	mode_select(&hc, &ht_nexus, true, 0x10, d, (uint16_t)(8 + clen + tlen));
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_false(scsi_mode_wce(ht_lu(0)));
	assert_true(spc_lu_d_sense(ht_lu(0)));
	/* RTD: back to the defaults. */
	{
		const uint8_t rtd_cdb[6] = {0x15, 0x02};

		ht_exec(&hc, &ht_nexus, 0, rtd_cdb, 6, SCSI_DIR_NONE, 0, NULL);
		assert_int_equal(hc.c.status, SAM_STAT_GOOD);
		ht_release(&hc);
	}
	assert_true(scsi_mode_wce(ht_lu(0)));
	assert_false(spc_lu_d_sense(ht_lu(0)));
}

/* ---- saved values ---- */

static char save_dir[64];

static void remove_tree(const char *dir)
{
	char sub[128], path[512];
	struct dirent *e;
	DIR *dd;

	snprintf(sub, sizeof(sub), "%s/mode-pages", dir);
	dd = opendir(sub);
	while (dd && (e = readdir(dd))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", sub, e->d_name);
		unlink(path);
	}
	if (dd)
		closedir(dd);
	rmdir(sub);
	rmdir(dir);
}

static void test_saved_pages_survive(void **state)
{
	uint8_t p[64];
	char path[512], copy[600];
	struct ht_cmd hc;
	size_t len;

	snprintf(save_dir, sizeof(save_dir), "/tmp/lunar-test-mode.XXXXXX");
	assert_non_null(mkdtemp(save_dir));
	assert_int_equal(scsi_mode_set_state_dir(save_dir), 0);
	/* Saved values exist now (the defaults), and pages say PS. */
	len = get_page(&ht_nexus, 3, CACHING, p);
	assert_int_equal(p[0], 0x80 | CACHING);
	assert_int_equal(p[2], 0x04);
	/* WCE 0, saved. */
	len = get_page(&ht_nexus, 0, CACHING, p);
	p[0] &= 0x7f;
	p[2] &= (uint8_t)~0x04;
	select_page6(&ht_nexus, 0x11, p, len);
	assert_false(scsi_mode_wce(ht_lu(0)));
	get_page(&ht_nexus, 3, CACHING, p);
	assert_int_equal(p[2], 0);
	snprintf(path, sizeof(path), "%s/mode-pages/%s.lun0", save_dir,
		 HT_TARGET);
	assert_int_equal(access(path, R_OK), 0);
	/* SWP changed but not saved. */
	change_page(&ht_nexus, CTL_PAGE, 4, 0x08, true);
	get_page(&ht_nexus, 3, CTL_PAGE, p);
	assert_int_equal(p[4] & 0x08, 0);
	/* The LU again, as at a restart: current values are the saved.
	 * (Deleting the LU forgets its saved values: keep a copy.) */
	ht_nexus_release(&ht_nexus);
	snprintf(copy, sizeof(copy), "%s.copy", path);
	assert_int_equal(rename(path, copy), 0);
	assert_int_equal(scsi_lu_delete(ht_target, 0), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(rename(copy, path), 0);
	assert_int_equal(ht_lu_add(0, HT_LU_SIZE, 512, false), 0);
	ht_nexus_init(&ht_nexus, HT_INITIATOR);
	ht_clear_power_on(&ht_nexus, 0);
	assert_false(scsi_mode_wce(ht_lu(0)));
	assert_false(scsi_mode_swp(ht_lu(0)));
	get_page(&ht_nexus, 0, CACHING, p);
	assert_int_equal(p[2], 0);
	/* RTD with SP: defaults, current and saved. */
	{
		const uint8_t rtd_cdb[6] = {0x15, 0x03};

		ht_exec(&hc, &ht_nexus, 0, rtd_cdb, 6, SCSI_DIR_NONE, 0, NULL);
		assert_int_equal(hc.c.status, SAM_STAT_GOOD);
		ht_release(&hc);
	}
	assert_true(scsi_mode_wce(ht_lu(0)));
	get_page(&ht_nexus, 3, CACHING, p);
	assert_int_equal(p[2], 0x04);
	/* Deleting the LU deletes its saved values. */
	assert_int_equal(access(path, F_OK), 0);
	ht_nexus_release(&ht_nexus);
	assert_int_equal(scsi_lu_delete(ht_target, 0), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(ht_lu_add(0, HT_LU_SIZE, 512, false), 0);
	ht_nexus_init(&ht_nexus, HT_INITIATOR);
	remove_tree(save_dir);
}

/* A damaged file of saved pages is ignored: the LU starts. */
static void test_damaged_saved_file(void **state)
{
	char path[512];
	FILE *f;

	snprintf(save_dir, sizeof(save_dir), "/tmp/lunar-test-mode.XXXXXX");
	assert_non_null(mkdtemp(save_dir));
	assert_int_equal(scsi_mode_set_state_dir(save_dir), 0);
	snprintf(path, sizeof(path), "%s/mode-pages", save_dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/mode-pages/%s.lun5", save_dir,
		 HT_TARGET);
	f = fopen(path, "w");
	assert_non_null(f);
	/* Garbage, a short caching page, then a control page with SWP set
	 * and QERR changed (not changeable: only SWP counts). */
	fputs("zz not hex\n08 0812\n0a 0a0a221208000000ffff0000\n", f);
	fclose(f);
	log_set_level(LOG_LVL_ERROR);
	assert_int_equal(ht_lu_add(5, HT_LU_SIZE, 512, false), 0);
	assert_true(scsi_mode_wce(ht_lu(5)));
	assert_true(scsi_mode_swp(ht_lu(5)));
	ht_clear_power_on(&ht_nexus, 5);
	{
		uint8_t cdb[6] = {0x1a, 0x08, CTL_PAGE, 0, 255};
		struct ht_cmd hc;

		ht_exec(&hc, &ht_nexus, 5, cdb, 6, SCSI_DIR_READ, 255, NULL);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.buf[4 + 3], 0x10); /* QERR untouched */
		assert_int_equal(hc.c.buf[4 + 4], 0x08);
		ht_release(&hc);
	}
	remove_tree(save_dir);
}

/* ---- REPORT TARGET PORT GROUPS, INQUIRY ---- */

static void rtpg(struct ht_cmd *hc, uint8_t format, uint32_t alloc)
{
	uint8_t cdb[12] = {0xa3, (uint8_t)(format << 5 | 0x0a)};

	put_be32(cdb + 6, alloc);
	ht_exec(hc, &ht_nexus, 0, cdb, 12, SCSI_DIR_READ, alloc, NULL);
}

static void test_report_target_port_groups(void **state)
{
	const uint8_t *d;
	struct ht_cmd hc;

	/* Length only: one group, active/optimized, our target port. */
	rtpg(&hc, 0, 256);
	ht_assert_good(&hc);
	d = hc.c.buf;
	assert_int_equal(hc.c.data_len, 4 + 8 + 4);
	assert_int_equal(get_be32(d), 12);
	assert_int_equal(d[4] & 0x0f, SCSI_ALUA_ACTIVE_OPTIMIZED);
	assert_int_equal(d[5], SCSI_ALUA_SUP_AO);
	assert_int_equal(get_be16(d + 6), SCSI_TPG_DEFAULT_ID);
	assert_int_equal(d[11], 1); /* TARGET PORT COUNT */
	assert_int_equal(get_be16(d + 14), ht_nexus.rel_port_id);
	ht_release(&hc);
	/* Extended header. */
	rtpg(&hc, 1, 256);
	ht_assert_good(&hc);
	d = hc.c.buf;
	assert_int_equal(hc.c.data_len, 8 + 8 + 4);
	assert_int_equal(get_be32(d), 16);
	assert_int_equal(d[4], 0x10); /* FORMAT TYPE 001b */
	assert_int_equal(get_be16(d + 10), SCSI_TPG_DEFAULT_ID);
	ht_release(&hc);
	/* Allocation length cuts; the length field stays whole. */
	rtpg(&hc, 0, 6);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 6);
	assert_int_equal(get_be32(hc.c.buf), 12);
	ht_release(&hc);
	/* A reserved format. */
	rtpg(&hc, 2, 256);
	ht_assert_invalid_field(&hc, 1, 7);
	ht_release(&hc);
}

static void test_inquiry_alua(void **state)
{
	uint8_t cdb[6] = {0x12, 0, 0, 0, 96};
	const uint8_t *d;
	struct ht_cmd hc;
	bool found = false;
	size_t len;

	ht_exec(&hc, &ht_nexus, 0, cdb, 6, SCSI_DIR_READ, 96, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[5] & 0x30, 0x10); /* TPGS: implicit */
	ht_release(&hc);
	cdb[1] = 0x01;
	cdb[2] = 0x83;
	cdb[4] = 255;
	ht_exec(&hc, &ht_nexus, 0, cdb, 6, SCSI_DIR_READ, 255, NULL);
	ht_assert_good(&hc);
	d = hc.c.buf;
	len = 4 + get_be16(d + 2);
	for (size_t off = 4; off + 4 <= len; off += 4u + d[off + 3]) {
		if ((d[off + 1] & 0x3f) == 0x15) { /* target port, type 5 */
			assert_int_equal(d[off + 3], 4);
			assert_int_equal(get_be16(d + off + 6),
					 SCSI_TPG_DEFAULT_ID);
			found = true;
		}
	}
	assert_true(found);
	ht_release(&hc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    mode_test(test_changeable_and_default),
	    mode_test(test_swp_protects_the_medium),
	    mode_test(test_wce_off_makes_writes_stable),
	    mode_test(test_d_sense_descriptor_format),
	    mode_test(test_other_nexus_told_of_changes),
	    mode_test(test_select_page_errors),
	    mode_test(test_select_length_errors),
	    mode_test(test_select_block_descriptor),
	    mode_test(test_select_cdb_checks),
	    mode_test(test_select_is_all_or_nothing),
	    mode_test(test_saved_pages_survive),
	    mode_test(test_damaged_saved_file),
	    mode_test(test_report_target_port_groups),
	    mode_test(test_inquiry_alua),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
