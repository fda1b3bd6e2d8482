/*
 * reportluns: REPORT LUNS (SPC-5 §6.33) against lunar, over one libiscsi
 * session. Debian's libiscsi 1.19 has no REPORT LUNS suite; this is ours.
 *
 * usage: reportluns URL LUNS [ADD_CMD LUNS_AFTER_ADD DEL_CMD LUNS_AFTER_DEL]
 *
 *   URL    iscsi://HOST:PORT/IQN/N where LUN N does NOT exist (REPORT LUNS
 *          must still work there: SPC-5 "incorrect logical unit selection")
 *   LUNS   the target's LUNs, comma-separated, ascending ("1,2,3,300");
 *          the first one must be below 256
 *   ADD_CMD, DEL_CMD  shell commands run while logged in: one adds a LUN,
 *          the other deletes one; LUNS_AFTER_* is the inventory after each.
 *
 * Checks, addressed to the missing LUN, the first LUN and the last one:
 *  - SELECT REPORT 00h and 02h list exactly LUNS, in ascending order, each
 *    as an 8-byte single-level LUN: peripheral device addressing (00b) below
 *    256, flat space addressing (01b) from 256 on; LUN LIST LENGTH is 8 per
 *    LUN, the reserved bytes are zero; the unused allocation length comes
 *    back as an iSCSI underflow residual.
 *  - SELECT REPORT 01h (well-known LUs only) lists none; a reserved SELECT
 *    REPORT value is INVALID FIELD IN CDB pointing at byte 2.
 *  - ALLOCATION LENGTH below 16 is ILLEGAL REQUEST / INVALID FIELD IN CDB
 *    pointing at byte 6 (SPC-4 §6.27 and SPC-5 §6.33: the allocation length
 *    should be at least 16; SPC-2 and lunar reject a smaller one). From 16
 *    on the data is cut at the allocation length (mid-entry too) and LUN
 *    LIST LENGTH still gives the whole list.
 *  - REPORT LUNS is not held up by a pending unit attention (SAM-5 §5.14).
 *  - A command to a LUN >= 256 with flat addressing reaches its LU; to the
 *    missing LUN, TEST UNIT READY is LOGICAL UNIT NOT SUPPORTED and INQUIRY
 *    answers peripheral qualifier 011b.
 *  - With ADD_CMD/DEL_CMD: after a LUN is added, a command to a LUN this
 *    nexus already used gets the unit attention REPORTED LUNS DATA HAS
 *    CHANGED (3Fh/0Eh, SPC-5 §6.33), once; after a LUN is deleted, a REPORT
 *    LUNS sent before anything else succeeds, shows the change and clears
 *    that unit attention on its LU.
 *
 * libiscsi 1.19 puts its "lun" argument into the first two bytes of the
 * LUN field as they are, so LUN 300 is addressed as 0x4000 | 300 (flat).
 * Prints "ok" and exits 0 when everything holds; else prints each failed
 * check and exits 1 (2 on usage or login errors).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "check.h"

#define MAX_LUNS       64
#define ALLOC_FULL     4096
#define INITIATOR      "iqn.2026-11.org.lunar:reportluns"
#define ASC_RL_CHANGED 0x3f0e

static struct iscsi_context *iscsi;

/* The value of libiscsi's lun argument that addresses LUN n. */
static int wire_lun(unsigned n)
{
	return n < 256 ? (int)n : (int)(0x4000 | n);
}

static void encode_lun(unsigned n, uint8_t out[8])
{
	memset(out, 0, 8);
	if (n < 256) {
		out[1] = (uint8_t)n;
	} else {
		out[0] = (uint8_t)(0x40 | (n >> 8));
		out[1] = (uint8_t)n;
	}
}

static int parse_luns(const char *s, unsigned *luns)
{
	char *copy = strdup(s), *tok, *save = NULL;
	int n = 0;

	for (tok = strtok_r(copy, ",", &save); tok && n < MAX_LUNS;
	     tok = strtok_r(NULL, ",", &save))
		luns[n++] = (unsigned)strtoul(tok, NULL, 10);
	free(copy);
	return n;
}

static struct scsi_task *send_cdb(int lun, uint8_t *cdb, int cdb_len,
				  uint32_t alloc)
{
	struct scsi_task *task, *done;

	task = scsi_create_task(cdb_len, cdb,
				alloc ? SCSI_XFER_READ : SCSI_XFER_NONE, alloc);
	if (!task) {
		fprintf(stderr, "reportluns: out of memory\n");
		exit(2);
	}
	done = iscsi_scsi_command_sync(iscsi, lun, task, NULL);
	if (!done) {
		printf("FAIL: command %02xh to LUN field %04x: transport "
		       "error: %s\n",
		       cdb[0], lun, iscsi_get_error(iscsi));
		exit(1);
	}
	return done;
}

