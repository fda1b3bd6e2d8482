/*
 * hostile: a hostile-input client for lunard's iSCSI portal (DESIGN.md
 * §5 and §9). It opens many connections, in batches held open together,
 * that each abuse one state of the connection machine: random bytes,
 * truncated headers, a Login PDU claiming a 16 MiB data segment, a SCSI
 * Command before login, bogus AHS lengths, malformed login text, a login
 * abandoned half way, and, after a real login, unknown opcodes, oversized
 * segments, stray Data-Out, aborts of unknown tasks and a second login.
 * Between batches, and at the end, a normal libiscsi initiator must still
 * log in and get INQUIRY and READ CAPACITY(16) answered.
 *
 * Hard requirements checked on the hostile connections themselves:
 *  - a SCSI Command before login never gets SCSI data or status back, and
 *    the connection is closed (RFC 7143 §6.3: only Login PDUs before
 *    login);
 *  - a Login PDU announcing a 16 MiB data segment is refused at once,
 *    without the target waiting for (or buffering) the 16 MiB.
 *
 * usage: hostile URL [CONNECTIONS [SEED]]
 *   URL: iscsi://127.0.0.1:PORT/IQN/LUN of a LUN whose ACL admits
 *   iqn.2026-11.org.lunar:hostile. Exit 0 when every check held.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define BHS_LEN	      48
#define BATCH	      30
#define REPLY_WAIT_MS 10000
#define INITIATOR     "iqn.2026-11.org.lunar:hostile"

enum {
	OP_NOP_OUT = 0x00,
	OP_SCSI_CMD = 0x01,
	OP_TMF = 0x02,
	OP_LOGIN = 0x03,
	OP_TEXT = 0x04,
	OP_DATA_OUT = 0x05,
	OP_LOGOUT = 0x06,
	OP_SCSI_RSP = 0x21,
	OP_LOGIN_RSP = 0x23,
	OP_DATA_IN = 0x25,
	OP_REJECT = 0x3f,
};

enum kind {
	K_RANDOM,
	K_TRUNC_HEADER,
	K_LOGIN_16M,
	K_SCSI_BEFORE_LOGIN,
	K_BAD_AHS,
	K_LOGIN_GARBAGE_TEXT,
	K_IDLE,
	K_HALF_LOGIN,
	K_AFTER_LOGIN,
	K_COUNT,
};

static const char *const kind_names[K_COUNT] = {
    "random bytes",	 "truncated header",
    "16 MiB login",	 "SCSI command before login",
    "bad AHS length",	 "malformed login text",
    "idle connection",	 "abandoned login",
    "abuse after login",
};

struct target {
	struct sockaddr_in addr;
	char iqn[MAX_STRING_SIZE + 1];
	int lun;
	const char *url;
};

struct conn {
	int fd;
	enum kind kind;
	int sub;
	bool check_closed; /* the target must close it within the wait */
	bool no_scsi_reply;
	bool refuse_login; /* expect close or a non-zero login status */
};

static unsigned checks_failed;
static unsigned logins_done;
static uint32_t isid_counter;

static void check_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "hostile: FAILED: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	checks_failed++;
}

static void put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void fill_random(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(random() >> 7);
}

static int connect_target(const struct target *t)
{
	struct timeval tv = {.tv_sec = REPLY_WAIT_MS / 1000};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&t->addr, sizeof(t->addr))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Sends everything or gives up quietly: the target may close first. */
static bool send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads one PDU: the BHS into bhs, the data segment (at most cap bytes
 * kept) into data. Returns the data length, or -1 on close/timeout. */
