/*
 * sessions: a load tool for the "lean sessions, fast logins" rows of
 * make bench. It logs in N iSCSI sessions at once to one target over raw
 * TCP, holds them, sends one READ(10) of one 512-byte block on LUN 1
 * through every session and checks that each gets GOOD with 512 bytes of
 * data, then logs them all out.
 *
 * Why: issue 13 asks that lunard's memory per idle session be at most
 * tgt's at 1,000 sessions, that 4,000 logins take at most half of tgt's
 * time, and that 10,000 sessions be held with each answering a READ. An
 * initiator built on libiscsi's synchronous API is too slow for thousands
 * of sessions (it would measure itself, not the target), so this one is a
 * single thread on epoll that speaks just enough iSCSI (RFC 7143): a
 * one-round login straight into the operational stage, READ(10), NOP-Out
 * answers to the target's pings and Logout. It works against lunard and
 * tgt's tgtd alike. Both report a UNIT ATTENTION (power on/reset) on the
 * first command of a new I_T nexus, as SAM requires: like any initiator,
 * the tool sends that READ again (at most 3 times) and says how many.
 *
 * Usage: sessions ADDR:PORT TARGET_IQN N [--hold SECONDS]
 *        [--initiator-prefix P] [--inflight K] [--timeout SECONDS]
 *        [--no-logout] [--no-read] (--no-read: logins only, to tell
 *        the memory of an idle session from that of its first I/O)
 *
 * Prints "logins: N in X.XXX s, R per second" (first connect to the last
 * session in full feature phase), the failures by cause, "reads: N GOOD,
 * F failed", and with --hold "holding" (flushed) when the hold starts, so
 * that the caller can read the target's RSS. Exit status 0 only when all
 * N sessions logged in and all N reads were GOOD.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BHS_LEN	       48
#define RSVD_TAG       0xffffffffu
#define READ_LEN       512
#define MAX_ROUNDS     8
#define MAX_LOGIN_DATA 65536
#define MAX_CAUSES     64
#define RX_CHUNK       65536

/* opcodes (RFC 7143 §11) */
#define OP_NOP_OUT    0x00
#define OP_SCSI_CMD   0x01
#define OP_LOGIN_REQ  0x03
#define OP_LOGOUT_REQ 0x06
#define OP_NOP_IN     0x20
#define OP_SCSI_RSP   0x21
#define OP_LOGIN_RSP  0x23
#define OP_DATA_IN    0x25
#define OP_LOGOUT_RSP 0x26
#define OP_R2T	      0x31
#define OP_ASYNC      0x32
#define OP_REJECT     0x3f
#define OP_IMMEDIATE  0x40

enum state {
	ST_NEW,	       /* not started */
	ST_CONNECTING, /* non-blocking connect in progress */
	ST_LOGIN,      /* login request(s) sent */
	ST_FFP,	       /* full feature phase, nothing outstanding */
	ST_READ,       /* READ(10) outstanding */
	ST_LOGOUT,     /* logout request sent */
	ST_CLOSED,     /* done (logged out or closed) */
	ST_FAILED,
};

enum phase { PH_LOGIN, PH_READ, PH_HOLD, PH_LOGOUT };

struct sess {
	int fd;
	uint32_t idx;
	uint8_t state;
	uint8_t rounds;	   /* login requests sent */
	uint8_t want_out;  /* EPOLLOUT registered */
	uint8_t read_done; /* READ answered (GOOD or not) */
	uint16_t tsih;
	uint16_t retries; /* connect retries (EADDRNOTAVAIL/EAGAIN) */
	uint32_t cmdsn, expstatsn, maxcmdsn;
	uint32_t itt, cur_itt;
	uint32_t read_bytes;
	/* receive side: one PDU at a time */
	uint8_t bhs[BHS_LEN];
	uint32_t pos;	  /* bytes of the current PDU received */
	uint32_t total;	  /* its full length, known once the BHS is in */
	uint8_t head[16]; /* the start of any other data segment (sense) */
	uint8_t head_len;
	uint8_t ua_retries; /* READs resent after a unit attention */
	uint8_t *ldata;	    /* login response text (kept across C-bit PDUs) */
	uint32_t ldata_len, ldata_cap;
	/* send side: what a short write left over */
	uint8_t *out;
	uint32_t out_len, out_off;
};

