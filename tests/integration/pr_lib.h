/*
 * pr_lib.h: what the reservation tests (pr_*.c) share. Each I_T nexus is a
 * libiscsi session with a chosen initiator name and ISID, logged in with
 * iscsi_connect_sync + iscsi_login_sync so that no TEST UNIT READY of
 * libiscsi's own eats a unit attention the test wants to see. Commands are
 * built here from SPC-5/SBC-4 (CDBs and parameter lists byte by byte) and
 * sent with iscsi_scsi_command_sync, so the tests depend on libiscsi only
 * for the transport.
 *
 * Every check prints one line: "ok   WHAT: GOT" or
 * "FAIL WHAT: expected X, got Y", statuses written as GOOD, RESERVATION
 * CONFLICT, TASK ABORTED or CHECK CONDITION KEY/ASC/ASCQ in hex. The
 * program exits 1 when a check failed (pr_exit), 2 when it could not run.
 *
 * The functions are static inline so that each program uses only what it
 * needs.
 */
#ifndef LUNAR_TEST_PR_LIB_H
#define LUNAR_TEST_PR_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "be.h"

#define PR_BLOCK      512 /* the .sh files create 512-byte LUNs */
#define PR_NAME(x)    "iqn.2026-11.org.lunar:pr-" x
#define PR_MAX_KEYS   32
#define PR_IN_ALLOC   4096
#define STATUS_NONE   (-1) /* no answer: transport error or timeout */
#define STATUS_GOOD   0x00
#define STATUS_CHECK  0x02
#define STATUS_RESV   0x18
#define STATUS_ABORTD 0x40

/* PERSISTENT RESERVE OUT service actions and types (SPC-5 6.17). */
enum {
	PRO_REGISTER = 0,
	PRO_RESERVE = 1,
	PRO_RELEASE = 2,
	PRO_CLEAR = 3,
	PRO_PREEMPT = 4,
	PRO_PREEMPT_ABORT = 5,
	PRO_REGISTER_IGNORE = 6,
};
enum {
	PR_WE = 1,
	PR_EA = 3,
	PR_WE_RO = 5,
	PR_EA_RO = 6,
	PR_WE_AR = 7,
	PR_EA_AR = 8,
};
enum {
	PRI_READ_KEYS = 0,
	PRI_READ_RESERVATION = 1,
	PRI_REPORT_CAPABILITIES = 2,
	PRI_READ_FULL_STATUS = 3,
};

/* What a command ended with. */
struct res {
	int status; /* SCSI status byte, or STATUS_NONE */
	int key, asc, ascq;
	char err[128]; /* libiscsi's error when status is STATUS_NONE */
};

#define GOOD	 ((struct res){.status = STATUS_GOOD})
#define CONFLICT ((struct res){.status = STATUS_RESV})
#define ABORTED	 ((struct res){.status = STATUS_ABORTD})

static inline struct res sense(int key, int asc, int ascq)
{
	struct res r = {
	    .status = STATUS_CHECK, .key = key, .asc = asc, .ascq = ascq};
	return r;
}

static int pr_checks, pr_failures;

static inline const char *type_name(int type)
{
	switch (type) {
	case PR_WE:
		return "WE";
	case PR_EA:
		return "EA";
	case PR_WE_RO:
		return "WE-RO";
	case PR_EA_RO:
		return "EA-RO";
	case PR_WE_AR:
		return "WE-AR";
	case PR_EA_AR:
		return "EA-AR";
	}
	return "?";
}

static inline const char *res_str(const struct res *r, char *buf, size_t len)
{
	switch (r->status) {
	case STATUS_GOOD:
		snprintf(buf, len, "GOOD");
		break;
	case STATUS_RESV:
		snprintf(buf, len, "RESERVATION CONFLICT");
		break;
	case STATUS_ABORTD:
		snprintf(buf, len, "TASK ABORTED");
		break;
	case STATUS_CHECK:
		snprintf(buf, len, "CHECK CONDITION %02x/%02x/%02x", r->key,
			 r->asc, r->ascq);
		break;
	case STATUS_NONE:
		snprintf(buf, len, "no answer (%s)", r->err);
		break;
	default:
		snprintf(buf, len, "status 0x%02x", r->status);
	}
	return buf;
}

