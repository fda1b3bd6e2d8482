/*
 * tmf_raw: task management (RFC 7143 §11.5-11.6, RFC 7144) against a
 * running lunard, seen on the wire through the hand-made initiator of
 * iscsi_raw.h, which can hold a write's Data-Out back (InitialR2T=Yes,
 * ImmediateData=No: a write waits for data after its R2T) so that tasks
 * are deterministically in flight when a function arrives.
 *
 *   tmf_raw functions PORTAL TARGET
 *       One session, LUN 1 (LUN 9 absent): QUERY ASYNCHRONOUS EVENT
 *       (Additional Response Information), QUERY TASK, QUERY TASK SET,
 *       ABORT TASK, CLEAR TASK SET, ABORT TASK SET, CLEAR ACA, TASK
 *       REASSIGN, an unknown function, I_T NEXUS RESET, TARGET WARM
 *       RESET, LOGICAL UNIT RESET, REPORT SUPPORTED TASK MANAGEMENT
 *       FUNCTIONS; aborted tasks never answer, late Data-Out for them is
 *       dropped; the session stays usable.
 *   tmf_raw tas PORTAL TARGET
 *       Two sessions on LUN 1. B holds writes (and has others with all
 *       their data in flight), A resets the LU: with TAS=1 (the default)
 *       each held write ends with TASK ABORTED status, each other one
 *       with TASK ABORTED or GOOD, once; after MODE SELECT TAS=0 held
 *       writes end without any response. B then sees BUS DEVICE RESET
 *       FUNCTION OCCURRED.
 *   tmf_raw lureset PORTAL TARGET URL2
 *       Session A sends 32 writes of 256 KiB to LUN 1 (half with all their
 *       data, half with the first quarter only), then LOGICAL UNIT RESET;
 *       meanwhile a libiscsi session (URL2, LUN 2) writes and reads back
 *       without pause. Every ITT gets at most one response, none after the
 *       reset's response, none for the writes still waiting for data; the
 *       LUN 2 session sees no error; LUN 1 then reports 29/03.
 *   tmf_raw storm PORTAL TARGET SECONDS [MRDSL]
 *       For SECONDS, writes and reads on LUN 1 with an ABORT TASK for most
 *       of them and an ABORT TASK SET now and then: each command answered
 *       at most once and never after a TMF response that covered it, a
 *       read's Data-In in order (with our MaxRecvDataSegmentLength MRDSL,
 *       262144 by default, a 64 KiB read comes in several PDUs),
 *       each TMF answered once ("Task does not exist" only for a command
 *       that had already answered); then a write/read-back check.
 *
 * Exit status 0 when everything held, 1 otherwise (with the reason on
 * stderr), 2 for usage errors. Every wait is bounded.
 */
#include <pthread.h>
#include <stdatomic.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "iscsi_raw.h"

#define WAIT_MS	      10000 /* the longest any single answer may take */
#define QUIET_MS      400   /* "nothing more comes" */
#define BLOCK	      512
#define LUN_OK	      1
#define LUN_ABSENT    9
#define INIT_A	      "iqn.2026-11.org.lunar:tmf-a"
#define INIT_B	      "iqn.2026-11.org.lunar:tmf-b"
#define INIT_LIBISCSI "iqn.2026-11.org.lunar:tmf-lun2"

/* TMF functions and responses */
enum {
	F_ABORT_TASK = 1,
	F_ABORT_TASK_SET = 2,
	F_CLEAR_ACA = 3,
	F_CLEAR_TASK_SET = 4,
	F_LU_RESET = 5,
	F_TARGET_WARM_RESET = 6,
	F_TASK_REASSIGN = 8,
	F_QUERY_TASK = 9,
	F_QUERY_TASK_SET = 10,
	F_IT_NEXUS_RESET = 11,
	F_QUERY_ASYNC_EVENT = 12,
};
enum {
	R_COMPLETE = 0,
	R_NO_TASK = 1,
	R_NO_LUN = 2,
	R_NO_REASSIGN = 4,
	R_NOT_SUPPORTED = 5,
	R_SUCCEEDED = 7,
};
#define RAW_OP_TMF     0x02
#define RAW_OP_TMF_RSP 0x22
#define STATUS_GOOD    0x00
#define STATUS_CHECK   0x02
#define STATUS_ABORTED 0x40

static struct raw_pdu *pdu; /* the PDU being looked at */

/* ---- PDUs ---- */

static void bhs_lun(uint8_t *bhs, unsigned lun)
{
	bhs[8] = 0;
	bhs[9] = (uint8_t)lun; /* single level, peripheral addressing */
}

/* Sends a SCSI Command; returns its CmdSN. */
static uint32_t send_cmd(struct raw_conn *c, unsigned lun, uint32_t itt,
			 const uint8_t *cdb, uint32_t edtl, bool rd, bool wr,
			 const void *imm, uint32_t imm_len)
{
	uint8_t bhs[RAW_BHS] = {0};
	uint32_t cmdsn = c->cmdsn++;

	bhs[0] = RAW_OP_SCSI_CMD;
	bhs[1] = (uint8_t)(RAW_FINAL | (rd ? 0x40 : 0) | (wr ? 0x20 : 0) | 1);
	bhs_lun(bhs, lun);
	raw_put32(bhs + 16, itt);
	raw_put32(bhs + 20, edtl);
	raw_put32(bhs + 24, cmdsn);
	raw_put32(bhs + 28, c->expstatsn);
	memcpy(bhs + 32, cdb, 16);
	if (!raw_send(c, bhs, imm, imm_len, 0))
		raw_die("%s: connection lost sending a command", c->name);
	return cmdsn;
}

/* An immediate TMF request (CmdSN not advanced). */
static void send_tmf(struct raw_conn *c, uint8_t fn, unsigned lun, uint32_t itt,
		     uint32_t rtt, uint32_t refcmdsn)
{
	uint8_t bhs[RAW_BHS] = {0};

	bhs[0] = RAW_IMMEDIATE | RAW_OP_TMF;
	bhs[1] = (uint8_t)(RAW_FINAL | fn);
	bhs_lun(bhs, lun);
	raw_put32(bhs + 16, itt);
	raw_put32(bhs + 20, rtt);
	raw_put32(bhs + 24, c->cmdsn);
	raw_put32(bhs + 28, c->expstatsn);
	raw_put32(bhs + 32, refcmdsn);
	if (!raw_send(c, bhs, NULL, 0, 0))
		raw_die("%s: connection lost sending a TMF", c->name);
}

static void send_data_out(struct raw_conn *c, unsigned lun, uint32_t itt,
			  uint32_t ttt, uint32_t datasn, uint32_t off,
			  const uint8_t *data, uint32_t len, bool final)
{
	uint8_t bhs[RAW_BHS] = {0};

	bhs[0] = RAW_OP_DATA_OUT;
	bhs[1] = final ? RAW_FINAL : 0;
	bhs_lun(bhs, lun);
	raw_put32(bhs + 16, itt);
	raw_put32(bhs + 20, ttt);
	raw_put32(bhs + 28, c->expstatsn);
	raw_put32(bhs + 36, datasn);
	raw_put32(bhs + 40, off);
	if (!raw_send(c, bhs, data, len, 0))
		raw_die("%s: connection lost sending Data-Out", c->name);
}