struct cause {
	char text[120];
	unsigned count;
};

struct tally {
	struct cause c[MAX_CAUSES];
	unsigned n;
	unsigned total;
};

static struct sess *sess;
static unsigned nsess;
static int epfd;
static enum phase phase = PH_LOGIN;
static const char *target_iqn;
static const char *prefix = "iqn.2026-11.org.lunar:sess";
static struct sockaddr_in dst;
static uint32_t isid_salt;

static unsigned inflight;   /* ST_CONNECTING + ST_LOGIN */
static unsigned logged_in;  /* reached full feature phase */
static unsigned reads_pend; /* READs outstanding */
static unsigned reads_good;
static unsigned logouts_pend;
static unsigned nops_answered;
static unsigned ua_retried;
static unsigned async_events;
static struct tally login_fail, read_fail, drop_fail;
static double t_last_ffp;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void tally_add(struct tally *t, const char *text)
{
	t->total++;
	for (unsigned i = 0; i < t->n; i++) {
		if (!strcmp(t->c[i].text, text)) {
			t->c[i].count++;
			return;
		}
	}
	if (t->n == MAX_CAUSES) {
		t->c[t->n - 1].count++; /* the last slot takes the overflow */
		return;
	}
	snprintf(t->c[t->n].text, sizeof(t->c[t->n].text), "%s", text);
	t->c[t->n++].count = 1;
}

static void tally_print(const struct tally *t, const char *what)
{
	for (unsigned i = 0; i < t->n; i++)
		printf("  %s: %u x %s\n", what, t->c[i].count, t->c[i].text);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* serial number arithmetic, RFC 1982 for 32 bits */
static bool sn_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static void set_events(struct sess *s, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
				 .data.ptr = s};

	if (s->want_out == out)
		return;
	s->want_out = out;
	epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
}

static void sess_close(struct sess *s, enum state st)
{
	if (s->fd >= 0) {
		close(s->fd); /* also leaves the epoll set */
		s->fd = -1;
	}
	free(s->ldata);
	s->ldata = NULL;
	s->ldata_len = s->ldata_cap = 0;
	free(s->out);
	s->out = NULL;
	s->out_len = s->out_off = 0;
	s->state = st;
}

/* The session is lost: count it against the phase it was in. */
static void fail(struct sess *s, const char *fmt, ...)
{
	char text[120];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	switch (s->state) {
	case ST_NEW:
		tally_add(&login_fail, text);
		break;
	case ST_CONNECTING:
	case ST_LOGIN:
		inflight--;
		tally_add(&login_fail, text);
		break;
	case ST_READ:
		reads_pend--;
		s->read_done = 1;
		tally_add(&read_fail, text);
		break;
	case ST_FFP:
		if (phase == PH_READ && !s->read_done) {
			/* READ not sent yet (window closed) */
			reads_pend--;
			s->read_done = 1;
			tally_add(&read_fail, text);
		} else {
			tally_add(&drop_fail, text);
		}
		break;
	case ST_LOGOUT:
		logouts_pend--;
		tally_add(&drop_fail, text);
		break;
	default:
		return;
	}
	sess_close(s, ST_FAILED);
}

static void send_pdu(struct sess *s, const uint8_t *buf, size_t len)
{
	ssize_t n = 0;

	if (s->out_len == s->out_off) {
		n = send(s->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				fail(s, "send: %s", strerror(errno));
				return;
			}
			n = 0;
		}
		if ((size_t)n == len)
			return;
		s->out_len = s->out_off = 0;
	}
	size_t rest = len - n;
	uint8_t *p = realloc(s->out, s->out_len + rest);

	if (!p) {
		fail(s, "out of memory");
		return;
	}
	memcpy(p + s->out_len, buf + n, rest);
	s->out = p;
	s->out_len += rest;
	set_events(s, true);
}

static void flush_out(struct sess *s)
{
	while (s->out_off < s->out_len) {
		ssize_t n = send(s->fd, s->out + s->out_off,
				 s->out_len - s->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			fail(s, "send: %s", strerror(errno));
			return;
		}
		s->out_off += n;
	}
	free(s->out);
	s->out = NULL;
	s->out_len = s->out_off = 0;
	set_events(s, false);
}