static inline bool res_eq(const struct res *a, const struct res *b)
{
	if (a->status != b->status)
		return false;
	return a->status != STATUS_CHECK ||
	       (a->key == b->key && a->asc == b->asc && a->ascq == b->ascq);
}

static inline bool is_ua(const struct res *r)
{
	return r->status == STATUS_CHECK && r->key == SCSI_SENSE_UNIT_ATTENTION;
}

/* One check of a command's outcome. */
static inline bool check(const char *what, struct res want, struct res got)
{
	char w[160], g[160];

	pr_checks++;
	if (res_eq(&want, &got)) {
		printf("ok   %s: %s\n", what, res_str(&got, g, sizeof(g)));
		return true;
	}
	pr_failures++;
	printf("FAIL %s: expected %s, got %s\n", what,
	       res_str(&want, w, sizeof(w)), res_str(&got, g, sizeof(g)));
	return false;
}

/* One check of anything else; the message says what was seen. */
static inline bool __attribute__((format(printf, 2, 3)))
check_true(bool ok, const char *fmt, ...)
{
	va_list ap;

	pr_checks++;
	if (!ok)
		pr_failures++;
	printf("%s ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return ok;
}

static inline void __attribute__((format(printf, 1, 2)))
note(const char *fmt, ...)
{
	va_list ap;

	printf("     ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline int pr_exit(const char *prog)
{
	printf("%s: %d checks, %d failed\n", prog, pr_checks, pr_failures);
	return pr_failures ? 1 : 0;
}

static inline void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	printf("ERROR ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(2);
}

/* An I_T nexus: one session, initiator name + ISID. */
struct nexus {
	const char *label;
	const char *name;
	uint32_t isid_rnd; /* ISID: random type, 24 random bits ... */
	uint32_t isid_q;   /* ... and a 16-bit qualifier */
	struct iscsi_context *iscsi;
	int lun;
};

/* Login options for sessions that must not send data unasked. */
#define NX_SOLICITED_ONLY 1u

/* Logs nx in to url (iscsi://HOST:PORT/IQN/LUN); exits 2 on failure. */
static inline void nx_login_flags(struct nexus *nx, const char *url_s,
				  unsigned flags)
{
	struct iscsi_context *iscsi = iscsi_create_context(nx->name);
	struct iscsi_url *url;

	if (!iscsi)
		die("out of memory");
	url = iscsi_parse_full_url(iscsi, url_s);
	if (!url)
		die("bad URL %s: %s", url_s, iscsi_get_error(iscsi));
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_noautoreconnect(iscsi, 1);
	iscsi_set_timeout(iscsi, 20);
	if (flags & NX_SOLICITED_ONLY) {
		iscsi_set_immediate_data(iscsi, ISCSI_IMMEDIATE_DATA_NO);
		iscsi_set_initial_r2t(iscsi, ISCSI_INITIAL_R2T_YES);
	}
	if (iscsi_set_isid_random(iscsi, nx->isid_rnd, nx->isid_q) ||
	    iscsi_set_targetname(iscsi, url->target) ||
	    iscsi_connect_sync(iscsi, url->portal) || iscsi_login_sync(iscsi))
		die("login of %s (%s, ISID 0x80%06x%04x) to %s failed: %s",
		    nx->label, nx->name, nx->isid_rnd, nx->isid_q, url_s,
		    iscsi_get_error(iscsi));
	nx->iscsi = iscsi;
	nx->lun = url->lun;
	iscsi_destroy_url(url);
}

static inline void nx_login(struct nexus *nx, const char *url_s)
{
	nx_login_flags(nx, url_s, 0);
}

static inline void nx_logout(struct nexus *nx)
{
	if (iscsi_logout_sync(nx->iscsi))
		note("logout of %s failed: %s", nx->label,
		     iscsi_get_error(nx->iscsi));
	iscsi_disconnect(nx->iscsi);
	iscsi_destroy_context(nx->iscsi);
	nx->iscsi = NULL;
}

/* Closes the connection without a Logout (the session is lost). */
static inline void nx_drop(struct nexus *nx)
{
	iscsi_destroy_context(nx->iscsi);
	nx->iscsi = NULL;
}

static inline struct res task_res(struct nexus *nx, struct scsi_task *t)
{
	struct res r = {.status = STATUS_NONE};

	if (!t) {
		snprintf(r.err, sizeof(r.err), "%s",
			 iscsi_get_error(nx->iscsi));
		return r;
	}
	switch (t->status) {
	case SCSI_STATUS_GOOD:
	case SCSI_STATUS_CHECK_CONDITION:
	case SCSI_STATUS_RESERVATION_CONFLICT:
	case SCSI_STATUS_TASK_ABORTED:
	case SCSI_STATUS_BUSY:
	case SCSI_STATUS_TASK_SET_FULL:
		r.status = t->status;
		break;
	default:
		snprintf(r.err, sizeof(r.err), "libiscsi status 0x%x: %s",
			 t->status, iscsi_get_error(nx->iscsi));
		return r;
	}
	if (r.status == STATUS_CHECK) {
		r.key = t->sense.key;
		r.asc = t->sense.ascq >> 8;
		r.ascq = t->sense.ascq & 0xff;
	}
	return r;
}

/*
 * One command: CDB, optional data-out, data-in of up to in_len bytes
 * copied to in (*got_len set). Returns its outcome.
 */
static inline struct res nx_cmd(struct nexus *nx, const uint8_t *cdb,
				int cdb_len, const uint8_t *out, size_t out_len,
				uint8_t *in, size_t in_len, size_t *got_len)
{
	int dir = out_len ? SCSI_XFER_WRITE
			  : (in_len ? SCSI_XFER_READ : SCSI_XFER_NONE);
	struct scsi_task *t =
	    scsi_create_task(cdb_len, (unsigned char *)cdb, dir,
			     (int)(out_len ? out_len : in_len));
	struct iscsi_data d = {.size = out_len, .data = (unsigned char *)out};
	struct scsi_task *done;
	struct res r;

	if (got_len)
		*got_len = 0;
	if (!t)
		die("out of memory");
	done =
	    iscsi_scsi_command_sync(nx->iscsi, nx->lun, t, out_len ? &d : NULL);
	r = task_res(nx, done);
	if (done && r.status == STATUS_GOOD && in && got_len) {
		size_t n =
		    (size_t)(done->datain.size > 0 ? done->datain.size : 0);

		if (n > in_len)
			n = in_len;
		memcpy(in, done->datain.data, n);
		*got_len = n;
	}
	/* Without an answer libiscsi may still own t: leave it. */
	if (done)
		scsi_free_scsi_task(done);
	return r;
}

static inline struct res tur(struct nexus *nx)
{
	uint8_t cdb[6] = {0x00};

	return nx_cmd(nx, cdb, 6, NULL, 0, NULL, 0, NULL);
}

static inline struct res inquiry(struct nexus *nx)
{
	uint8_t cdb[6] = {0x12, 0, 0, 0, 96, 0}, buf[96];
	size_t n;

	return nx_cmd(nx, cdb, 6, NULL, 0, buf, sizeof(buf), &n);
}

static inline struct res read_capacity10(struct nexus *nx)
{
	uint8_t cdb[10] = {0x25}, buf[8];
	size_t n;

	return nx_cmd(nx, cdb, 10, NULL, 0, buf, sizeof(buf), &n);
}

/* READ (10) of n blocks at lba into buf (may be NULL). */
static inline struct res read10(struct nexus *nx, uint32_t lba, uint16_t n,
				uint8_t *buf)
{
	uint8_t cdb[10] = {0x28};
	uint8_t *tmp = buf ? buf : malloc((size_t)n * PR_BLOCK);
	size_t got;
	struct res r;

	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, n);
	r = nx_cmd(nx, cdb, 10, NULL, 0, tmp, (size_t)n * PR_BLOCK, &got);
	if (r.status == STATUS_GOOD && got != (size_t)n * PR_BLOCK) {
		r.status = STATUS_NONE;
		snprintf(r.err, sizeof(r.err), "READ (10) returned %zu bytes",
			 got);
	}
	if (!buf)
		free(tmp);
	return r;
}

/* WRITE (10) of n blocks at lba from buf (NULL: a fixed pattern). */
static inline struct res write10(struct nexus *nx, uint32_t lba, uint16_t n,
				 const uint8_t *buf)
{
	uint8_t cdb[10] = {0x2a};
	uint8_t *tmp = NULL;
	struct res r;

	if (!buf) {
		tmp = malloc((size_t)n * PR_BLOCK);
		if (!tmp)
			die("out of memory");
		memset(tmp, 0x5a, (size_t)n * PR_BLOCK);
	}
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, n);
	r = nx_cmd(nx, cdb, 10, buf ? buf : tmp, (size_t)n * PR_BLOCK, NULL, 0,
		   NULL);
	free(tmp);
	return r;
}

static inline struct res reserve6(struct nexus *nx)
{
	uint8_t cdb[6] = {0x16};

	return nx_cmd(nx, cdb, 6, NULL, 0, NULL, 0, NULL);
}

static inline struct res release6(struct nexus *nx)
{
	uint8_t cdb[6] = {0x17};

	return nx_cmd(nx, cdb, 6, NULL, 0, NULL, 0, NULL);
}

/* PERSISTENT RESERVE OUT with the basic 24-byte parameter list. */
static inline struct res pr_out(struct nexus *nx, int sa, int type,
				uint64_t key, uint64_t sa_key, bool aptpl)
{
	uint8_t cdb[10] = {0x5f}, par[24] = {0};

	cdb[1] = (uint8_t)sa;
	cdb[2] = (uint8_t)type; /* scope LU_SCOPE (0) in bits 7:4 */
	put_be32(cdb + 5, sizeof(par));
	put_be64(par, key);
	put_be64(par + 8, sa_key);
	par[20] = aptpl ? 1 : 0;
	return nx_cmd(nx, cdb, 10, par, sizeof(par), NULL, 0, NULL);
}

static inline struct res pr_in(struct nexus *nx, int sa, uint8_t *buf,
			       size_t len, size_t *got)
{
	uint8_t cdb[10] = {0x5e};

	cdb[1] = (uint8_t)sa;
	put_be16(cdb + 7, (uint16_t)len);
	return nx_cmd(nx, cdb, 10, NULL, 0, buf, len, got);
}

struct keys {
	uint32_t gen;
	int n;
	uint64_t key[PR_MAX_KEYS];
};

/* READ KEYS; the result is STATUS_NONE when the data is malformed. */
static inline struct res read_keys(struct nexus *nx, struct keys *k)
{
	uint8_t buf[PR_IN_ALLOC];
	size_t got;
	struct res r = pr_in(nx, PRI_READ_KEYS, buf, sizeof(buf), &got);
	uint32_t add;

	memset(k, 0, sizeof(*k));
	if (r.status != STATUS_GOOD)
		return r;
	if (got < 8) {
		r.status = STATUS_NONE;
		snprintf(r.err, sizeof(r.err), "READ KEYS: %zu bytes", got);
		return r;
	}
	k->gen = get_be32(buf);
	add = get_be32(buf + 4);
	if (add % 8 || add / 8 > PR_MAX_KEYS || 8 + add > got) {
		r.status = STATUS_NONE;
		snprintf(r.err, sizeof(r.err),
			 "READ KEYS: ADDITIONAL LENGTH %u with %zu bytes", add,
			 got);
		return r;
	}
	k->n = (int)(add / 8);
	for (int i = 0; i < k->n; i++)
		k->key[i] = get_be64(buf + 8 + 8 * i);
	return r;
}

static inline bool keys_have(const struct keys *k, uint64_t key)
{
	for (int i = 0; i < k->n; i++)
		if (k->key[i] == key)
			return true;
	return false;
}

static inline const char *keys_str(const struct keys *k, char *buf, size_t len)
{
	size_t o = 0;

	o += (size_t)snprintf(buf + o, len - o, "{");
	for (int i = 0; i < k->n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s0x%llx",
				      i ? ", " : "",
				      (unsigned long long)k->key[i]);
	if (o < len)
		snprintf(buf + o, len - o, "} PRgeneration %u", k->gen);
	return buf;
}

/*
 * Checks that READ KEYS lists exactly the n keys given (in any order);
 * returns the PRgeneration seen (0 when READ KEYS failed).
 */
static inline uint32_t check_keys(struct nexus *nx, const char *what, int n,
				  const uint64_t *want)
{
	struct keys k;
	struct res r = read_keys(nx, &k);
	char buf[512], w[256];
	size_t o = 0;
	bool ok = r.status == STATUS_GOOD && k.n == n;

	for (int i = 0; ok && i < n; i++)
		ok = keys_have(&k, want[i]);
	o += (size_t)snprintf(w + o, sizeof(w) - o, "{");
	for (int i = 0; i < n && o < sizeof(w); i++)
		o += (size_t)snprintf(w + o, sizeof(w) - o, "%s0x%llx",
				      i ? ", " : "",
				      (unsigned long long)want[i]);
	if (o < sizeof(w))
		snprintf(w + o, sizeof(w) - o, "}");
	if (r.status != STATUS_GOOD) {
		check(what, GOOD, r);
		return 0;
	}
	check_true(ok, "%s: READ KEYS expected %s, got %s", what, w,
		   keys_str(&k, buf, sizeof(buf)));
	return k.gen;
}

struct resv {
	uint32_t gen;
	bool held;
	uint64_t key;
	int scope, type;
};

static inline struct res read_resv(struct nexus *nx, struct resv *v)
{
	uint8_t buf[64];
	size_t got;
	struct res r = pr_in(nx, PRI_READ_RESERVATION, buf, sizeof(buf), &got);
	uint32_t add;

	memset(v, 0, sizeof(*v));
	if (r.status != STATUS_GOOD)
		return r;
	add = got >= 8 ? get_be32(buf + 4) : 0;
	if (got < 8 || (add != 0 && add != 16) || 8 + add > got) {
		r.status = STATUS_NONE;
		snprintf(r.err, sizeof(r.err),
			 "READ RESERVATION: %zu bytes, ADDITIONAL LENGTH %u",
			 got, add);
		return r;
	}
	v->gen = get_be32(buf);
	v->held = add == 16;
	if (v->held) {
		v->key = get_be64(buf + 8);
		v->scope = buf[21] >> 4;
		v->type = buf[21] & 0x0f;
	}
	return r;
}

/*
 * Checks READ RESERVATION: none (type 0) or held with key and type (LU
 * scope).
 */
static inline void check_resv(struct nexus *nx, const char *what, int type,
			      uint64_t key)
{
	struct resv v;
	struct res r = read_resv(nx, &v);

	if (r.status != STATUS_GOOD) {
		check(what, GOOD, r);
		return;
	}
	if (!type)
		check_true(!v.held,
			   "%s: READ RESERVATION expected no reservation, got "
			   "%s",
			   what, v.held ? "one" : "none");
	else
		check_true(v.held && v.type == type && v.key == key &&
			       v.scope == 0,
			   "%s: READ RESERVATION expected type %d (%s) key "
			   "0x%llx scope 0, got %s type %d key 0x%llx scope %d",
			   what, type, type_name(type), (unsigned long long)key,
			   v.held ? "held" : "none", v.type,
			   (unsigned long long)v.key, v.scope);
}

/*
 * Consumes pending unit attentions (TEST UNIT READY until it is no
 * longer one, at most 8), printing each; returns the last outcome.
 */
static inline struct res drain_ua(struct nexus *nx)
{
	struct res r;
	char b[160];

	for (int i = 0; i < 8; i++) {
		r = tur(nx);
		if (!is_ua(&r))
			return r;
		note("%s: unit attention %s consumed", nx->label,
		     res_str(&r, b, sizeof(b)));
	}
	return r;
}

/* The next command of nx must report exactly this unit attention. */
static inline void check_ua(struct nexus *nx, const char *what, int asc,
			    int ascq)
{
	check(what, sense(SCSI_SENSE_UNIT_ATTENTION, asc, ascq), tur(nx));
}

#endif