static long recv_pdu(int fd, uint8_t bhs[BHS_LEN], uint8_t *data, size_t cap)
{
	static uint8_t skip[4096];
	size_t ahs, dsl, total, got = 0;

	if (!recv_all(fd, bhs, BHS_LEN))
		return -1;
	ahs = (size_t)bhs[4] * 4;
	dsl = get24(bhs + 5);
	total = ahs + ((dsl + 3) & ~(size_t)3);
	if (total > 16 * 1024 * 1024)
		return -1;
	while (got < total) {
		size_t chunk = total - got;
		uint8_t *dst = skip;
		size_t data_off = got >= ahs ? got - ahs : 0;

		if (got >= ahs && data_off < cap && data) {
			dst = data + data_off;
			if (chunk > cap - data_off)
				chunk = cap - data_off;
		} else if (got < ahs && chunk > ahs - got) {
			chunk = ahs - got;
		}
		if (dst == skip && chunk > sizeof(skip))
			chunk = sizeof(skip);
		if (!recv_all(fd, dst, chunk))
			return -1;
		got += chunk;
	}
	return (long)dsl;
}

static void login_bhs(uint8_t *bhs, int csg, int nsg, bool transit,
		      uint32_t isid_low, uint32_t cmdsn, uint32_t expstatsn,
		      size_t dsl)
{
	memset(bhs, 0, BHS_LEN);
	bhs[0] = 0x40 | OP_LOGIN;
	bhs[1] =
	    (uint8_t)((transit ? 0x80 : 0) | (csg << 2) | (transit ? nsg : 0));
	put24(bhs + 5, (uint32_t)dsl);
	bhs[8] = 0x80; /* ISID type "random" */
	bhs[9] = 0x4c;
	put32(bhs + 10, isid_low);
	put32(bhs + 16, 0x1000 + isid_low); /* ITT */
	put32(bhs + 24, cmdsn);
	put32(bhs + 28, expstatsn);
}

static size_t add_key(char *buf, size_t len, size_t cap, const char *kv)
{
	size_t n = strlen(kv) + 1;

	if (len + n <= cap) {
		memcpy(buf + len, kv, n);
		len += n;
	}
	return len;
}

static bool send_pdu(int fd, uint8_t *bhs, const void *data, size_t len)
{
	static const uint8_t pad[4];

	if (!send_all(fd, bhs, BHS_LEN))
		return false;
	if (len && !send_all(fd, data, len))
		return false;
	if (len % 4 && !send_all(fd, pad, 4 - len % 4))
		return false;
	return true;
}

/*
 * A real login to the target (security stage with AuthMethod=None, then
 * operational negotiation) done by hand. Returns the next ExpStatSN, or 0
 * when the target did not let us in.
 */
static uint32_t raw_login(int fd, const struct target *t, uint32_t isid)
{
	static const char *const op_keys[] = {
	    "HeaderDigest=None",     "DataDigest=None",
	    "ErrorRecoveryLevel=0",  "InitialR2T=Yes",
	    "ImmediateData=Yes",     "MaxRecvDataSegmentLength=262144",
	    "MaxBurstLength=262144", "FirstBurstLength=65536",
	    "MaxConnections=1",	     "DefaultTime2Wait=2",
	    "DefaultTime2Retain=0",  "MaxOutstandingR2T=1",
	    "DataPDUInOrder=Yes",    "DataSequenceInOrder=Yes",
	};
	uint8_t bhs[BHS_LEN], rsp[BHS_LEN];
	char data[2048];
	int csg = 0;
	bool first_in_stage = true;
	uint32_t expstatsn = 0;

	for (int step = 0; step < 8; step++) {
		int nsg = csg == 0 ? 1 : 3;
		size_t len = 0;
		char kv[512];

		if (first_in_stage && csg == 0) {
			snprintf(kv, sizeof(kv), "InitiatorName=%s", INITIATOR);
			len = add_key(data, len, sizeof(data), kv);
			len = add_key(data, len, sizeof(data),
				      "SessionType=Normal");
			snprintf(kv, sizeof(kv), "TargetName=%s", t->iqn);
			len = add_key(data, len, sizeof(data), kv);
			len =
			    add_key(data, len, sizeof(data), "AuthMethod=None");
		} else if (first_in_stage) {
			for (size_t i = 0;
			     i < sizeof(op_keys) / sizeof(op_keys[0]); i++)
				len = add_key(data, len, sizeof(data),
					      op_keys[i]);
		}
		login_bhs(bhs, csg, nsg, true, isid, 1, expstatsn, len);
		if (!send_pdu(fd, bhs, data, len))
			return 0;
		if (recv_pdu(fd, rsp, NULL, 0) < 0)
			return 0;
		if ((rsp[0] & 0x3f) != OP_LOGIN_RSP || rsp[36] != 0) {
			fprintf(stderr,
				"hostile: login refused: opcode 0x%02x "
				"status %u/%u\n",
				rsp[0] & 0x3f, rsp[36], rsp[37]);
			return 0;
		}
		expstatsn = get32(rsp + 24) + 1;
		first_in_stage = false;
		if (rsp[1] & 0x80) { /* transit */
			int next = rsp[1] & 3;

			if (next == 3)
				return expstatsn ? expstatsn : 1;
			csg = next;
			first_in_stage = true;
		}
	}
	fprintf(stderr, "hostile: login did not finish in 8 steps\n");
	return 0;
}