static size_t kv(uint8_t *buf, size_t off, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= cap)
		return off;
	va_start(ap, fmt);
	n = vsnprintf((char *)buf + off, cap - off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 1 > cap - off)
		return cap;
	return off + n + 1; /* keep the NUL */
}

/*
 * A Login Request in the operational stage asking for full feature phase
 * (CSG=1, NSG=3); transit false only to fetch the rest of a response the
 * target continued (C bit).
 */
static void send_login(struct sess *s, const uint8_t *data, size_t dlen,
		       bool transit)
{
	uint8_t pdu[BHS_LEN + MAX_LOGIN_DATA + 4];
	size_t padded = (dlen + 3) & ~(size_t)3;

	if (s->rounds++ >= MAX_ROUNDS) {
		fail(s, "login: no full feature phase after %d rounds",
		     MAX_ROUNDS);
		return;
	}
	memset(pdu, 0, BHS_LEN);
	pdu[0] = OP_LOGIN_REQ | OP_IMMEDIATE;
	pdu[1] = (transit ? 0x80 : 0) | 1 << 2 | 3; /* T, CSG=1, NSG=3 */
	pdu[2] = 0;				    /* version-max */
	pdu[3] = 0;				    /* version-min */
	put32(pdu + 4, dlen);			    /* AHS length 0 */
	/* ISID: random format (T=10b), distinct per session */
	pdu[8] = 0x80;
	pdu[9] = isid_salt >> 8;
	pdu[10] = isid_salt;
	pdu[11] = s->idx >> 16;
	pdu[12] = s->idx >> 8;
	pdu[13] = s->idx;
	pdu[14] = s->tsih >> 8;
	pdu[15] = s->tsih;
	s->cur_itt = s->itt++;
	put32(pdu + 16, s->cur_itt);
	/* CID 0 at 20..21 */
	put32(pdu + 24, s->cmdsn);
	put32(pdu + 28, s->expstatsn);
	memcpy(pdu + BHS_LEN, data, dlen);
	memset(pdu + BHS_LEN + dlen, 0, padded - dlen);
	send_pdu(s, pdu, BHS_LEN + padded);
}

static void send_first_login(struct sess *s)
{
	uint8_t d[2048];
	size_t o = 0, c = sizeof(d);

	o = kv(d, o, c, "InitiatorName=%s:%u", prefix, s->idx);
	o = kv(d, o, c, "TargetName=%s", target_iqn);
	o = kv(d, o, c, "SessionType=Normal");
	o = kv(d, o, c, "HeaderDigest=None");
	o = kv(d, o, c, "DataDigest=None");
	o = kv(d, o, c, "MaxRecvDataSegmentLength=262144");
	o = kv(d, o, c, "InitialR2T=Yes");
	o = kv(d, o, c, "ImmediateData=Yes");
	o = kv(d, o, c, "MaxBurstLength=262144");
	o = kv(d, o, c, "FirstBurstLength=65536");
	o = kv(d, o, c, "MaxConnections=1");
	o = kv(d, o, c, "ErrorRecoveryLevel=0");
	o = kv(d, o, c, "DefaultTime2Wait=2");
	o = kv(d, o, c, "DefaultTime2Retain=0");
	o = kv(d, o, c, "MaxOutstandingR2T=1");
	o = kv(d, o, c, "DataPDUInOrder=Yes");
	o = kv(d, o, c, "DataSequenceInOrder=Yes");
	o = kv(d, o, c, "IFMarker=No");
	o = kv(d, o, c, "OFMarker=No");
	s->state = ST_LOGIN;
	send_login(s, d, o, true);
}

static bool we_offered(const char *key, size_t klen)
{
	static const char *const keys[] = {
	    "InitiatorName",
	    "TargetName",
	    "SessionType",
	    "HeaderDigest",
	    "DataDigest",
	    "MaxRecvDataSegmentLength",
	    "InitialR2T",
	    "ImmediateData",
	    "MaxBurstLength",
	    "FirstBurstLength",
	    "MaxConnections",
	    "ErrorRecoveryLevel",
	    "DefaultTime2Wait",
	    "DefaultTime2Retain",
	    "MaxOutstandingR2T",
	    "DataPDUInOrder",
	    "DataSequenceInOrder",
	    "IFMarker",
	    "OFMarker",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i]) == klen && !memcmp(keys[i], key, klen))
			return true;
	return false;
}