static struct scsi_task *report_luns(int lun, uint8_t select, uint32_t alloc)
{
	uint8_t cdb[12] = {0xa0,
			   0,
			   select,
			   0,
			   0,
			   0,
			   (uint8_t)(alloc >> 24),
			   (uint8_t)(alloc >> 16),
			   (uint8_t)(alloc >> 8),
			   (uint8_t)alloc,
			   0,
			   0};

	return send_cdb(lun, cdb, sizeof(cdb), alloc);
}

static struct scsi_task *tur(int lun)
{
	uint8_t cdb[6] = {0};

	return send_cdb(lun, cdb, sizeof(cdb), 0);
}

static const char *describe(const struct scsi_task *t)
{
	static char buf[128];

	if (t->status == SCSI_STATUS_CHECK_CONDITION)
		snprintf(buf, sizeof(buf),
			 "CHECK CONDITION, sense key %xh, ASC/ASCQ %04xh",
			 t->sense.key, t->sense.ascq);
	else
		snprintf(buf, sizeof(buf), "status %02xh", t->status);
	return buf;
}

static int is_sense(const struct scsi_task *t, int key, int ascq)
{
	return t->status == SCSI_STATUS_CHECK_CONDITION &&
	       (int)t->sense.key == key && t->sense.ascq == ascq;
}

/* INVALID FIELD IN CDB with the sense-key specific field pointer. */
static void check_invalid_field(const struct scsi_task *t, int byte,
				const char *what)
{
	check(is_sense(t, SCSI_SENSE_ILLEGAL_REQUEST,
		       SCSI_SENSE_ASCQ_INVALID_FIELD_IN_CDB),
	      "%s: expected ILLEGAL REQUEST / INVALID FIELD IN CDB, got %s",
	      what, describe(t));
	if (t->status != SCSI_STATUS_CHECK_CONDITION)
		return;
	check(t->sense.sense_specific && t->sense.ill_param_in_cdb &&
		  t->sense.field_pointer == byte,
	      "%s: expected SKSV=1, C/D=1, FIELD POINTER %d; got SKSV=%u "
	      "C/D=%u FIELD POINTER %u",
	      what, byte, t->sense.sense_specific, t->sense.ill_param_in_cdb,
	      t->sense.field_pointer);
}

/* A TEST UNIT READY to a LU until it is GOOD, through any pending UAs. */
static void settle(int lun)
{
	for (int i = 0; i < 10; i++) {
		struct scsi_task *t = tur(lun);
		int good = t->status == SCSI_STATUS_GOOD;
		int ua = t->status == SCSI_STATUS_CHECK_CONDITION &&
			 t->sense.key == SCSI_SENSE_UNIT_ATTENTION;

		if (!good && !ua)
			check(0, "TEST UNIT READY to LUN field %04x: %s", lun,
			      describe(t));
		scsi_free_scsi_task(t);
		if (good || !ua)
			return;
	}
	check(0, "LUN field %04x: still a unit attention after 10 TURs", lun);
}

/* The full list, addressed to wire LUN `to`, with SELECT REPORT `select`. */
static void check_list(int to, uint8_t select, const unsigned *luns, int n,
		       const char *when)
{
	struct scsi_task *t = report_luns(to, select, ALLOC_FULL);
	uint32_t len = 8u * (uint32_t)n;
	uint8_t want[8];
	char what[128];

	snprintf(what, sizeof(what),
		 "%s: REPORT LUNS SELECT %02xh to LUN "
		 "field %04x",
		 when, select, to);
	if (t->status != SCSI_STATUS_GOOD) {
		check(0, "%s: %s", what, describe(t));
		scsi_free_scsi_task(t);
		return;
	}
	check(t->datain.size == (int)(8 + len),
	      "%s: %d bytes of data, expected %u", what, t->datain.size,
	      8 + len);
	if (t->datain.size >= 8) {
		const uint8_t *d = t->datain.data;
		uint32_t got = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
			       (uint32_t)d[2] << 8 | d[3];

		check(got == len, "%s: LUN LIST LENGTH %u, expected %u", what,
		      got, len);
		check(!d[4] && !d[5] && !d[6] && !d[7],
		      "%s: reserved bytes 4..7 not zero", what);
	}
	for (int i = 0; i < n && 8 + 8 * (i + 1) <= t->datain.size; i++) {
		const uint8_t *e = t->datain.data + 8 + 8 * i;

		encode_lun(luns[i], want);
		check(!memcmp(e, want, 8),
		      "%s: entry %d is %02x%02x %02x%02x %02x%02x %02x%02x, "
		      "expected LUN %u as %02x%02x 0000 0000 0000",
		      what, i, e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7],
		      luns[i], want[0], want[1]);
	}
	check(t->residual_status == SCSI_RESIDUAL_UNDERFLOW &&
		  t->residual == ALLOC_FULL - (8 + len),
	      "%s: expected an underflow residual of %u, got status %d "
	      "residual %zu",
	      what, ALLOC_FULL - (8 + len), t->residual_status, t->residual);
	scsi_free_scsi_task(t);
}