/* Data-Out for [off, off + len) of data, in PDUs the target accepts. */
static void send_burst(struct raw_conn *c, unsigned lun, uint32_t itt,
		       uint32_t ttt, const uint8_t *data, uint32_t off,
		       uint32_t len, bool final)
{
	uint32_t seg = c->tgt_mrdsl, done = 0, sn = 0;

	while (done < len) {
		uint32_t n = len - done < seg ? len - done : seg;

		send_data_out(c, lun, itt, ttt, sn++, off + done,
			      data + off + done, n, final && done + n == len);
		done += n;
	}
}

static bool is_status_pdu(const uint8_t *b)
{
	uint8_t op = raw_opcode(b);

	return op == RAW_OP_SCSI_RSP || op == RAW_OP_TMF_RSP ||
	       op == RAW_OP_REJECT || op == RAW_OP_LOGOUT_RSP ||
	       (op == RAW_OP_DATA_IN && (b[1] & 0x01));
}

/* The next PDU within ms (pings answered on the way); false: none. Dies
 * when the target closes the connection. StatSN is checked. */
static bool recv_within(struct raw_conn *c, int ms)
{
	int r = raw_recv(c, pdu, ms);

	if (r == 0)
		raw_die("%s: the target closed the connection", c->name);
	if (r < 0)
		return false;
	if (is_status_pdu(pdu->bhs))
		raw_take_statsn(c, pdu->bhs);
	return true;
}

static void recv_or_die(struct raw_conn *c, const char *awaiting)
{
	if (!recv_within(c, WAIT_MS))
		raw_die("%s: nothing for %d s while waiting for %s", c->name,
			WAIT_MS / 1000, awaiting);
}

static void die_unexpected(struct raw_conn *c, const char *awaiting)
{
	const uint8_t *b = pdu->bhs;

	raw_die("%s: %s (opcode 0x%02x, ITT 0x%08x, byte 2 0x%02x, byte 3 "
		"0x%02x) while waiting for %s",
		c->name, raw_opname(raw_opcode(b)), raw_opcode(b),
		raw_get32(b + 16), b[2], b[3], awaiting);
}

/* Nothing but pings for ms: a task that was aborted stays silent. */
static void expect_quiet(struct raw_conn *c, int ms, const char *why)
{
	if (recv_within(c, ms))
		die_unexpected(c, why);
}

/* Sense key, ASC and ASCQ of the SCSI Response in pdu (fixed format). */
static void sense_of(uint8_t *key, uint8_t *asc, uint8_t *ascq)
{
	const uint8_t *d = pdu->data + 2;
	uint32_t n = pdu->dlen >= 2 ? raw_get16(pdu->data) : 0;

	*key = *asc = *ascq = 0;
	if (n >= 14 && n + 2 <= pdu->dlen) {
		*key = d[2] & 0x0f;
		*asc = d[12];
		*ascq = d[13];
	}
}

/* ---- whole exchanges ---- */

struct result {
	uint8_t status, key, asc, ascq;
	uint32_t in_len;
};

/*
 * One command, start to end, nothing else outstanding: Data-Out for its
 * R2Ts from out, Data-In into in (at most edtl bytes).
 */
static void scsi_sync(struct raw_conn *c, unsigned lun, const uint8_t *cdb,
		      uint32_t edtl, bool rd, const uint8_t *out, uint8_t *in,
		      struct result *res)
{
	uint32_t itt = c->itt++;
	bool wr = out != NULL;

	memset(res, 0, sizeof(*res));
	send_cmd(c, lun, itt, cdb, edtl, rd, wr, NULL, 0);
	for (;;) {
		const uint8_t *b;

		recv_or_die(c, "a command's answer");
		b = pdu->bhs;
		if (raw_get32(b + 16) != itt)
			die_unexpected(c, "the answer of the only command");
		switch (raw_opcode(b)) {
		case RAW_OP_R2T:
			if (!wr)
				die_unexpected(c, "a read's answer");
			send_burst(c, lun, itt, raw_get32(b + 20), out,
				   raw_get32(b + 40), raw_get32(b + 44), true);
			continue;
		case RAW_OP_DATA_IN: {
			uint32_t off = raw_get32(b + 40);

			if (!in || off + pdu->dlen > edtl)
				die_unexpected(c, "Data-In within EDTL");
			memcpy(in + off, pdu->data, pdu->dlen);
			if (off + pdu->dlen > res->in_len)
				res->in_len = off + pdu->dlen;
			if (b[1] & 0x01) {
				res->status = b[3];
				return;
			}
			continue;
		}
		case RAW_OP_SCSI_RSP:
			res->status = b[3];
			if (b[2] != 0)
				die_unexpected(c, "response 'completed'");
			sense_of(&res->key, &res->asc, &res->ascq);
			return;
		default:
			die_unexpected(c, "a command's answer");
		}
	}
}

static void cdb_rw16(uint8_t *cdb, bool write, uint64_t lba, uint32_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = write ? 0x8a : 0x88;
	raw_put32(cdb + 2, (uint32_t)(lba >> 32));
	raw_put32(cdb + 6, (uint32_t)lba);
	raw_put32(cdb + 10, blocks);
}

static void expect_tur(struct raw_conn *c, unsigned lun, uint8_t asc,
		       uint8_t ascq, const char *what)
{
	uint8_t cdb[16] = {0};
	struct result r;

	scsi_sync(c, lun, cdb, 0, false, NULL, NULL, &r);
	if (asc == 0 && ascq == 0) {
		if (r.status != STATUS_GOOD)
			raw_die("%s: TEST UNIT READY %s: status 0x%02x sense "
				"%x %02x/%02x, expected GOOD",
				c->name, what, r.status, r.key, r.asc, r.ascq);
		return;
	}
	if (r.status != STATUS_CHECK || r.key != 0x6 || r.asc != asc ||
	    r.ascq != ascq)
		raw_die("%s: TEST UNIT READY %s: status 0x%02x sense %x "
			"%02x/%02x, expected CHECK CONDITION, UNIT ATTENTION "
			"%02x/%02x",
			c->name, what, r.status, r.key, r.asc, r.ascq, asc,
			ascq);
}

/* TEST UNIT READY until GOOD (a new nexus has its power-on to see). */
static void clear_uas(struct raw_conn *c, unsigned lun)
{
	uint8_t cdb[16] = {0};
	struct result r;

	for (int i = 0; i < 8; i++) {
		scsi_sync(c, lun, cdb, 0, false, NULL, NULL, &r);
		if (r.status == STATUS_GOOD)
			return;
		if (r.status != STATUS_CHECK || r.key != 0x6)
			raw_die("%s: TEST UNIT READY: status 0x%02x sense %x "
				"%02x/%02x, expected GOOD or a unit attention",
				c->name, r.status, r.key, r.asc, r.ascq);
	}
	raw_die("%s: still unit attentions after 8 TEST UNIT READY", c->name);
}