/* Keys the target states for information only; no answer is due. */
static bool declarative(const char *key, size_t klen)
{
	static const char *const keys[] = {
	    "TargetAlias", "TargetAddress", "TargetPortalGroupTag",
	    "MaxRecvDataSegmentLength", /* declarative either way */
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i]) == klen && !memcmp(keys[i], key, klen))
			return true;
	return false;
}

/*
 * The target wants another round (T=0, no C): answer the keys it offered
 * on its own (the ones we offered are settled by its answer), accepting
 * its value, or the first of a list; then ask again to go to full feature
 * phase.
 */
static void continue_login(struct sess *s)
{
	uint8_t d[MAX_LOGIN_DATA];
	size_t o = 0;
	const char *p = (const char *)s->ldata;
	const char *end = p + s->ldata_len;

	while (p < end) {
		size_t len = strnlen(p, end - p);
		const char *eq = memchr(p, '=', len);

		if (eq) {
			size_t klen = eq - p;
			const char *v = eq + 1;
			size_t vlen = len - klen - 1;
			const char *comma = memchr(v, ',', vlen);

			if (comma)
				vlen = comma - v;
			if (!we_offered(p, klen) && !declarative(p, klen) &&
			    strncmp(v, "NotUnderstood", vlen) &&
			    strncmp(v, "Irrelevant", vlen) &&
			    strncmp(v, "Reject", vlen))
				o = kv(d, o, sizeof(d), "%.*s=%.*s", (int)klen,
				       p, (int)vlen, v);
		}
		p += len + 1;
	}
	s->ldata_len = 0;
	send_login(s, d, o, true);
}

static void update_window(struct sess *s, const uint8_t *bhs)
{
	uint32_t exp = get32(bhs + 28), max = get32(bhs + 32);

	/* MaxCmdSN < ExpCmdSN - 1 means "ignore these" (RFC 7143 §4.2.2.1) */
	if (!sn_lt(max, exp - 1) && sn_lt(s->maxcmdsn, max))
		s->maxcmdsn = max;
}

static bool window_open(const struct sess *s)
{
	return !sn_lt(s->maxcmdsn, s->cmdsn);
}

static void send_read(struct sess *s)
{
	uint8_t pdu[BHS_LEN];

	memset(pdu, 0, sizeof(pdu));
	pdu[0] = OP_SCSI_CMD;
	pdu[1] = 0x80 | 0x40 | 1; /* F, R, ATTR simple */
	pdu[9] = 1;		  /* LUN 1, peripheral addressing */
	s->cur_itt = s->itt++;
	put32(pdu + 16, s->cur_itt);
	put32(pdu + 20, READ_LEN); /* expected data transfer length */
	put32(pdu + 24, s->cmdsn++);
	put32(pdu + 28, s->expstatsn);
	pdu[32] = 0x28; /* READ(10), LBA 0 */
	pdu[39] = 0;
	pdu[40] = 1; /* one block */
	s->read_bytes = 0;
	s->state = ST_READ;
	send_pdu(s, pdu, sizeof(pdu));
}

static void send_logout(struct sess *s)
{
	uint8_t pdu[BHS_LEN];

	memset(pdu, 0, sizeof(pdu));
	pdu[0] = OP_LOGOUT_REQ | OP_IMMEDIATE;
	pdu[1] = 0x80; /* reason 0: close the session */
	s->cur_itt = s->itt++;
	put32(pdu + 16, s->cur_itt);
	put32(pdu + 24, s->cmdsn);
	put32(pdu + 28, s->expstatsn);
	s->state = ST_LOGOUT;
	logouts_pend++;
	send_pdu(s, pdu, sizeof(pdu));
}