/* Allocation lengths that cut the list; the header keeps the full length. */
static void check_truncation(int to, const unsigned *luns, int n)
{
	uint32_t full = 8 + 8u * (uint32_t)n;
	uint32_t allocs[] = {16, 20, full - 1};
	uint8_t want[8 * MAX_LUNS + 8];

	memset(want, 0, sizeof(want));
	want[0] = (uint8_t)((full - 8) >> 24);
	want[1] = (uint8_t)((full - 8) >> 16);
	want[2] = (uint8_t)((full - 8) >> 8);
	want[3] = (uint8_t)(full - 8);
	for (int i = 0; i < n; i++)
		encode_lun(luns[i], want + 8 + 8 * i);

	for (unsigned a = 0; a < sizeof(allocs) / sizeof(allocs[0]); a++) {
		uint32_t alloc = allocs[a];
		struct scsi_task *t;

		if (alloc >= full || alloc < 16)
			continue;
		t = report_luns(to, 0, alloc);
		if (t->status != SCSI_STATUS_GOOD) {
			check(0, "REPORT LUNS allocation length %u: %s", alloc,
			      describe(t));
		} else {
			check(t->datain.size == (int)alloc,
			      "REPORT LUNS allocation length %u: %d bytes, "
			      "expected %u",
			      alloc, t->datain.size, alloc);
			check(!memcmp(t->datain.data, want,
				      t->datain.size < (int)alloc
					  ? (size_t)t->datain.size
					  : alloc),
			      "REPORT LUNS allocation length %u: the data is "
			      "not the first %u bytes of the full list "
			      "(LUN LIST LENGTH must stay %u)",
			      alloc, alloc, full - 8);
		}
		scsi_free_scsi_task(t);
	}
}

static void check_short_alloc(int to)
{
	uint32_t allocs[] = {0, 4, 8, 15};

	for (unsigned a = 0; a < sizeof(allocs) / sizeof(allocs[0]); a++) {
		struct scsi_task *t = report_luns(to, 0, allocs[a]);
		char what[64];

		snprintf(what, sizeof(what), "REPORT LUNS allocation length %u",
			 allocs[a]);
		check_invalid_field(t, 6, what);
		scsi_free_scsi_task(t);
	}
}

static void check_selects(int to)
{
	static const uint8_t reserved[] = {0x03, 0x0f, 0x13, 0xf7};
	struct scsi_task *t = report_luns(to, 0x01, ALLOC_FULL);

	if (t->status == SCSI_STATUS_GOOD) {
		check(t->datain.size == 8 && t->datain.data[3] == 0 &&
			  t->datain.data[2] == 0,
		      "REPORT LUNS SELECT 01h: expected an empty list (8 "
		      "bytes), got %d bytes",
		      t->datain.size);
	} else {
		check(0, "REPORT LUNS SELECT 01h: %s", describe(t));
	}
	scsi_free_scsi_task(t);
	for (unsigned i = 0; i < sizeof(reserved); i++) {
		char what[64];

		t = report_luns(to, reserved[i], ALLOC_FULL);
		snprintf(what, sizeof(what),
			 "REPORT LUNS SELECT %02xh "
			 "(reserved)",
			 reserved[i]);
		check_invalid_field(t, 2, what);
		scsi_free_scsi_task(t);
	}
}

static void check_missing_lun(int missing)
{
	uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
	struct scsi_task *t = tur(missing);

	check(is_sense(t, SCSI_SENSE_ILLEGAL_REQUEST,
		       SCSI_SENSE_ASCQ_LOGICAL_UNIT_NOT_SUPPORTED),
	      "TEST UNIT READY to missing LUN field %04x: expected LOGICAL "
	      "UNIT NOT SUPPORTED, got %s",
	      missing, describe(t));
	scsi_free_scsi_task(t);
	t = send_cdb(missing, inq, sizeof(inq), 96);
	if (t->status == SCSI_STATUS_GOOD && t->datain.size >= 1)
		check(t->datain.data[0] == 0x7f,
		      "INQUIRY to missing LUN field %04x: byte 0 is %02xh, "
		      "expected 7Fh (qualifier 011b, type 1Fh)",
		      missing, t->datain.data[0]);
	else
		check(0, "INQUIRY to missing LUN field %04x: %s", missing,
		      describe(t));
	scsi_free_scsi_task(t);
}