/* A TMF and its answer (nothing else may come); returns the response. */
static uint8_t tmf_sync(struct raw_conn *c, uint8_t fn, unsigned lun,
			uint32_t rtt, uint32_t refcmdsn, uint8_t ari[3])
{
	uint32_t itt = c->itt++;

	send_tmf(c, fn, lun, itt, rtt, refcmdsn);
	recv_or_die(c, "a Task Management Function Response");
	if (raw_opcode(pdu->bhs) != RAW_OP_TMF_RSP ||
	    raw_get32(pdu->bhs + 16) != itt)
		die_unexpected(c, "the Task Management Function Response");
	if (ari)
		memcpy(ari, pdu->bhs + 8, 3);
	return pdu->bhs[2];
}

static void expect_tmf(struct raw_conn *c, uint8_t fn, unsigned lun,
		       uint32_t rtt, uint32_t refcmdsn, uint8_t want,
		       const char *what)
{
	uint8_t got = tmf_sync(c, fn, lun, rtt, refcmdsn, NULL);

	if (got != want)
		raw_die("%s: %s (function %u): response %u, expected %u",
			c->name, what, fn, got, want);
	raw_log("%s: %s: response %u", c->name, what, got);
}

/* A write of blocks whose data is held back: the target answers with an
 * R2T and waits. Returns the R2T's TTT; *cmdsn gets the CmdSN. */
static uint32_t held_write(struct raw_conn *c, unsigned lun, uint32_t itt,
			   uint64_t lba, uint32_t blocks, uint32_t *cmdsn)
{
	uint8_t cdb[16];
	uint32_t sn;

	cdb_rw16(cdb, true, lba, blocks);
	sn = send_cmd(c, lun, itt, cdb, blocks * BLOCK, false, true, NULL, 0);
	if (cmdsn)
		*cmdsn = sn;
	recv_or_die(c, "an R2T");
	if (raw_opcode(pdu->bhs) != RAW_OP_R2T ||
	    raw_get32(pdu->bhs + 16) != itt)
		die_unexpected(c, "the R2T of a held write");
	return raw_get32(pdu->bhs + 20);
}

/* Our MaxRecvDataSegmentLength in sessions with immediate data. */
static char imm_mrdsl[48] = "MaxRecvDataSegmentLength=262144";

static void login(struct raw_conn *c, const char *portal, const char *target,
		  const char *name, const char *initiator, uint16_t isid,
		  bool hold_data)
{
	static const char *const held[] = {
	    "HeaderDigest=None",     "DataDigest=None",
	    "ErrorRecoveryLevel=0",  "InitialR2T=Yes",
	    "ImmediateData=No",	     "MaxRecvDataSegmentLength=65536",
	    "MaxBurstLength=262144", "FirstBurstLength=65536",
	    "MaxOutstandingR2T=1",   NULL,
	};
	const char *const immediate[] = {
	    "HeaderDigest=None",     "DataDigest=None",
	    "ErrorRecoveryLevel=0",  "InitialR2T=No",
	    "ImmediateData=Yes",     imm_mrdsl,
	    "MaxBurstLength=262144", "FirstBurstLength=65536",
	    "MaxOutstandingR2T=1",   NULL,
	};

	raw_connect(c, portal, name);
	raw_login(c, initiator, target, isid, hold_data ? held : immediate);
	c->answer_pings = true;
	if (hold_data && (!c->initial_r2t || c->immediate_data))
		raw_die("%s: the target did not agree to InitialR2T=Yes, "
			"ImmediateData=No",
			name);
}

static uint8_t *xmalloc(size_t n)
{
	uint8_t *p = calloc(1, n);

	if (!p)
		raw_die("out of memory");
	return p;
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 7;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)(x >> 7);
	}
}

/* Writes len bytes at lba through R2Ts or immediate data as negotiated,
 * reads them back and compares. */
static void round_trip(struct raw_conn *c, unsigned lun, uint64_t lba,
		       uint32_t len, uint32_t seed)
{
	uint8_t cdb[16], *out = xmalloc(len), *in = xmalloc(len);
	uint32_t chunk = 32768;
	struct result r;

	fill(out, len, seed);
	for (uint32_t off = 0; off < len; off += chunk) {
		uint32_t n = len - off < chunk ? len - off : chunk;

		cdb_rw16(cdb, true, lba + off / BLOCK, n / BLOCK);
		if (c->immediate_data && !c->initial_r2t &&
		    n <= c->first_burst && n <= c->tgt_mrdsl) {
			uint32_t itt = c->itt++;

			send_cmd(c, lun, itt, cdb, n, false, true, out + off,
				 n);
			recv_or_die(c, "a write's answer");
			if (raw_opcode(pdu->bhs) != RAW_OP_SCSI_RSP ||
			    raw_get32(pdu->bhs + 16) != itt ||
			    pdu->bhs[3] != STATUS_GOOD)
				die_unexpected(c, "GOOD for a write");
			continue;
		}
		/* R2T offsets are relative to the command's buffer. */
		scsi_sync(c, lun, cdb, n, false, out + off, NULL, &r);
		if (r.status != STATUS_GOOD)
			raw_die("%s: WRITE (16) at LBA %llu: status 0x%02x "
				"sense %x %02x/%02x",
				c->name,
				(unsigned long long)(lba + off / BLOCK),
				r.status, r.key, r.asc, r.ascq);
	}
	cdb_rw16(cdb, false, lba, len / BLOCK);
	scsi_sync(c, lun, cdb, len, true, NULL, in, &r);
	if (r.status != STATUS_GOOD || r.in_len != len)
		raw_die("%s: READ (16) of %u bytes: status 0x%02x, %u bytes",
			c->name, len, r.status, r.in_len);
	if (memcmp(in, out, len))
		raw_die("%s: data read back from LBA %llu differs from what "
			"was written",
			c->name, (unsigned long long)lba);
	free(out);
	free(in);
}

/* ---- functions ---- */