static void ffp_bhs(uint8_t *bhs, uint8_t op, const struct target *t,
		    uint32_t itt, uint32_t cmdsn, uint32_t expstatsn)
{
	memset(bhs, 0, BHS_LEN);
	bhs[0] = op;
	bhs[1] = 0x80;
	bhs[9] = (uint8_t)t->lun;
	put32(bhs + 16, itt);
	put32(bhs + 20, 0xffffffff);
	put32(bhs + 24, cmdsn);
	put32(bhs + 28, expstatsn);
}

/* One of ten abuses of a logged-in connection. */
static void abuse_after_login(int fd, const struct target *t, int sub,
			      uint32_t expstatsn)
{
	uint8_t bhs[BHS_LEN], junk[4096];

	fill_random(junk, sizeof(junk));
	switch (sub % 10) {
	case 0: /* reserved opcode */
		ffp_bhs(bhs, 0x0f, t, 1, 1, expstatsn);
		send_pdu(fd, bhs, NULL, 0);
		break;
	case 1: /* WRITE(10) claiming 16 MiB of immediate data */
		ffp_bhs(bhs, OP_SCSI_CMD, t, 2, 1, expstatsn);
		bhs[1] = 0x80 | 0x20 | 1;
		put24(bhs + 5, 0xffffff);
		put32(bhs + 20, 1u << 30);
		bhs[32] = 0x2a;
		bhs[39] = 0xff;
		bhs[40] = 0xff;
		send_pdu(fd, bhs, NULL, 0);
		send_all(fd, junk, sizeof(junk));
		break;
	case 2: /* Data-Out for a transfer that does not exist */
		ffp_bhs(bhs, OP_DATA_OUT, t, 77, 0, expstatsn);
		put32(bhs + 20, 0x12345678);
		put24(bhs + 5, 512);
		put32(bhs + 40, 1u << 31);
		send_pdu(fd, bhs, junk, 512);
		break;
	case 3: /* READ(10) of 65535 blocks into a 512-byte buffer */
		ffp_bhs(bhs, OP_SCSI_CMD, t, 3, 1, expstatsn);
		bhs[1] = 0x80 | 0x40 | 1;
		put32(bhs + 20, 512);
		bhs[32] = 0x28;
		bhs[39] = 0xff;
		bhs[40] = 0xff;
		send_pdu(fd, bhs, NULL, 0);
		break;
	case 4: /* Text request announcing 16 MiB */
		ffp_bhs(bhs, 0x40 | OP_TEXT, t, 4, 1, expstatsn);
		put24(bhs + 5, 0xffffff);
		send_pdu(fd, bhs, NULL, 0);
		send_all(fd, junk, sizeof(junk));
		break;
	case 5: /* ABORT TASK of a task that never existed */
		ffp_bhs(bhs, 0x40 | OP_TMF, t, 5, 1, expstatsn);
		bhs[1] = 0x80 | 1;
		put32(bhs + 20, 0xdeadbeef);
		send_pdu(fd, bhs, NULL, 0);
		break;
	case 6: /* NOP-Out with a 16 MiB ping announced */
		ffp_bhs(bhs, 0x40 | OP_NOP_OUT, t, 6, 1, expstatsn);
		put24(bhs + 5, 0xffffff);
		send_pdu(fd, bhs, NULL, 0);
		break;
	case 7: /* garbage */
		send_all(fd, junk, 1 + (size_t)random() % sizeof(junk));
		break;
	case 8: /* commands far outside the CmdSN window */
		for (uint32_t i = 0; i < 64; i++) {
			ffp_bhs(bhs, OP_SCSI_CMD, t, 100 + i, 0x80000000u + i,
				expstatsn);
			bhs[1] = 0x80 | 1;
			bhs[32] = 0x00; /* TEST UNIT READY */
			if (!send_pdu(fd, bhs, NULL, 0))
				break;
		}
		break;
	case 9: /* a Login PDU in full feature phase, then a bogus AHS */
		login_bhs(bhs, 1, 3, true, 1, 1, expstatsn, 0);
		send_pdu(fd, bhs, NULL, 0);
		ffp_bhs(bhs, OP_SCSI_CMD, t, 9, 1, expstatsn);
		bhs[4] = 255;
		send_pdu(fd, bhs, NULL, 0);
		send_all(fd, junk, 256);
		break;
	}
}