static void answer_nop(struct sess *s, const uint8_t *bhs)
{
	uint8_t pdu[BHS_LEN];

	memset(pdu, 0, sizeof(pdu));
	pdu[0] = OP_NOP_OUT | OP_IMMEDIATE;
	pdu[1] = 0x80;
	memcpy(pdu + 8, bhs + 8, 8); /* LUN */
	put32(pdu + 16, RSVD_TAG);
	memcpy(pdu + 20, bhs + 20, 4); /* TTT */
	put32(pdu + 24, s->cmdsn);
	put32(pdu + 28, s->expstatsn);
	nops_answered++;
	send_pdu(s, pdu, sizeof(pdu));
}

/* The sense key of a SCSI Response's sense data, -1 if none */
static int sense_key(const struct sess *s)
{
	const uint8_t *d = s->head + 2; /* after SenseLength */
	unsigned len = s->head_len < 2 ? 0 : s->head_len - 2;

	if (len < 3)
		return -1;
	if ((d[0] & 0x7f) == 0x70 || (d[0] & 0x7f) == 0x71)
		return d[2] & 0x0f;
	if ((d[0] & 0x7f) == 0x72 || (d[0] & 0x7f) == 0x73)
		return d[1] & 0x0f;
	return -1;
}

/* ASC and ASCQ as ASC<<8|ASCQ, -1 if the sense data has none */
static int sense_asc(const struct sess *s)
{
	const uint8_t *d = s->head + 2;
	unsigned len = s->head_len < 2 ? 0 : s->head_len - 2;

	if ((d[0] & 0x7f) == 0x72 || (d[0] & 0x7f) == 0x73)
		return len >= 4 ? d[2] << 8 | d[3] : -1;
	return len >= 14 ? d[12] << 8 | d[13] : -1;
}

static void read_finished(struct sess *s, uint8_t status, uint8_t flags)
{
	char text[80];

	reads_pend--;
	s->read_done = 1;
	s->state = ST_FFP;
	if (status == 2) {
		int asc = sense_asc(s);

		snprintf(text, sizeof(text),
			 "CHECK CONDITION, sense key 0x%x, ASC/ASCQ %02x/%02x",
			 sense_key(s), asc < 0 ? 0 : asc >> 8,
			 asc < 0 ? 0 : asc & 0xff);
		tally_add(&read_fail, text);
	} else if (status != 0) {
		snprintf(text, sizeof(text), "status 0x%02x%s", status,
			 status == 8	  ? " (BUSY)"
			 : status == 0x28 ? " (TASK SET FULL)"
					  : "");
		tally_add(&read_fail, text);
	} else if (flags & 0x06) {
		tally_add(&read_fail, "residual (under/overflow)");
	} else if (s->read_bytes != READ_LEN) {
		tally_add(&read_fail, "GOOD but not 512 bytes of data");
	} else {
		reads_good++;
	}
}

static void login_response(struct sess *s)
{
	const uint8_t *b = s->bhs;
	uint8_t flags = b[1];
	uint8_t cls = b[36], det = b[37];

	if (get32(b + 16) != s->cur_itt) {
		fail(s, "login: response with a foreign ITT");
		return;
	}
	if (cls != 0) {
		fail(s, "login: status class 0x%02x detail 0x%02x", cls, det);
		return;
	}
	s->tsih = (uint16_t)(b[14] << 8 | b[15]);
	s->expstatsn = get32(b + 24) + 1;
	update_window(s, b);
	if (flags & 0x40) { /* C: more text follows */
		send_login(s, NULL, 0, false);
		return;
	}
	if (flags & 0x80) { /* T */
		if ((flags & 3) != 3) {
			fail(s, "login: target moved to stage %d", flags & 3);
			return;
		}
		s->maxcmdsn = get32(b + 32);
		free(s->ldata);
		s->ldata = NULL;
		s->ldata_len = s->ldata_cap = 0;
		s->state = ST_FFP;
		inflight--;
		logged_in++;
		t_last_ffp = now();
		return;
	}
	continue_login(s);
}