static void mode_functions(const char *portal, const char *target)
{
	struct raw_conn c;
	uint8_t ari[3], cdb[16] = {0}, d[16];
	uint32_t w, ttt, sn, sn2;
	struct result r;
	uint8_t got;

	login(&c, portal, target, "functions", INIT_A, 1, true);

	/* QUERY ASYNCHRONOUS EVENT before anything: the power-on, one
	 * pending (UADE DEPTH 01b), UNIT ATTENTION, 29/00; asked twice, it
	 * is still there. */
	for (int i = 0; i < 2; i++) {
		got = tmf_sync(&c, F_QUERY_ASYNC_EVENT, LUN_OK, RAW_RSVD_TAG, 0,
			       ari);
		if (got != R_SUCCEEDED || ari[0] != 0x16 || ari[1] != 0x29 ||
		    ari[2] != 0x00)
			raw_die("QUERY ASYNCHRONOUS EVENT on a new nexus: "
				"response %u, information %02x %02x %02x; "
				"expected 7, 16 29 00",
				got, ari[0], ari[1], ari[2]);
	}
	raw_log("QUERY ASYNCHRONOUS EVENT: function succeeded, 16 29 00");
	expect_tur(&c, LUN_OK, 0x29, 0x00, "after QUERY ASYNCHRONOUS EVENT");
	got = tmf_sync(&c, F_QUERY_ASYNC_EVENT, LUN_OK, RAW_RSVD_TAG, 0, ari);
	if (got != R_COMPLETE || ari[0] || ari[1] || ari[2])
		raw_die("QUERY ASYNCHRONOUS EVENT with nothing pending: "
			"response %u, information %02x %02x %02x; expected "
			"0, 00 00 00",
			got, ari[0], ari[1], ari[2]);
	expect_tmf(&c, F_QUERY_ASYNC_EVENT, LUN_ABSENT, RAW_RSVD_TAG, 0,
		   R_NO_LUN, "QUERY ASYNCHRONOUS EVENT, absent LUN");

	/* QUERY TASK / QUERY TASK SET / ABORT TASK on a held write. */
	w = c.itt++;
	ttt = held_write(&c, LUN_OK, w, 0, 16, &sn);
	expect_tmf(&c, F_QUERY_TASK, LUN_OK, w, sn, R_SUCCEEDED,
		   "QUERY TASK, a held write");
	expect_tmf(&c, F_QUERY_TASK, LUN_OK, 0x7777, sn, R_COMPLETE,
		   "QUERY TASK, no such task");
	expect_tmf(&c, F_QUERY_TASK, LUN_ABSENT, w, sn, R_NO_LUN,
		   "QUERY TASK, absent LUN");
	expect_tmf(&c, F_QUERY_TASK_SET, LUN_OK, RAW_RSVD_TAG, 0, R_SUCCEEDED,
		   "QUERY TASK SET, a held write");
	expect_tmf(&c, F_QUERY_TASK_SET, LUN_ABSENT, RAW_RSVD_TAG, 0, R_NO_LUN,
		   "QUERY TASK SET, absent LUN");
	expect_tmf(&c, F_ABORT_TASK, LUN_OK, w, sn, R_COMPLETE,
		   "ABORT TASK, the held write");
	expect_tmf(&c, F_QUERY_TASK, LUN_OK, w, sn, R_COMPLETE,
		   "QUERY TASK, the aborted write");
	expect_tmf(&c, F_QUERY_TASK_SET, LUN_OK, RAW_RSVD_TAG, 0, R_COMPLETE,
		   "QUERY TASK SET, nothing left");
	/* Its data, sent late, is dropped without a word. */
	fill(d, sizeof(d), 1);
	send_data_out(&c, LUN_OK, w, ttt, 0, 0, d, sizeof(d), false);
	expect_quiet(&c, QUIET_MS, "nothing for an aborted write");

	/* CLEAR TASK SET (TST 001b: this session's task set) and ABORT
	 * TASK SET: held writes end without a response. */
	held_write(&c, LUN_OK, c.itt++, 0, 8, NULL);
	held_write(&c, LUN_OK, c.itt++, 8, 8, NULL);
	expect_tmf(&c, F_CLEAR_TASK_SET, LUN_OK, RAW_RSVD_TAG, 0, R_COMPLETE,
		   "CLEAR TASK SET, two held writes");
	expect_tmf(&c, F_QUERY_TASK_SET, LUN_OK, RAW_RSVD_TAG, 0, R_COMPLETE,
		   "QUERY TASK SET after CLEAR TASK SET");
	held_write(&c, LUN_OK, c.itt++, 0, 8, NULL);
	expect_tmf(&c, F_ABORT_TASK_SET, LUN_OK, RAW_RSVD_TAG, 0, R_COMPLETE,
		   "ABORT TASK SET, a held write");
	expect_tmf(&c, F_ABORT_TASK_SET, LUN_ABSENT, RAW_RSVD_TAG, 0, R_NO_LUN,
		   "ABORT TASK SET, absent LUN");
	expect_quiet(&c, QUIET_MS, "nothing for the cleared writes");
	/* ABORT TASK of something never sent, RefCmdSN outside the
	 * window: the task does not exist. */
	expect_tmf(&c, F_ABORT_TASK, LUN_OK, 0x6666, c.cmdsn - 100, R_NO_TASK,
		   "ABORT TASK, never sent");

	expect_tmf(&c, F_CLEAR_ACA, LUN_OK, RAW_RSVD_TAG, 0, R_NOT_SUPPORTED,
		   "CLEAR ACA");
	expect_tmf(&c, F_TASK_REASSIGN, LUN_OK, 0x5555, 0, R_NO_REASSIGN,
		   "TASK REASSIGN at ErrorRecoveryLevel 0");
	expect_tmf(&c, 13, LUN_OK, RAW_RSVD_TAG, 0, R_NOT_SUPPORTED,
		   "function 13");
	expect_tmf(&c, F_LU_RESET, LUN_ABSENT, RAW_RSVD_TAG, 0, R_NO_LUN,
		   "LOGICAL UNIT RESET, absent LUN");

	/* I_T NEXUS RESET: the held write goes silently, the session
	 * stays, LUN 1 reports I_T NEXUS LOSS OCCURRED. */
	held_write(&c, LUN_OK, c.itt++, 0, 8, NULL);
	expect_tmf(&c, F_IT_NEXUS_RESET, 0, RAW_RSVD_TAG, 0, R_COMPLETE,
		   "I_T NEXUS RESET");
	expect_quiet(&c, QUIET_MS,
		     "nothing for the write I_T NEXUS RESET "
		     "aborted");
	expect_tur(&c, LUN_OK, 0x29, 0x07, "after I_T NEXUS RESET");
	expect_tur(&c, LUN_OK, 0, 0, "after I_T NEXUS LOSS was reported");

	/* TARGET WARM RESET and LOGICAL UNIT RESET: BUS DEVICE RESET. */
	held_write(&c, LUN_OK, c.itt++, 0, 8, NULL);
	expect_tmf(&c, F_TARGET_WARM_RESET, 0, RAW_RSVD_TAG, 0, R_COMPLETE,
		   "TARGET WARM RESET");
	expect_quiet(&c, QUIET_MS, "nothing for the write the reset aborted");
	expect_tur(&c, LUN_OK, 0x29, 0x03, "after TARGET WARM RESET");
	held_write(&c, LUN_OK, c.itt++, 0, 8, &sn2);
	expect_tmf(&c, F_LU_RESET, LUN_OK, RAW_RSVD_TAG, 0, R_COMPLETE,
		   "LOGICAL UNIT RESET");
	expect_quiet(&c, QUIET_MS, "nothing for the write the reset aborted");
	expect_tur(&c, LUN_OK, 0x29, 0x03, "after LOGICAL UNIT RESET");
	expect_tur(&c, LUN_OK, 0, 0, "after the reset was reported");

	/* REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS says what answered. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xa3;
	cdb[1] = 0x0d;
	raw_put32(cdb + 6, 4);
	scsi_sync(&c, LUN_OK, cdb, 4, true, NULL, d, &r);
	if (r.status != STATUS_GOOD || r.in_len != 4 || d[0] != 0xdc ||
	    d[1] != 0x07)
		raw_die("REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS: status "
			"0x%02x, %u bytes %02x %02x; expected dc 07",
			r.status, r.in_len, d[0], d[1]);
	raw_log("REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS: dc 07");

	round_trip(&c, LUN_OK, 64, 65536, 42);
	raw_log("data round trip after the functions: identical");
	raw_logout(&c);
	raw_log("ok");
}

/* ---- TAS across two sessions ---- */

#define TAS_WRITES   4
#define TAS_FULL     8
#define TAS_FULL_LEN (256 * 1024)

static void set_tas(struct raw_conn *c, bool on)
{
	uint8_t cdb[16] = {0}, in[64], list[4 + 12] = {0};
	struct result r;

	cdb[0] = 0x1a; /* MODE SENSE (6), DBD, control page */
	cdb[1] = 0x08;
	cdb[2] = 0x0a;
	cdb[4] = sizeof(in);
	scsi_sync(c, LUN_OK, cdb, sizeof(in), true, NULL, in, &r);
	if (r.status != STATUS_GOOD || r.in_len < 16 || (in[4] & 0x3f) != 0x0a)
		raw_die("MODE SENSE (6) control page: status 0x%02x, %u bytes",
			r.status, r.in_len);
	memcpy(list + 4, in + 4, 12);
	list[4] &= 0x7f; /* PS */
	if (on)
		list[4 + 5] |= 0x40;
	else
		list[4 + 5] &= (uint8_t)~0x40;
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x15; /* MODE SELECT (6), PF */
	cdb[1] = 0x10;
	cdb[4] = sizeof(list);
	scsi_sync(c, LUN_OK, cdb, sizeof(list), false, list, NULL, &r);
	if (r.status != STATUS_GOOD)
		raw_die("MODE SELECT (6) TAS=%d: status 0x%02x sense %x "
			"%02x/%02x",
			on, r.status, r.key, r.asc, r.ascq);
	raw_log("%s: MODE SELECT control page TAS=%d", c->name, on);
}

static void mode_tas(const char *portal, const char *target)
{
	struct raw_conn a, b;
	uint32_t itt[TAS_WRITES], ttt[TAS_WRITES];
	uint32_t full_itt[TAS_FULL], full_ttt[TAS_FULL];
	bool seen[TAS_WRITES + TAS_FULL] = {false};
	uint8_t d[512], *full = xmalloc(TAS_FULL_LEN);
	int full_aborted = 0;

	fill(full, TAS_FULL_LEN, 4);
	login(&a, portal, target, "session A", INIT_A, 1, true);
	login(&b, portal, target, "session B", INIT_B, 2, true);
	clear_uas(&a, LUN_OK);
	clear_uas(&b, LUN_OK);

	/* TAS=1 (the default): B's writes end with TASK ABORTED. Beside
	 * the held ones, writes with all their data, which may be in the
	 * store when the reset comes: GOOD or TASK ABORTED, once each. */
	for (int i = 0; i < TAS_WRITES; i++) {
		itt[i] = b.itt++;
		ttt[i] =
		    held_write(&b, LUN_OK, itt[i], (uint64_t)i * 8, 8, NULL);
	}
	for (int i = 0; i < TAS_FULL; i++) {
		uint8_t cdb[16];

		full_itt[i] = b.itt++;
		cdb_rw16(cdb, true, 1024 + (uint64_t)i * (TAS_FULL_LEN / BLOCK),
			 TAS_FULL_LEN / BLOCK);
		send_cmd(&b, LUN_OK, full_itt[i], cdb, TAS_FULL_LEN, false,
			 true, NULL, 0);
	}
	for (int n = 0; n < TAS_FULL; n++) {
		int i;

		recv_or_die(&b, "the R2Ts of the full writes");
		for (i = 0; i < TAS_FULL; i++) {
			if (raw_get32(pdu->bhs + 16) == full_itt[i])
				break;
		}
		if (raw_opcode(pdu->bhs) != RAW_OP_R2T || i == TAS_FULL)
			die_unexpected(&b, "an R2T for each full write");
		full_ttt[i] = raw_get32(pdu->bhs + 20);
	}
	for (int i = 0; i < TAS_FULL; i++)
		send_burst(&b, LUN_OK, full_itt[i], full_ttt[i], full, 0,
			   TAS_FULL_LEN, true);
	expect_tmf(&a, F_LU_RESET, LUN_OK, RAW_RSVD_TAG, 0, R_COMPLETE,
		   "LOGICAL UNIT RESET while B holds writes");
	for (int n = 0; n < TAS_WRITES + TAS_FULL; n++) {
		const uint8_t *h;
		int i;

		recv_or_die(&b, "a response for each of B's writes");
		h = pdu->bhs;
		for (i = 0; i < TAS_WRITES + TAS_FULL; i++) {
			if (raw_get32(h + 16) ==
			    (i < TAS_WRITES ? itt[i]
					    : full_itt[i - TAS_WRITES]))
				break;
		}
		if (raw_opcode(h) != RAW_OP_SCSI_RSP ||
		    i == TAS_WRITES + TAS_FULL || seen[i] || h[2] != 0)
			die_unexpected(&b, "one SCSI Response for each write");
		seen[i] = true;
		if (h[3] == STATUS_ABORTED && i >= TAS_WRITES)
			full_aborted++;
		else if (h[3] != STATUS_ABORTED &&
			 (i < TAS_WRITES || h[3] != STATUS_GOOD))
			die_unexpected(&b, "TASK ABORTED (0x40) for a held "
					   "write, it or GOOD for a full one");
	}
	raw_log("session B: TAS=1: %d held writes and %d of %d full ones "
		"ended with TASK ABORTED",
		TAS_WRITES, full_aborted, TAS_FULL);
	expect_quiet(&b, QUIET_MS, "nothing more after TASK ABORTED");
	expect_tur(&b, LUN_OK, 0x29, 0x03, "on B after A's reset");
	expect_tur(&b, LUN_OK, 0, 0, "on B after the reset was reported");
	expect_tur(&a, LUN_OK, 0x29, 0x03, "on A after its reset");

	/* TAS=0: the same writes end without any response. */
	set_tas(&a, false);
	expect_tur(&b, LUN_OK, 0x2a, 0x01, "on B after A's MODE SELECT");
	for (int i = 0; i < TAS_WRITES; i++) {
		itt[i] = b.itt++;
		ttt[i] =
		    held_write(&b, LUN_OK, itt[i], (uint64_t)i * 8, 8, NULL);
	}
	expect_tmf(&a, F_LU_RESET, LUN_OK, RAW_RSVD_TAG, 0, R_COMPLETE,
		   "LOGICAL UNIT RESET with TAS=0");
	expect_quiet(&b, 1500,
		     "no response at all for writes aborted by "
		     "another nexus with TAS=0");
	fill(d, sizeof(d), 2);
	send_data_out(&b, LUN_OK, itt[0], ttt[0], 0, 0, d, sizeof(d), false);
	expect_quiet(&b, QUIET_MS,
		     "nothing for late Data-Out of an aborted "
		     "write");
	raw_log("session B: TAS=0: no response for %d held writes", TAS_WRITES);
	expect_tur(&b, LUN_OK, 0x29, 0x03, "on B after A's second reset");
	expect_tur(&b, LUN_OK, 0, 0, "on B afterwards");
	expect_tur(&a, LUN_OK, 0x29, 0x03, "on A after its second reset");
	set_tas(&a, true);
	expect_tur(&b, LUN_OK, 0x2a, 0x01, "on B after TAS=1 again");
	round_trip(&b, LUN_OK, 256, 16384, 3);
	raw_logout(&a);
	raw_logout(&b);
	free(full);
	raw_log("ok");
}

/* ---- LOGICAL UNIT RESET with 32 writes in flight ---- */

#define LR_WRITES 32
#define LR_LEN	  (256 * 1024)

struct lun2_io {
	const char *url;
	atomic_bool stop;
	unsigned ops;
	char error[512];
};

/* The other session: writes and reads back 4 KiB blocks of LUN 2 until
 * told to stop (at most 120 s). */
static void *lun2_main(void *arg)
{
	struct lun2_io *io = arg;
	struct iscsi_context *iscsi = iscsi_create_context(INIT_LIBISCSI);
	struct iscsi_url *url;
	uint8_t out[4096], *in;
	uint64_t end = raw_now_ms() + 120000;

	if (!iscsi) {
		snprintf(io->error, sizeof(io->error), "no libiscsi context");
		return NULL;
	}
	url = iscsi_parse_full_url(iscsi, io->url);
	if (!url) {
		snprintf(io->error, sizeof(io->error), "bad URL %s: %s",
			 io->url, iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return NULL;
	}
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun)) {
		snprintf(io->error, sizeof(io->error), "login to %s: %s",
			 io->url, iscsi_get_error(iscsi));
		goto out;
	}
	while (!atomic_load(&io->stop) && raw_now_ms() < end) {
		uint64_t lba = (io->ops % 512) * 8;
		struct scsi_task *t;

		fill(out, sizeof(out), io->ops);
		t = iscsi_write16_sync(iscsi, url->lun, lba, out, sizeof(out),
				       BLOCK, 0, 0, 0, 0, 0);
		/* The first command may meet the power-on unit attention. */
		if (t && t->status == SCSI_STATUS_CHECK_CONDITION &&
		    t->sense.key == SCSI_SENSE_UNIT_ATTENTION && io->ops == 0) {
			scsi_free_scsi_task(t);
			continue;
		}
		if (!t || t->status != SCSI_STATUS_GOOD) {
			snprintf(io->error, sizeof(io->error),
				 "WRITE (16) on LUN 2 after %u operations: %s",
				 io->ops, iscsi_get_error(iscsi));
			if (t)
				scsi_free_scsi_task(t);
			break;
		}
		scsi_free_scsi_task(t);
		t = iscsi_read16_sync(iscsi, url->lun, lba, sizeof(out), BLOCK,
				      0, 0, 0, 0, 0);
		in = t && t->datain.size == (int)sizeof(out) ? t->datain.data
							     : NULL;
		if (!t || t->status != SCSI_STATUS_GOOD || !in ||
		    memcmp(in, out, sizeof(out))) {
			snprintf(io->error, sizeof(io->error),
				 "READ (16) on LUN 2 after %u operations: %s",
				 io->ops,
				 t && t->status == SCSI_STATUS_GOOD
				     ? "data differs from what was written"
				     : iscsi_get_error(iscsi));
			if (t)
				scsi_free_scsi_task(t);
			break;
		}
		scsi_free_scsi_task(t);
		io->ops++;
	}
	iscsi_logout_sync(iscsi);
out:
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return NULL;
}