static void conn_start(struct conn *c, const struct target *t, enum kind k,
		       int sub)
{
	uint8_t bhs[BHS_LEN], buf[16384];
	size_t len;

	memset(c, 0, sizeof(*c));
	c->kind = k;
	c->sub = sub;
	c->fd = connect_target(t);
	if (c->fd < 0) {
		check_fail("connection %d (%s): connect: %s", sub,
			   kind_names[k], strerror(-c->fd));
		return;
	}
	switch (k) {
	case K_RANDOM:
		len = 1 + (size_t)random() % sizeof(buf);
		fill_random(buf, len);
		send_all(c->fd, buf, len);
		break;
	case K_TRUNC_HEADER:
		login_bhs(bhs, 0, 1, true, ++isid_counter, 1, 0, 100);
		send_all(c->fd, bhs, 1 + (size_t)random() % (BHS_LEN - 1));
		break;
	case K_LOGIN_16M:
		login_bhs(bhs, 0, 1, true, ++isid_counter, 1, 0, 0xffffff);
		send_all(c->fd, bhs, BHS_LEN);
		fill_random(buf, 1024);
		send_all(c->fd, buf, 1024);
		c->check_closed = true;
		c->refuse_login = true;
		break;
	case K_SCSI_BEFORE_LOGIN:
		ffp_bhs(bhs, OP_SCSI_CMD, t, 1, 1, 0);
		bhs[1] = 0x80 | 0x40 | 1;
		put32(bhs + 20, 4096);
		bhs[32] = 0x28; /* READ(10), 8 blocks */
		bhs[40] = 8;
		send_all(c->fd, bhs, BHS_LEN);
		c->check_closed = true;
		c->no_scsi_reply = true;
		break;
	case K_BAD_AHS:
		login_bhs(bhs, 0, 1, true, ++isid_counter, 1, 0, 100);
		bhs[4] = 255;
		send_all(c->fd, bhs, BHS_LEN);
		fill_random(buf, 200);
		send_all(c->fd, buf, 200);
		break;
	case K_LOGIN_GARBAGE_TEXT: {
		/* No '=', no final NUL, a 300-byte key, binary junk. */
		static const char text[] = "InitiatorName\0AuthMethod=None\0";
		len = 0;
		memcpy(buf, text, sizeof(text) - 1);
		len = sizeof(text) - 1;
		memset(buf + len, 'K', 300);
		len += 300;
		buf[len++] = '=';
		fill_random(buf + len, 400);
		len += 400;
		login_bhs(bhs, 0, 1, true, ++isid_counter, 1, 0, len);
		send_pdu(c->fd, bhs, buf, len);
		break;
	}
	case K_IDLE:
		break;
	case K_HALF_LOGIN: {
		char kv[300];

		len = 0;
		snprintf(kv, sizeof(kv), "InitiatorName=%s", INITIATOR);
		len = add_key((char *)buf, len, sizeof(buf), kv);
		snprintf(kv, sizeof(kv), "TargetName=%s", t->iqn);
		len = add_key((char *)buf, len, sizeof(buf), kv);
		len = add_key((char *)buf, len, sizeof(buf), "AuthMethod=None");
		login_bhs(bhs, 0, 1, false, ++isid_counter, 1, 0, len);
		send_pdu(c->fd, bhs, buf, len);
		break;
	}
	case K_AFTER_LOGIN: {
		uint32_t expstatsn = raw_login(c->fd, t, ++isid_counter);

		if (!expstatsn) {
			check_fail("connection %d: a plain login to %s "
				   "(AuthMethod=None) was refused",
				   sub, t->iqn);
			break;
		}
		logins_done++;
		abuse_after_login(c->fd, t, sub / K_COUNT, expstatsn);
		break;
	}
	case K_COUNT:
		break;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads what the target answers until it closes or the wait ends. */
static void conn_finish(struct conn *c, uint64_t deadline)
{
	bool closed = false;

	if (c->fd < 0)
		return;
	while (c->check_closed && !closed) {
		uint8_t bhs[BHS_LEN];
		uint64_t now = now_ms();
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

		if (now >= deadline)
			break;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			break;
		if (recv_pdu(c->fd, bhs, NULL, 0) < 0) {
			closed = true;
			break;
		}
		uint8_t op = bhs[0] & 0x3f;

		if (c->no_scsi_reply && (op == OP_SCSI_RSP || op == OP_DATA_IN))
			check_fail("connection %d: the target answered a "
				   "SCSI Command sent before login with "
				   "opcode 0x%02x",
				   c->sub, op);
		if (c->refuse_login && op == OP_LOGIN_RSP && bhs[36] == 0)
			check_fail("connection %d: the target accepted a "
				   "Login PDU announcing a 16 MiB data "
				   "segment",
				   c->sub);
	}
	if (c->check_closed && !closed)
		check_fail("connection %d (%s): the target kept the connection "
			   "open for %d s instead of refusing it",
			   c->sub, kind_names[c->kind], REPLY_WAIT_MS / 1000);
	close(c->fd);
	c->fd = -1;
}

/* A well-behaved initiator must still be served. */
static bool health_check(const struct target *t, const char *when)
{
	struct iscsi_context *iscsi;
	struct scsi_task *task;
	bool ok = false;

	iscsi = iscsi_create_context(INITIATOR ":check");
	if (!iscsi)
		return false;
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	iscsi_set_timeout(iscsi, 10);
	iscsi_set_noautoreconnect(iscsi, 1);
	iscsi_set_targetname(iscsi, t->iqn);
	char portal[64];

	snprintf(portal, sizeof(portal), "%s:%u", inet_ntoa(t->addr.sin_addr),
		 ntohs(t->addr.sin_port));
	if (iscsi_full_connect_sync(iscsi, portal, t->lun)) {
		check_fail("%s: a normal login failed: %s", when,
			   iscsi_get_error(iscsi));
		goto out;
	}
	task = iscsi_inquiry_sync(iscsi, t->lun, 0, 0, 255);
	if (!task || task->status != SCSI_STATUS_GOOD) {
		check_fail("%s: INQUIRY failed: %s", when,
			   iscsi_get_error(iscsi));
		if (task)
			scsi_free_scsi_task(task);
		goto out_logout;
	}
	scsi_free_scsi_task(task);
	task = iscsi_readcapacity16_sync(iscsi, t->lun);
	if (!task || task->status != SCSI_STATUS_GOOD) {
		check_fail("%s: READ CAPACITY(16) failed: %s", when,
			   iscsi_get_error(iscsi));
	} else {
		struct scsi_readcapacity16 *rc16 = scsi_datain_unmarshall(task);

		if (!rc16 || rc16->block_length == 0)
			check_fail("%s: READ CAPACITY(16) returned no "
				   "capacity",
				   when);
		else
			ok = true;
	}
	if (task)
		scsi_free_scsi_task(task);
out_logout:
	iscsi_logout_sync(iscsi);
out:
	iscsi_destroy_context(iscsi);
	return ok;
}

static int parse_target(const char *url_s, struct target *t)
{
	struct iscsi_context *iscsi = iscsi_create_context(INITIATOR);
	struct iscsi_url *url;
	char host[MAX_STRING_SIZE + 1];
	unsigned port = 3260;
	char *colon;

	if (!iscsi)
		return -1;
	url = iscsi_parse_full_url(iscsi, url_s);
	if (!url) {
		fprintf(stderr, "hostile: bad URL %s: %s\n", url_s,
			iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		return -1;
	}
	snprintf(host, sizeof(host), "%s", url->portal);
	colon = strrchr(host, ':');
	if (colon) {
		*colon = '\0';
		port = (unsigned)atoi(colon + 1);
	}
	memset(t, 0, sizeof(*t));
	t->addr.sin_family = AF_INET;
	t->addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &t->addr.sin_addr) != 1) {
		fprintf(stderr, "hostile: %s is not an IPv4 address\n", host);
		iscsi_destroy_url(url);
		iscsi_destroy_context(iscsi);
		return -1;
	}
	snprintf(t->iqn, sizeof(t->iqn), "%s", url->target);
	t->lun = url->lun;
	t->url = url_s;
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return 0;
}

int main(int argc, char **argv)
{
	static struct conn conns[BATCH];
	struct target t;
	unsigned total = 300, seed = (unsigned)time(NULL);
	unsigned done = 0, per_kind[K_COUNT] = {0};

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: hostile URL [CONNECTIONS [SEED]]\n");
		return 2;
	}
	if (argc > 2)
		total = (unsigned)strtoul(argv[2], NULL, 10);
	if (argc > 3)
		seed = (unsigned)strtoul(argv[3], NULL, 10);
	if (parse_target(argv[1], &t) < 0)
		return 2;
	srandom(seed);
	signal(SIGPIPE, SIG_IGN);
	/* Every wait below is bounded; this bounds their sum too. */
	alarm(240);
	printf("hostile: %u connections to %s, seed %u\n", total, argv[1],
	       seed);
	fflush(stdout);

	if (!health_check(&t, "before"))
		return 1;
	while (done < total) {
		unsigned n = total - done < BATCH ? total - done : BATCH;
		uint64_t deadline;

		for (unsigned i = 0; i < n; i++) {
			enum kind k = (enum kind)((done + i) % K_COUNT);

			conn_start(&conns[i], &t, k, (int)(done + i));
			per_kind[k]++;
		}
		deadline = now_ms() + REPLY_WAIT_MS;
		for (unsigned i = 0; i < n; i++)
			conn_finish(&conns[i], deadline);
		done += n;
		if (done % (BATCH * 3) == 0 || done == total) {
			char when[64];

			snprintf(when, sizeof(when), "after %u connections",
				 done);
			health_check(&t, when);
		}
	}
	for (int k = 0; k < K_COUNT; k++)
		printf("hostile: %3u x %s\n", per_kind[k], kind_names[k]);
	printf("hostile: %u raw logins completed; %u check(s) failed\n",
	       logins_done, checks_failed);
	return checks_failed ? 1 : 0;
}