static void handle_pdu(struct sess *s)
{
	const uint8_t *b = s->bhs;
	uint8_t op = b[0] & 0x3f;
	uint32_t dlen = get24(b + 5);

	switch (op) {
	case OP_LOGIN_RSP:
		if (s->state != ST_LOGIN) {
			fail(s, "login response outside login");
			return;
		}
		login_response(s);
		return;
	case OP_NOP_IN:
		update_window(s, b);
		if (get32(b + 20) != RSVD_TAG)
			answer_nop(s, b);
		break;
	case OP_DATA_IN:
		update_window(s, b);
		if (s->state != ST_READ || get32(b + 16) != s->cur_itt) {
			fail(s, "Data-In for no outstanding READ");
			return;
		}
		if (get32(b + 40) + dlen > READ_LEN) {
			fail(s, "Data-In beyond 512 bytes");
			return;
		}
		s->read_bytes += dlen;
		if (b[1] & 0x01) { /* S: status with the data */
			s->expstatsn = get32(b + 24) + 1;
			read_finished(s, b[3], b[1]);
		}
		break;
	case OP_SCSI_RSP:
		update_window(s, b);
		s->expstatsn = get32(b + 24) + 1;
		if (s->state != ST_READ || get32(b + 16) != s->cur_itt) {
			fail(s, "SCSI Response for no outstanding READ");
			return;
		}
		if (b[2] != 0) {
			reads_pend--;
			s->read_done = 1;
			s->state = ST_FFP;
			tally_add(&read_fail, "response: target failure");
			break;
		}
		if (b[3] == 2 && sense_key(s) == 6 && s->ua_retries < 3) {
			/* UNIT ATTENTION (a new I_T nexus): ask again */
			s->ua_retries++;
			ua_retried++;
			s->state = ST_FFP;
			break; /* resent below */
		}
		read_finished(s, b[3], b[1]);
		break;
	case OP_LOGOUT_RSP:
		if (s->state != ST_LOGOUT) {
			fail(s, "unexpected Logout Response");
			return;
		}
		logouts_pend--;
		sess_close(s, ST_CLOSED);
		return;
	case OP_ASYNC:
		update_window(s, b);
		s->expstatsn = get32(b + 24) + 1;
		async_events++;
		break;
	case OP_REJECT:
		update_window(s, b);
		s->expstatsn = get32(b + 24) + 1;
		fail(s, "Reject, reason 0x%02x", b[2]);
		return;
	case OP_R2T:
		fail(s, "R2T for a READ");
		return;
	default:
		fail(s, "unexpected opcode 0x%02x", op);
		return;
	}
	/* a READ whose window was closed goes as soon as it opens */
	if (phase == PH_READ && s->state == ST_FFP && !s->read_done &&
	    window_open(s))
		send_read(s);
}

/* Feed received bytes into the PDU parser; PDUs may split anywhere. */
static void rx_bytes(struct sess *s, const uint8_t *p, size_t n)
{
	while (n > 0 && s->fd >= 0) {
		if (s->pos < BHS_LEN) {
			size_t take = BHS_LEN - s->pos;

			if (take > n)
				take = n;
			memcpy(s->bhs + s->pos, p, take);
			s->pos += take;
			p += take;
			n -= take;
			if (s->pos < BHS_LEN)
				return;
			uint32_t dlen = get24(s->bhs + 5);

			s->total = BHS_LEN + s->bhs[4] * 4 + ((dlen + 3) & ~3u);
			s->head_len = 0;
			if ((s->bhs[0] & 0x3f) == OP_LOGIN_RSP) {
				if (s->ldata_len + dlen > MAX_LOGIN_DATA) {
					fail(s,
					     "login: response text too long");
					return;
				}
				if (s->ldata_len + dlen > s->ldata_cap) {
					uint8_t *q = realloc(
					    s->ldata, s->ldata_len + dlen);

					if (!q) {
						fail(s, "out of memory");
						return;
					}
					s->ldata = q;
					s->ldata_cap = s->ldata_len + dlen;
				}
			}
		}
		if (s->pos < s->total) {
			size_t take = s->total - s->pos;

			if (take > n)
				take = n;
			/*
			 * Keep the data segment of a Login Response, the
			 * start of any other; skip AHS and padding.
			 */
			bool login = (s->bhs[0] & 0x3f) == OP_LOGIN_RSP;
			uint32_t ds = BHS_LEN + s->bhs[4] * 4;
			uint32_t de = ds + get24(s->bhs + 5);
			uint32_t a = s->pos, z = s->pos + take;

			if (a < ds)
				a = ds;
			if (!login && de > ds + sizeof(s->head))
				de = ds + sizeof(s->head);
			if (z > de)
				z = de;
			if (a < z && login) {
				memcpy(s->ldata + s->ldata_len,
				       p + (a - s->pos), z - a);
				s->ldata_len += z - a;
			} else if (a < z) {
				memcpy(s->head + (a - ds), p + (a - s->pos),
				       z - a);
				s->head_len = z - ds;
			}
			s->pos += take;
			p += take;
			n -= take;
		}
		if (s->pos == s->total) {
			s->pos = 0;
			handle_pdu(s);
		}
	}
}