static void mode_lureset(const char *portal, const char *target,
			 const char *url2)
{
	struct raw_conn a;
	struct lun2_io io = {.url = url2};
	pthread_t th;
	uint8_t *data = xmalloc(LR_LEN), cdb[16];
	uint32_t itt[LR_WRITES], ttt[LR_WRITES], tmf_itt;
	unsigned rsp[LR_WRITES] = {0}, good = 0, ops0;
	bool tmf_seen = false;
	uint64_t quiet_until = 0;

	atomic_init(&io.stop, false);
	if (pthread_create(&th, NULL, lun2_main, &io))
		raw_die("cannot start the LUN 2 thread");
	login(&a, portal, target, "session A", INIT_A, 1, true);
	clear_uas(&a, LUN_OK);
	/* The LUN 2 session is at work before the reset. */
	for (int i = 0; i < 100 && io.ops < 20 && !io.error[0]; i++)
		usleep(50000);
	if (io.error[0])
		raw_die("LUN 2 session: %s", io.error);
	ops0 = io.ops;

	fill(data, LR_LEN, 9);
	for (int i = 0; i < LR_WRITES; i++) {
		itt[i] = a.itt++;
		cdb_rw16(cdb, true, (uint64_t)i * (LR_LEN / BLOCK),
			 LR_LEN / BLOCK);
		send_cmd(&a, LUN_OK, itt[i], cdb, LR_LEN, false, true, NULL, 0);
	}
	for (int n = 0; n < LR_WRITES; n++) {
		int i;

		recv_or_die(&a, "the R2Ts of 32 writes");
		for (i = 0; i < LR_WRITES; i++) {
			if (raw_get32(pdu->bhs + 16) == itt[i])
				break;
		}
		if (raw_opcode(pdu->bhs) != RAW_OP_R2T || i == LR_WRITES)
			die_unexpected(&a, "an R2T for each write");
		ttt[i] = raw_get32(pdu->bhs + 20);
	}
	/* Even writes get all their data (they may reach the store), odd
	 * ones a quarter: those are surely in flight at the reset. */
	for (int i = 0; i < LR_WRITES; i++)
		send_burst(&a, LUN_OK, itt[i], ttt[i], data, 0,
			   i % 2 ? LR_LEN / 4 : LR_LEN, !(i % 2));
	tmf_itt = a.itt++;
	send_tmf(&a, F_LU_RESET, LUN_OK, tmf_itt, RAW_RSVD_TAG, 0);
	raw_log("session A: LOGICAL UNIT RESET after 32 writes");

	/* Until the TMF response and then QUIET_MS * 3 of silence. */
	for (;;) {
		const uint8_t *h;
		uint64_t now = raw_now_ms();
		int i;

		if (tmf_seen && now >= quiet_until)
			break;
		if (!recv_within(&a, tmf_seen ? (int)(quiet_until - now)
					      : WAIT_MS)) {
			if (!tmf_seen)
				raw_die("session A: no answer to LOGICAL UNIT "
					"RESET within %d s",
					WAIT_MS / 1000);
			break;
		}
		h = pdu->bhs;
		if (raw_opcode(h) == RAW_OP_TMF_RSP &&
		    raw_get32(h + 16) == tmf_itt && !tmf_seen) {
			if (h[2] != R_COMPLETE)
				raw_die("LOGICAL UNIT RESET: response %u",
					h[2]);
			tmf_seen = true;
			quiet_until = raw_now_ms() + 3 * QUIET_MS;
			continue;
		}
		for (i = 0; i < LR_WRITES; i++) {
			if (raw_get32(h + 16) == itt[i])
				break;
		}
		if (raw_opcode(h) != RAW_OP_SCSI_RSP || i == LR_WRITES)
			die_unexpected(&a, "only SCSI Responses of writes and "
					   "the TMF response");
		if (tmf_seen)
			die_unexpected(&a, "nothing for the writes after the "
					   "reset's response (RFC 7143 "
					   "§11.5.1: aborted tasks end "
					   "first, silently)");
		if (i % 2)
			die_unexpected(&a, "no response for a write still "
					   "waiting for its data");
		if (rsp[i]++)
			die_unexpected(&a, "one response per task");
		if (h[3] != STATUS_GOOD)
			die_unexpected(&a, "GOOD for a write that completed "
					   "before the reset");
		good++;
	}
	raw_log("session A: reset answered; %u writes completed before it, "
		"%u aborted without a response",
		good, LR_WRITES - good);
	/* Late Data-Out for an aborted write is dropped. */
	send_burst(&a, LUN_OK, itt[1], ttt[1], data, LR_LEN / 4, LR_LEN / 4,
		   false);
	expect_quiet(&a, QUIET_MS, "nothing for late Data-Out");
	expect_tur(&a, LUN_OK, 0x29, 0x03, "after LOGICAL UNIT RESET");
	expect_tur(&a, LUN_OK, 0, 0, "after the reset was reported");
	round_trip(&a, LUN_OK, 0, 65536, 5);

	/* The LUN 2 session kept going through all of it. */
	for (int i = 0; i < 100 && io.ops < ops0 + 20 && !io.error[0]; i++)
		usleep(50000);
	atomic_store(&io.stop, true);
	pthread_join(th, NULL);
	if (io.error[0])
		raw_die("LUN 2 session: %s", io.error);
	if (io.ops <= ops0)
		raw_die("LUN 2 session made no progress across the reset");
	raw_log("LUN 2 session: %u write/read-back pairs, no error", io.ops);
	raw_logout(&a);
	free(data);
	raw_log("ok");
}