static void run(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0) {
		printf("FAIL: '%s' exited with %d\n", cmd, rc);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	unsigned luns[MAX_LUNS], after_add[MAX_LUNS], after_del[MAX_LUNS];
	int n, n_add = 0, n_del = 0, missing, first, last;
	struct iscsi_url *url;
	struct scsi_task *t;

	if (argc != 3 && argc != 7) {
		fprintf(stderr, "usage: reportluns URL LUNS [ADD_CMD "
				"LUNS_AFTER_ADD DEL_CMD LUNS_AFTER_DEL]\n");
		return 2;
	}
	n = parse_luns(argv[2], luns);
	if (n < 1 || luns[0] >= 256) {
		fprintf(stderr, "reportluns: LUNS must start below 256\n");
		return 2;
	}
	if (argc == 7) {
		n_add = parse_luns(argv[4], after_add);
		n_del = parse_luns(argv[6], after_del);
	}
	iscsi = iscsi_create_context(INITIATOR);
	if (!iscsi)
		return 2;
	url = iscsi_parse_full_url(iscsi, argv[1]);
	if (!url) {
		fprintf(stderr, "reportluns: bad URL %s: %s\n", argv[1],
			iscsi_get_error(iscsi));
		return 2;
	}
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	/* Not iscsi_full_connect_sync: it sends TEST UNIT READY to the LUN,
	 * which fails on a LUN that does not exist. */
	if (iscsi_connect_sync(iscsi, url->portal) != 0 ||
	    iscsi_login_sync(iscsi) != 0) {
		fprintf(stderr, "reportluns: login to %s failed: %s\n", argv[1],
			iscsi_get_error(iscsi));
		return 2;
	}
	missing = wire_lun((unsigned)url->lun);
	first = wire_lun(luns[0]);
	last = wire_lun(luns[n - 1]);

	/* Before anything else: the LUs have POWER ON RESET pending for this
	 * nexus, which REPORT LUNS does not report. */
	check_list(first, 0x00, luns, n, "with a unit attention pending");
	check_list(missing, 0x00, luns, n, "to a missing LUN");
	check_list(missing, 0x02, luns, n, "to a missing LUN");
	check_list(last, 0x00, luns, n, "to the last LUN");
	check_selects(missing);
	check_short_alloc(missing);
	check_short_alloc(first);
	check_truncation(missing, luns, n);
	check_missing_lun(missing);

	/* The last LUN (flat addressing when >= 256) is reachable. */
	settle(last);
	t = tur(last);
	check(t->status == SCSI_STATUS_GOOD,
	      "TEST UNIT READY to LUN %u (LUN field %04x): %s", luns[n - 1],
	      last, describe(t));
	scsi_free_scsi_task(t);

	if (argc == 7) {
		settle(first);
		run(argv[3]);
		t = tur(first);
		check(is_sense(t, SCSI_SENSE_UNIT_ATTENTION, ASC_RL_CHANGED),
		      "after a LUN was added: TEST UNIT READY to LUN %u: "
		      "expected UNIT ATTENTION / REPORTED LUNS DATA HAS "
		      "CHANGED (3F0Eh), got %s",
		      luns[0], describe(t));
		scsi_free_scsi_task(t);
		t = tur(first);
		check(t->status == SCSI_STATUS_GOOD,
		      "after a LUN was added: second TEST UNIT READY to LUN "
		      "%u: %s (the unit attention must be reported once)",
		      luns[0], describe(t));
		scsi_free_scsi_task(t);
		check_list(missing, 0x00, after_add, n_add, "after the add");

		run(argv[5]);
		check_list(first, 0x00, after_del, n_del,
			   "after the delete, first command");
		t = tur(first);
		check(t->status == SCSI_STATUS_GOOD,
		      "after the delete: TEST UNIT READY to LUN %u after "
		      "REPORT LUNS: %s (REPORT LUNS clears REPORTED LUNS DATA "
		      "HAS CHANGED)",
		      luns[0], describe(t));
		scsi_free_scsi_task(t);
	}

	iscsi_logout_sync(iscsi);
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return check_verdict();
}