static void on_event(struct sess *s, uint32_t ev)
{
	static uint8_t buf[RX_CHUNK];

	if (s->state == ST_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			fail(s, "connect: %s", strerror(err));
			return;
		}
		set_events(s, false);
		send_first_login(s);
		return;
	}
	if (ev & EPOLLOUT) {
		flush_out(s);
		if (s->fd < 0)
			return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), 0);

		if (n == 0) {
			if (s->state == ST_LOGOUT) {
				/* closed right after the logout: fine */
				logouts_pend--;
				sess_close(s, ST_CLOSED);
			} else {
				fail(s, "connection closed by the target");
			}
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				fail(s, "recv: %s", strerror(errno));
			return;
		}
		rx_bytes(s, buf, n);
	}
}

/* 0 started, 1 retry later (local resources), -1 failed for good */
static int start_connect(struct sess *s)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0) {
		fail(s, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		if ((e == EAGAIN || e == EADDRNOTAVAIL) && s->retries < 500) {
			s->retries++;
			return 1;
		}
		fail(s, "connect: %s", strerror(e));
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = s};

	s->fd = fd;
	s->want_out = 1;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		fail(s, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	s->state = ST_CONNECTING;
	inflight++;
	return 0;
}

static void poll_once(int timeout_ms)
{
	struct epoll_event evs[1024];
	int n = epoll_wait(epfd, evs, 1024, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct sess *s = evs[i].data.ptr;

		if (s->fd >= 0)
			on_event(s, evs[i].events);
	}
}

static void raise_nofile(unsigned n)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		struct rlimit up = {want, want};

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		fprintf(stderr,
			"sessions: RLIMIT_NOFILE is %llu (hard %llu): %u "
			"sessions cannot all be opened (need about %llu); "
			"raise it with ulimit -Hn as root\n",
			(unsigned long long)rl.rlim_cur,
			(unsigned long long)rl.rlim_max, n,
			(unsigned long long)want);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sessions ADDR:PORT TARGET_IQN N [--hold SECONDS] "
		"[--initiator-prefix P]\n"
		"       [--inflight K] [--timeout SECONDS] [--no-logout]\n"
		"       [--no-read]\n");
	exit(2);
}