/* ---- ABORT TASK storm ---- */

#define ST_OUTSTANDING 32
#define ST_TMFS	       16
#define ST_MAX_CMDS    (1u << 20)
#define ST_MAX_TMFS    (1u << 20)
#define ST_WLEN	       32768
#define ST_RLEN	       65536
/* Commands per second at most: some thousands of aborts per second, far
 * beyond what an initiator sends, without eating the machine's CPUs. */
#define ST_RATE	    4000
#define ST_CMD_BASE 0x01000000u
#define ST_TMF_BASE 0x20000000u

struct st_cmd {
	uint32_t cmdsn;
	uint32_t datasn, offset; /* the next Data-In's */
	bool finished;		 /* its status came */
	bool dead;    /* a TMF said it was aborted: nothing may come */
	bool covered; /* some abort was sent for it */
};

struct st_tmf {
	uint8_t fn;
	bool answered;
	uint32_t cmd;	/* ABORT TASK: the command */
	uint32_t upto;	/* ABORT TASK SET: commands sent before it */
	uint32_t first; /* ... and not finished at that time, from here */
};

static struct st_cmd *st_cmds;
static struct st_tmf *st_tmfs;
static uint32_t st_nr_cmds, st_nr_tmfs, st_open_cmds, st_open_tmfs;
static uint32_t st_aborted, st_completed, st_no_task;

static void st_finish(struct raw_conn *c, uint32_t i, uint8_t status)
{
	struct st_cmd *k = &st_cmds[i];

	if (k->dead)
		die_unexpected(c, "nothing for a command a TMF response "
				  "already declared aborted");
	if (k->finished)
		die_unexpected(c, "one status per command");
	if (status != STATUS_GOOD)
		die_unexpected(c, "GOOD status (own aborts are silent)");
	k->finished = true;
	st_open_cmds--;
	st_completed++;
}

static void st_kill(uint32_t i)
{
	struct st_cmd *k = &st_cmds[i];

	if (k->finished || k->dead)
		return;
	k->dead = true;
	st_open_cmds--;
	st_aborted++;
}

static void st_pdu(struct raw_conn *c)
{
	const uint8_t *h = pdu->bhs;
	uint32_t itt = raw_get32(h + 16);

	switch (raw_opcode(h)) {
	case RAW_OP_SCSI_RSP:
	case RAW_OP_DATA_IN:
		if (itt < ST_CMD_BASE || itt - ST_CMD_BASE >= st_nr_cmds)
			die_unexpected(c, "answers to our commands");
		if (st_cmds[itt - ST_CMD_BASE].dead)
			die_unexpected(c, "nothing for an aborted command");
		if (raw_opcode(h) == RAW_OP_DATA_IN) {
			struct st_cmd *k = &st_cmds[itt - ST_CMD_BASE];

			/* A read's Data-In in order, none missing, none
			 * larger than our MaxRecvDataSegmentLength (iscsi_raw
			 * checks), all of it before the status. */
			if (raw_get32(h + 36) != k->datasn ||
			    raw_get32(h + 40) != k->offset)
				die_unexpected(c, "Data-In in DataSN and "
						  "BufferOffset order");
			k->datasn++;
			k->offset += pdu->dlen;
			if ((h[1] & 0x01) && k->offset != ST_RLEN)
				die_unexpected(c, "all of a read's data "
						  "before its status");
		}
		if (raw_opcode(h) == RAW_OP_SCSI_RSP || (h[1] & 0x01))
			st_finish(c, itt - ST_CMD_BASE, h[3]);
		return;
	case RAW_OP_TMF_RSP: {
		struct st_tmf *m;

		if (itt < ST_TMF_BASE || itt - ST_TMF_BASE >= st_nr_tmfs)
			die_unexpected(c, "answers to our TMFs");
		m = &st_tmfs[itt - ST_TMF_BASE];
		if (m->answered)
			die_unexpected(c, "one response per TMF");
		m->answered = true;
		st_open_tmfs--;
		if (m->fn == F_ABORT_TASK) {
			if (h[2] == R_COMPLETE) {
				st_kill(m->cmd);
			} else if (h[2] == R_NO_TASK) {
				/* Only a command that already answered. */
				if (!st_cmds[m->cmd].finished)
					die_unexpected(c, "'task does not "
							  "exist' only for "
							  "a command that "
							  "answered before");
				st_no_task++;
			} else {
				die_unexpected(c, "response 0 or 1 to ABORT "
						  "TASK");
			}
		} else {
			if (h[2] != R_COMPLETE)
				die_unexpected(c, "response 0 to ABORT TASK "
						  "SET");
			for (uint32_t i = m->first; i < m->upto; i++)
				st_kill(i);
		}
		return;
	}
	default:
		die_unexpected(c, "SCSI Responses, Data-In and TMF responses");
	}
}