static double parse_num(const char *s, double min)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < min)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	const char *pos[3];
	int npos = 0;
	double hold = -1, timeout = 300;
	unsigned max_inflight = 1000;
	bool logout = true, do_read = true;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--hold") && i + 1 < argc)
			hold = parse_num(argv[++i], 0);
		else if (!strcmp(a, "--initiator-prefix") && i + 1 < argc)
			prefix = argv[++i];
		else if (!strcmp(a, "--inflight") && i + 1 < argc)
			max_inflight = parse_num(argv[++i], 1);
		else if (!strcmp(a, "--timeout") && i + 1 < argc)
			timeout = parse_num(argv[++i], 1);
		else if (!strcmp(a, "--no-logout"))
			logout = false;
		else if (!strcmp(a, "--no-read"))
			do_read = false;
		else if (a[0] == '-' && a[1] == '-')
			usage();
		else if (npos < 3)
			pos[npos++] = a;
		else
			usage();
	}
	if (npos != 3)
		usage();

	char host[64];
	const char *colon = strrchr(pos[0], ':');

	if (!colon || (size_t)(colon - pos[0]) >= sizeof(host))
		usage();
	memcpy(host, pos[0], colon - pos[0]);
	host[colon - pos[0]] = 0;
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)parse_num(colon + 1, 1));
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
		fprintf(stderr, "sessions: %s: not an IPv4 address\n", host);
		return 2;
	}
	target_iqn = pos[1];
	nsess = (unsigned)parse_num(pos[2], 1);

	signal(SIGPIPE, SIG_IGN);
	raise_nofile(nsess);
	isid_salt = (uint32_t)getpid();
	sess = calloc(nsess, sizeof(*sess));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!sess || epfd < 0) {
		perror("sessions");
		return 1;
	}
	for (unsigned i = 0; i < nsess; i++) {
		sess[i].fd = -1;
		sess[i].idx = i;
		sess[i].itt = 1;
		sess[i].cmdsn = 1;
	}

	/* logins, at most max_inflight connecting or logging in at once */
	double t0 = now(), deadline = t0 + timeout;
	unsigned next = 0;

	t_last_ffp = t0;
	while ((next < nsess || inflight > 0) && now() < deadline) {
		bool backoff = false;

		while (next < nsess && inflight < max_inflight) {
			int r = start_connect(&sess[next]);

			if (r == 1) {
				backoff = true;
				break;
			}
			next++;
		}
		poll_once(backoff ? 10 : 100);
	}
	for (unsigned i = 0; i < nsess; i++) {
		struct sess *s = &sess[i];

		if (s->state == ST_NEW)
			fail(s, "timeout before connecting");
		else if (s->state == ST_CONNECTING)
			fail(s, "timeout while connecting");
		else if (s->state == ST_LOGIN)
			fail(s, "timeout waiting for a Login Response");
	}
	double dt = t_last_ffp - t0;

	printf("logins: %u in %.3f s, %.0f per second\n", logged_in, dt,
	       dt > 0 ? logged_in / dt : 0.0);
	printf("login failures: %u\n", login_fail.total);
	tally_print(&login_fail, "login failed");
	fflush(stdout);

	/* one READ(10) through every session, all at once */
	phase = PH_READ;
	for (unsigned i = 0; i < nsess && do_read; i++) {
		struct sess *s = &sess[i];

		if (s->state != ST_FFP)
			continue;
		reads_pend++;
		if (window_open(s))
			send_read(s);
	}
	deadline = now() + timeout;
	while (reads_pend > 0 && now() < deadline)
		poll_once(100);
	for (unsigned i = 0; i < nsess; i++) {
		struct sess *s = &sess[i];

		if (do_read && (s->state == ST_READ || s->state == ST_FFP) &&
		    !s->read_done)
			fail(s, s->state == ST_READ
				    ? "timeout waiting for the READ"
				    : "CmdSN window never opened");
	}
	unsigned reads_failed = do_read ? logged_in - reads_good : 0;

	printf("reads: %u GOOD, %u failed\n", reads_good, reads_failed);
	if (ua_retried)
		printf("  (%u READs answered UNIT ATTENTION and were resent)\n",
		       ua_retried);
	tally_print(&read_fail, "read failed");
	tally_print(&drop_fail, "dropped before the READ");
	fflush(stdout);

	if (hold >= 0) {
		phase = PH_HOLD;
		printf("holding\n");
		fflush(stdout);
		double end = now() + hold;

		for (double t = now(); t < end; t = now()) {
			double left = (end - t) * 1000;

			poll_once(left > 1000 ? 1000 : (int)left + 1);
		}
		unsigned dropped = drop_fail.total;

		printf("held %.0f s: %u sessions dropped, %u NOP-In pings "
		       "answered, %u async events\n",
		       hold, dropped, nops_answered, async_events);
		if (dropped)
			tally_print(&drop_fail, "dropped");
		fflush(stdout);
	}

	phase = PH_LOGOUT;
	if (logout) {
		unsigned before = drop_fail.total;

		for (unsigned i = 0; i < nsess; i++)
			if (sess[i].state == ST_FFP)
				send_logout(&sess[i]);
		deadline = now() + 30;
		while (logouts_pend > 0 && now() < deadline)
			poll_once(100);
		if (logouts_pend || drop_fail.total != before)
			printf("logouts: %u unanswered, %u failed\n",
			       logouts_pend, drop_fail.total - before);
	}
	for (unsigned i = 0; i < nsess; i++)
		if (sess[i].fd >= 0)
			sess_close(&sess[i], ST_CLOSED);
	free(sess);
	close(epfd);
	return logged_in == nsess && (!do_read || reads_good == nsess) ? 0 : 1;
}