/* Reads what is there (waiting at most ms for the first PDU). */
static void st_poll(struct raw_conn *c, int ms)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};

	while (poll(&p, 1, ms) == 1) {
		/* A PDU has started: the rest follows promptly. */
		recv_or_die(c, "the rest of a PDU");
		st_pdu(c);
		ms = 0;
	}
}

static uint32_t st_pick_open(uint32_t from)
{
	for (uint32_t n = 0; n < 8; n++) {
		uint32_t i = from + (uint32_t)rand() % (st_nr_cmds - from);
		struct st_cmd *k = &st_cmds[i];

		if (!k->finished && !k->dead && !k->covered)
			return i;
	}
	return UINT32_MAX;
}

static void mode_storm(const char *portal, const char *target, int seconds)
{
	struct raw_conn c;
	uint8_t *wbuf = xmalloc(ST_WLEN), cdb[16];
	uint64_t end, t0;
	uint32_t oldest_open = 0, aborts = 0, sets = 0;

	st_cmds = calloc(ST_MAX_CMDS, sizeof(*st_cmds));
	st_tmfs = calloc(ST_MAX_TMFS, sizeof(*st_tmfs));
	if (!st_cmds || !st_tmfs)
		raw_die("out of memory");
	srand(7);
	login(&c, portal, target, "storm", INIT_A, 1, false);
	if (!c.immediate_data || c.initial_r2t || c.first_burst < ST_WLEN ||
	    c.tgt_mrdsl < ST_WLEN)
		raw_die("the target did not agree to immediate writes of "
			"%u bytes",
			ST_WLEN);
	clear_uas(&c, LUN_OK);
	fill(wbuf, ST_WLEN, 11);
	t0 = raw_now_ms();
	end = t0 + (uint64_t)seconds * 1000;
	while (raw_now_ms() < end) {
		while (st_open_cmds < ST_OUTSTANDING &&
		       st_open_tmfs < ST_TMFS && st_nr_cmds < ST_MAX_CMDS - 1 &&
		       st_nr_tmfs < ST_MAX_TMFS - 1 &&
		       st_nr_cmds < (raw_now_ms() - t0 + 1) * ST_RATE / 1000) {
			uint32_t i = st_nr_cmds++, victim;
			bool write = i % 2 == 0;
			uint64_t lba = (uint64_t)(rand() % 512) * 64;

			cdb_rw16(cdb, write, lba,
				 (write ? ST_WLEN : ST_RLEN) / BLOCK);
			st_cmds[i].cmdsn =
			    send_cmd(&c, LUN_OK, ST_CMD_BASE + i, cdb,
				     write ? ST_WLEN : ST_RLEN, !write, write,
				     write ? wbuf : NULL, write ? ST_WLEN : 0);
			st_open_cmds++;
			while (oldest_open < st_nr_cmds &&
			       (st_cmds[oldest_open].finished ||
				st_cmds[oldest_open].dead))
				oldest_open++;
			if (i % 61 == 60) {
				struct st_tmf *m = &st_tmfs[st_nr_tmfs];

				m->fn = F_ABORT_TASK_SET;
				m->first = oldest_open;
				m->upto = st_nr_cmds;
				for (uint32_t k = m->first; k < m->upto; k++)
					st_cmds[k].covered = true;
				send_tmf(&c, F_ABORT_TASK_SET, LUN_OK,
					 ST_TMF_BASE + st_nr_tmfs++,
					 RAW_RSVD_TAG, 0);
				st_open_tmfs++;
				sets++;
				continue;
			}
			if (i % 4 == 3)
				continue; /* left alone */
			victim = st_pick_open(oldest_open);
			if (victim == UINT32_MAX)
				continue;
			st_tmfs[st_nr_tmfs].fn = F_ABORT_TASK;
			st_tmfs[st_nr_tmfs].cmd = victim;
			st_cmds[victim].covered = true;
			send_tmf(&c, F_ABORT_TASK, LUN_OK,
				 ST_TMF_BASE + st_nr_tmfs++,
				 ST_CMD_BASE + victim, st_cmds[victim].cmdsn);
			st_open_tmfs++;
			aborts++;
		}
		st_poll(&c, 1);
	}
	/* Everything is answered or declared aborted, within bounds. */
	for (uint64_t until = raw_now_ms() + 15000;
	     (st_open_cmds || st_open_tmfs) && raw_now_ms() < until;)
		st_poll(&c, 100);
	if (st_open_cmds || st_open_tmfs)
		raw_die("storm: %u commands and %u TMFs never answered",
			st_open_cmds, st_open_tmfs);
	expect_quiet(&c, QUIET_MS, "nothing once everything is answered");
	{
		double secs = (double)(raw_now_ms() - t0) / 1000.0;

		raw_log("storm: %u commands (%u completed, %u aborted), %u "
			"ABORT TASK (%u 'task does not exist'), %u ABORT TASK "
			"SET in %.1f s: %.0f aborts/s",
			st_nr_cmds, st_completed, st_aborted, aborts,
			st_no_task, sets, secs, (aborts + sets) / secs);
		if ((aborts + sets) / secs < 200)
			raw_die("storm: fewer than 200 aborts per second");
	}
	round_trip(&c, LUN_OK, 4096, 1 << 20, 13);
	raw_log("storm: 1 MiB round trip after the storm: identical");
	raw_logout(&c);
	free(wbuf);
	free(st_cmds);
	free(st_tmfs);
	raw_log("ok");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	raw_prog = "tmf_raw";
	pdu = malloc(sizeof(*pdu));
	if (!pdu)
		raw_die("out of memory");
	if (argc == 4 && !strcmp(argv[1], "functions"))
		mode_functions(argv[2], argv[3]);
	else if (argc == 4 && !strcmp(argv[1], "tas"))
		mode_tas(argv[2], argv[3]);
	else if (argc == 5 && !strcmp(argv[1], "lureset"))
		mode_lureset(argv[2], argv[3], argv[4]);
	else if ((argc == 5 || argc == 6) && !strcmp(argv[1], "storm")) {
		if (argc == 6)
			snprintf(imm_mrdsl, sizeof(imm_mrdsl),
				 "MaxRecvDataSegmentLength=%s", argv[5]);
		mode_storm(argv[2], argv[3], atoi(argv[4]));
	} else {
		fprintf(stderr,
			"usage: tmf_raw functions|tas PORTAL TARGET\n"
			"       tmf_raw lureset PORTAL TARGET LUN2_URL\n"
			"       tmf_raw storm PORTAL TARGET SECONDS [MRDSL]\n");
		return 2;
	}
	free(pdu);
	return 0;
}
