/*
 * iscsi_raw.h: a minimal iSCSI initiator written from RFC 7143 for the
 * integration programs that must see the wire (digests.c, nop.c): one TCP
 * connection, PDUs sent and received byte by byte with optional CRC32C
 * header and data digests (every received digest is verified), a login
 * with AuthMethod=None and caller-chosen operational keys, StatSN
 * tracking, Logout. It shares no code with lunar: the CRC32C here is its
 * own table-driven implementation, checked against the examples of
 * RFC 3720 Appendix B.4 (kept in RFC 7143).
 *
 * Every unexpected event ends the program through raw_die() with what was
 * expected and what came; the functions are static inline so that each
 * program uses only what it needs.
 */
#ifndef LUNAR_TEST_ISCSI_RAW_H
#define LUNAR_TEST_ISCSI_RAW_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RAW_BHS	     48
#define RAW_RSVD_TAG 0xffffffffu
/* Largest data segment accepted before the Full Feature Phase. */
#define RAW_LOGIN_DSL 8192

enum {
	RAW_OP_NOP_OUT = 0x00,
	RAW_OP_SCSI_CMD = 0x01,
	RAW_OP_LOGIN = 0x03,
	RAW_OP_DATA_OUT = 0x05,
	RAW_OP_LOGOUT = 0x06,
	RAW_OP_NOP_IN = 0x20,
	RAW_OP_SCSI_RSP = 0x21,
	RAW_OP_LOGIN_RSP = 0x23,
	RAW_OP_DATA_IN = 0x25,
	RAW_OP_LOGOUT_RSP = 0x26,
	RAW_OP_R2T = 0x31,
	RAW_OP_ASYNC = 0x32,
	RAW_OP_REJECT = 0x3f,
};

#define RAW_IMMEDIATE 0x40
#define RAW_FINAL     0x80

/* What raw_send() damages on purpose. */
#define RAW_CORRUPT_HDIGEST 1u /* one bit of the header digest flipped */
#define RAW_CORRUPT_DATA    2u /* one data byte flipped after digesting */

/* Name of the program, for messages. */
static const char *raw_prog = "raw";

static inline void raw_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static inline void raw_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: FAILED: ", raw_prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static inline void raw_log(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static inline void raw_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s: ", raw_prog);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static inline uint64_t raw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void raw_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void raw_put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static inline void raw_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t raw_get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t raw_get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t raw_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t raw_pad(uint32_t len)
{
	return (4 - (len & 3)) & 3;
}

/* ---- CRC32C (Castagnoli), reflected polynomial 0x82f63b78 ---- */

static inline uint32_t raw_crc32c_update(uint32_t crc, const void *buf,
					 size_t len)
{
	static uint32_t table[256];
	static bool ready;
	const uint8_t *p = buf;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? (v >> 1) ^ 0x82f63b78u : v >> 1;
			table[i] = v;
		}
		ready = true;
	}
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* The iSCSI digest: seed all ones, result inverted. */
static inline uint32_t raw_crc32c(const void *buf, size_t len)
{
	return ~raw_crc32c_update(0xffffffffu, buf, len);
}

/* Digests go on the wire least significant byte first (RFC 3720 B.4). */
static inline void raw_digest_put(uint8_t *p, uint32_t crc)
{
	p[0] = (uint8_t)crc;
	p[1] = (uint8_t)(crc >> 8);
	p[2] = (uint8_t)(crc >> 16);
	p[3] = (uint8_t)(crc >> 24);
}

static inline uint32_t raw_digest_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The CRC examples of RFC 3720 Appendix B.4, bytes as transmitted. */
static inline void raw_crc32c_selftest(void)
{
	static const uint8_t read10_pdu[48] = {
	    0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
	    0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	static const struct {
		const char *what;
		uint8_t expect[4];
	} vec[5] = {
	    {"32 bytes of zeroes", {0xaa, 0x36, 0x91, 0x8a}},
	    {"32 bytes of ones", {0x43, 0xab, 0xa8, 0x62}},
	    {"32 incrementing bytes", {0x4e, 0x79, 0xdd, 0x46}},
	    {"32 decrementing bytes", {0x5c, 0xdb, 0x3f, 0x11}},
	    {"an iSCSI READ(10) command PDU", {0x56, 0x3a, 0x96, 0xd9}},
	};
	uint8_t buf[48], got[4];

	for (int v = 0; v < 5; v++) {
		size_t len = 32;

		for (int i = 0; i < 32; i++) {
			buf[i] = v == 0	  ? 0x00
				 : v == 1 ? 0xff
				 : v == 2 ? (uint8_t)i
					  : (uint8_t)(31 - i);
		}
		if (v == 4) {
			memcpy(buf, read10_pdu, sizeof(read10_pdu));
			len = sizeof(read10_pdu);
		}
		raw_digest_put(got, raw_crc32c(buf, len));
		if (memcmp(got, vec[v].expect, 4))
			raw_die("CRC32C self-test: %s gives %02x %02x %02x "
				"%02x, RFC 3720 B.4 says %02x %02x %02x %02x",
				vec[v].what, got[0], got[1], got[2], got[3],
				vec[v].expect[0], vec[v].expect[1],
				vec[v].expect[2], vec[v].expect[3]);
	}
}

/* ---- connection ---- */

struct raw_conn {
	int fd;
	char name[32]; /* "session 1", for messages */
	bool hd, dd;   /* digests in force */
	uint32_t cmdsn, expstatsn, itt;
	uint8_t isid[6];
	uint16_t tsih;
	uint8_t lun; /* single-level LUN used in BHS byte 9 */
	/* negotiated (target's answers, or the RFC 7143 defaults) */
	uint32_t tgt_mrdsl; /* the target's MaxRecvDataSegmentLength */
	uint32_t my_mrdsl;  /* ours: the largest data segment we accept */
	uint32_t first_burst, max_burst, max_r2t;
	bool initial_r2t, immediate_data;
	char keys[RAW_LOGIN_DSL * 4]; /* every key the target sent */
	size_t keys_len;
	/* target NOP-In pings: answered by raw_recv() when answer_pings */
	bool answer_pings;
	unsigned pings_answered;
};

struct raw_pdu {
	uint8_t bhs[RAW_BHS];
	uint8_t data[(1u << 18) + 4]; /* MaxRecvDataSegmentLength <= 256 KiB */
	uint32_t dlen;
};

static inline uint8_t raw_opcode(const uint8_t *bhs)
{
	return bhs[0] & 0x3f;
}

static inline const char *raw_opname(uint8_t op)
{
	switch (op) {
	case RAW_OP_NOP_IN:
		return "NOP-In";
	case RAW_OP_SCSI_RSP:
		return "SCSI Response";
	case RAW_OP_LOGIN_RSP:
		return "Login Response";
	case RAW_OP_DATA_IN:
		return "Data-In";
	case RAW_OP_LOGOUT_RSP:
		return "Logout Response";
	case RAW_OP_R2T:
		return "R2T";
	case RAW_OP_ASYNC:
		return "Async Message";
	case RAW_OP_REJECT:
		return "Reject";
	case 0x22:
		return "Task Management Response";
	case 0x24:
		return "Text Response";
	default:
		return "unknown opcode";
	}
}

/* "127.0.0.1:3260" */
static inline int raw_connect(struct raw_conn *c, const char *hostport,
			      const char *name)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strrchr(hostport, ':');
	int one = 1;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		raw_die("bad portal '%s': expected ADDR:PORT", hostport);
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = 0;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		raw_die("bad portal '%s': not an IPv4 address", hostport);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		raw_die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		raw_die("%s: connect to %s: %s", name, hostport,
			strerror(errno));
	c->tgt_mrdsl = RAW_LOGIN_DSL;
	c->my_mrdsl = RAW_LOGIN_DSL;
	return c->fd;
}

static inline void raw_close(struct raw_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* false when the target has closed the connection */
static inline bool raw_send_all(int fd, const uint8_t *p, size_t len)
{
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

/*
 * Sends one PDU: the BHS as given (DataSegmentLength is filled in here),
 * header digest, data, padding and data digest as negotiated. corrupt
 * (RAW_CORRUPT_*) damages it on purpose. false when the connection is
 * gone.
 */
static inline bool raw_send(struct raw_conn *c, uint8_t *bhs, const void *data,
			    uint32_t dlen, unsigned corrupt)
{
	size_t len = RAW_BHS + (c->hd ? 4 : 0) + dlen + raw_pad(dlen) +
		     (c->dd && dlen ? 4 : 0);
	uint8_t *buf = calloc(1, len);
	size_t off = RAW_BHS;
	bool ok;

	if (!buf)
		raw_die("out of memory");
	raw_put24(bhs + 5, dlen);
	memcpy(buf, bhs, RAW_BHS);
	if (c->hd) {
		raw_digest_put(buf + off, raw_crc32c(buf, RAW_BHS));
		if (corrupt & RAW_CORRUPT_HDIGEST)
			buf[off] ^= 0x01;
		off += 4;
	}
	if (dlen) {
		uint8_t *d = buf + off;

		memcpy(d, data, dlen);
		off += dlen + raw_pad(dlen);
		if (c->dd) {
			raw_digest_put(buf + off,
				       raw_crc32c(d, dlen + raw_pad(dlen)));
			off += 4;
		}
		if (corrupt & RAW_CORRUPT_DATA)
			d[dlen - 1] ^= 0x01;
	}
	ok = raw_send_all(c->fd, buf, len);
	free(buf);
	return ok;
}

/* 1: all read; 0: closed (EOF or reset); -1: deadline passed */
static inline int raw_recv_exact(struct raw_conn *c, uint8_t *p, size_t len,
				 uint64_t deadline)
{
	while (len > 0) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		uint64_t now = raw_now_ms();
		ssize_t n;
		int r;

		if (now >= deadline)
			return -1;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			raw_die("%s: poll: %s", c->name, strerror(errno));
		if (r == 0)
			return -1;
		n = recv(c->fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 ||
		    (n < 0 && (errno == ECONNRESET || errno == EPIPE))) {
			return 0;
		}
		if (n < 0)
			raw_die("%s: recv: %s", c->name, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

/*
 * Reads one PDU within timeout_ms, verifying its header and data digests
 * when they are in force and that its data segment fits the
 * MaxRecvDataSegmentLength we declared. 1: a PDU; 0: the target closed
 * the connection; -1: nothing (complete) within the time.
 */
static inline int raw_recv_pdu(struct raw_conn *c, struct raw_pdu *p,
			       int timeout_ms)
{
	uint64_t deadline = raw_now_ms() + (uint64_t)timeout_ms;
	uint8_t ahs[1024], dig[4];
	uint32_t ahs_len, seg;
	int r;

	r = raw_recv_exact(c, p->bhs, RAW_BHS, deadline);
	if (r <= 0)
		return r;
	ahs_len = (uint32_t)p->bhs[4] * 4;
	p->dlen = raw_get24(p->bhs + 5);
	if (ahs_len && (r = raw_recv_exact(c, ahs, ahs_len, deadline)) <= 0)
		return r;
	if (c->hd) {
		uint32_t crc;

		if ((r = raw_recv_exact(c, dig, 4, deadline)) <= 0)
			return r;
		crc = raw_crc32c_update(0xffffffffu, p->bhs, RAW_BHS);
		crc = ~raw_crc32c_update(crc, ahs, ahs_len);
		if (crc != raw_digest_get(dig))
			raw_die("%s: %s (opcode 0x%02x) arrived with header "
				"digest 0x%08x; CRC32C of its header is 0x%08x",
				c->name, raw_opname(raw_opcode(p->bhs)),
				raw_opcode(p->bhs), raw_digest_get(dig), crc);
	}
	if (p->dlen > c->my_mrdsl)
		raw_die("%s: %s with a %u-byte data segment; we declared "
			"MaxRecvDataSegmentLength=%u (RFC 7143 §13.12)",
			c->name, raw_opname(raw_opcode(p->bhs)), p->dlen,
			c->my_mrdsl);
	seg = p->dlen + raw_pad(p->dlen);
	if (seg && (r = raw_recv_exact(c, p->data, seg, deadline)) <= 0)
		return r;
	if (c->dd && p->dlen) {
		uint32_t crc = raw_crc32c(p->data, seg);

		if ((r = raw_recv_exact(c, dig, 4, deadline)) <= 0)
			return r;
		if (crc != raw_digest_get(dig))
			raw_die("%s: %s (opcode 0x%02x, %u data bytes) arrived "
				"with data digest 0x%08x; CRC32C of its data "
				"and padding is 0x%08x",
				c->name, raw_opname(raw_opcode(p->bhs)),
				raw_opcode(p->bhs), p->dlen,
				raw_digest_get(dig), crc);
	}
	return 1;
}

/* Checks the StatSN of a status-carrying PDU and advances ours. */
static inline void raw_take_statsn(struct raw_conn *c, const uint8_t *bhs)
{
	uint32_t statsn = raw_get32(bhs + 24);

	if (statsn != c->expstatsn)
		raw_die("%s: %s carries StatSN %u, expected %u (one more than "
			"the last status)",
			c->name, raw_opname(raw_opcode(bhs)), statsn,
			c->expstatsn);
	c->expstatsn++;
}

/* Whether the PDU is a target ping: NOP-In with ITT 0xffffffff. */
static inline bool raw_is_ping(const struct raw_pdu *p)
{
	return raw_opcode(p->bhs) == RAW_OP_NOP_IN &&
	       raw_get32(p->bhs + 16) == RAW_RSVD_TAG;
}

/* A target ping: valid TTT, StatSN not advanced (RFC 7143 §11.19). */
static inline void raw_check_ping(struct raw_conn *c, const struct raw_pdu *p)
{
	uint32_t ttt = raw_get32(p->bhs + 20);
	uint32_t statsn = raw_get32(p->bhs + 24);

	if (!(p->bhs[1] & RAW_FINAL))
		raw_die("%s: NOP-In ping without the F bit", c->name);
	if (ttt == RAW_RSVD_TAG)
		raw_die("%s: NOP-In with ITT 0xffffffff and TTT 0xffffffff: "
			"neither a ping (needs a valid TTT) nor an answer",
			c->name);
	if (statsn != c->expstatsn)
		raw_die("%s: NOP-In ping carries StatSN %u, expected the next "
			"StatSN %u",
			c->name, statsn, c->expstatsn);
}

/* The answer to a target ping (RFC 7143 §11.18): ITT 0xffffffff, the
 * ping's TTT and LUN, I bit, the CmdSN not advanced. */
static inline bool raw_answer_ping(struct raw_conn *c, const struct raw_pdu *p)
{
	uint8_t bhs[RAW_BHS] = {0};

	bhs[0] = RAW_IMMEDIATE | RAW_OP_NOP_OUT;
	bhs[1] = RAW_FINAL;
	memcpy(bhs + 8, p->bhs + 8, 8);
	raw_put32(bhs + 16, RAW_RSVD_TAG);
	memcpy(bhs + 20, p->bhs + 20, 4);
	raw_put32(bhs + 24, c->cmdsn);
	raw_put32(bhs + 28, c->expstatsn);
	return raw_send(c, bhs, p->data, p->dlen, 0);
}

/* raw_recv_pdu, answering target pings on the way when answer_pings. */
static inline int raw_recv(struct raw_conn *c, struct raw_pdu *p,
			   int timeout_ms)
{
	uint64_t deadline = raw_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = raw_now_ms();
		int r;

		if (now >= deadline)
			return -1;
		r = raw_recv_pdu(c, p, (int)(deadline - now));
		if (r <= 0 || !c->answer_pings || !raw_is_ping(p))
			return r;
		raw_check_ping(c, p);
		if (!raw_answer_ping(c, p))
			return 0;
		c->pings_answered++;
	}
}

/* ---- text keys ---- */

static inline size_t raw_add_key(char *buf, size_t len, size_t cap,
				 const char *kv)
{
	size_t n = strlen(kv) + 1;

	if (len + n > cap)
		raw_die("login text longer than %zu bytes", cap);
	memcpy(buf + len, kv, n);
	return len + n;
}

/* The target's last value for key, or NULL. */
static inline const char *raw_key(const struct raw_conn *c, const char *key)
{
	size_t klen = strlen(key), pos = 0;
	const char *found = NULL;

	while (pos < c->keys_len) {
		const char *kv = c->keys + pos;
		size_t n = strnlen(kv, c->keys_len - pos);

		if (n > klen && kv[klen] == '=' && !memcmp(kv, key, klen))
			found = kv + klen + 1;
		pos += n + 1;
	}
	return found;
}

static inline uint32_t raw_key_num(const struct raw_conn *c, const char *key,
				   uint32_t def)
{
	const char *v = raw_key(c, key);

	return v ? (uint32_t)strtoul(v, NULL, 10) : def;
}

static inline bool raw_key_yes(const struct raw_conn *c, const char *key,
			       bool def)
{
	const char *v = raw_key(c, key);

	return v ? strcmp(v, "Yes") == 0 : def;
}

/*
 * Logs in to target with AuthMethod=None: a security stage, then an
 * operational stage offering op_keys (NULL-terminated "Key=Value"
 * strings). Digests and limits the target agreed to take effect for the
 * first PDU after the final Login Response. isid_low makes the ISID
 * (random type, 0x80 0x4c 0x00 0x00 then isid_low as 16 bits).
 */
static inline void raw_login(struct raw_conn *c, const char *initiator,
			     const char *target, uint16_t isid_low,
			     const char *const *op_keys)
{
	uint8_t bhs[RAW_BHS];
	struct raw_pdu *rsp = malloc(sizeof(*rsp));
	char text[RAW_LOGIN_DSL], kv[512];
	int csg = 0, step;
	bool first_in_stage = true;
	const char *v;

	if (!rsp)
		raw_die("out of memory");
	c->isid[0] = 0x80;
	c->isid[1] = 0x4c;
	c->isid[4] = (uint8_t)(isid_low >> 8);
	c->isid[5] = (uint8_t)isid_low;
	c->cmdsn = 1;
	c->expstatsn = 0;
	c->itt = 0x100;
	c->lun = 1;
	for (step = 0; step < 8; step++) {
		int nsg = csg == 0 ? 1 : 3;
		size_t len = 0;
		uint32_t status, rsp_itt;
		int r;

		if (first_in_stage && csg == 0) {
			snprintf(kv, sizeof(kv), "InitiatorName=%s", initiator);
			len = raw_add_key(text, len, sizeof(text), kv);
			len = raw_add_key(text, len, sizeof(text),
					  "SessionType=Normal");
			snprintf(kv, sizeof(kv), "TargetName=%s", target);
			len = raw_add_key(text, len, sizeof(text), kv);
			len = raw_add_key(text, len, sizeof(text),
					  "AuthMethod=None");
		} else if (first_in_stage) {
			for (size_t i = 0; op_keys[i]; i++)
				len = raw_add_key(text, len, sizeof(text),
						  op_keys[i]);
		}
		memset(bhs, 0, sizeof(bhs));
		bhs[0] = RAW_IMMEDIATE | RAW_OP_LOGIN;
		bhs[1] = (uint8_t)(0x80 | csg << 2 | nsg); /* T bit */
		memcpy(bhs + 8, c->isid, 6);
		raw_put32(bhs + 16, c->itt);
		raw_put32(bhs + 24, c->cmdsn);
		raw_put32(bhs + 28, c->expstatsn);
		if (!raw_send(c, bhs, text, (uint32_t)len, 0))
			raw_die("%s: the target closed the connection during "
				"login",
				c->name);
		r = raw_recv_pdu(c, rsp, 10000);
		if (r <= 0)
			raw_die("%s: %s while waiting for a Login Response",
				c->name,
				r == 0 ? "the target closed the connection"
				       : "nothing for 10 s");
		status = raw_get16(rsp->bhs + 36);
		rsp_itt = raw_get32(rsp->bhs + 16);
		if (raw_opcode(rsp->bhs) != RAW_OP_LOGIN_RSP)
			raw_die("%s: %s (opcode 0x%02x) during login, expected "
				"a Login Response",
				c->name, raw_opname(raw_opcode(rsp->bhs)),
				raw_opcode(rsp->bhs));
		if (status != 0)
			raw_die("%s: login to %s refused: status class %u "
				"detail %u",
				c->name, target, status >> 8, status & 0xff);
		if (rsp_itt != c->itt)
			raw_die(
			    "%s: Login Response ITT 0x%08x, expected 0x%08x",
			    c->name, rsp_itt, c->itt);
		if (rsp->bhs[1] & 0x40)
			raw_die("%s: Login Response with the C bit: this "
				"client does not expect continued text",
				c->name);
		if (c->keys_len + rsp->dlen > sizeof(c->keys))
			raw_die("%s: too much login text", c->name);
		memcpy(c->keys + c->keys_len, rsp->data, rsp->dlen);
		c->keys_len += rsp->dlen;
		c->expstatsn = raw_get32(rsp->bhs + 24) + 1;
		c->tsih = (uint16_t)raw_get16(rsp->bhs + 14);
		first_in_stage = false;
		if (rsp->bhs[1] & 0x80) { /* T: the target moves on */
			int next = rsp->bhs[1] & 3;

			if (next == 3) {
				/* first command carries the ExpCmdSN */
				c->cmdsn = raw_get32(rsp->bhs + 28);
				break;
			}
			csg = next;
			first_in_stage = true;
		}
	}
	free(rsp);
	if (step == 8)
		raw_die("%s: login did not reach the Full Feature Phase in 8 "
			"steps",
			c->name);
	/* RFC 7143 §13 defaults for what the target did not answer */
	v = raw_key(c, "HeaderDigest");
	c->hd = v && !strcmp(v, "CRC32C");
	v = raw_key(c, "DataDigest");
	c->dd = v && !strcmp(v, "CRC32C");
	c->tgt_mrdsl = raw_key_num(c, "MaxRecvDataSegmentLength", 8192);
	c->first_burst = raw_key_num(c, "FirstBurstLength", 65536);
	c->max_burst = raw_key_num(c, "MaxBurstLength", 262144);
	c->max_r2t = raw_key_num(c, "MaxOutstandingR2T", 1);
	c->initial_r2t = raw_key_yes(c, "InitialR2T", true);
	c->immediate_data = raw_key_yes(c, "ImmediateData", true);
	c->itt = 0x1000;
	for (size_t i = 0; op_keys[i]; i++) {
		const char *k = "MaxRecvDataSegmentLength=";

		if (!strncmp(op_keys[i], k, strlen(k)))
			c->my_mrdsl =
			    (uint32_t)strtoul(op_keys[i] + strlen(k), NULL, 10);
	}
	if (c->my_mrdsl > 1u << 18)
		raw_die("this client accepts data segments of 256 KiB at most");
}

/* Checks that the target answered key with exactly want. */
static inline void raw_expect_key(const struct raw_conn *c, const char *key,
				  const char *want)
{
	const char *v = raw_key(c, key);

	if (!v || strcmp(v, want))
		raw_die("%s: login answered %s=%s, expected %s=%s", c->name,
			key, v ? v : "(nothing)", key, want);
}

/* Waits up to timeout_ms for the target to close the connection; any PDU
 * but a target ping is an error. Returns the milliseconds it took. */
static inline uint64_t raw_expect_close(struct raw_conn *c, int timeout_ms,
					const char *why)
{
	uint64_t start = raw_now_ms(), deadline = start + (uint64_t)timeout_ms;
	struct raw_pdu *p = malloc(sizeof(*p));

	if (!p)
		raw_die("out of memory");
	for (;;) {
		uint64_t now = raw_now_ms();
		int r;

		if (now >= deadline)
			raw_die("%s: the target kept the connection open for "
				"%d s %s; expected it to close it",
				c->name, timeout_ms / 1000, why);
		r = raw_recv_pdu(c, p, (int)(deadline - now));
		if (r == 0)
			break;
		if (r < 0)
			continue;
		if (raw_is_ping(p))
			continue;
		raw_die("%s: %s (opcode 0x%02x, ITT 0x%08x) %s; expected the "
			"connection to be closed without any answer",
			c->name, raw_opname(raw_opcode(p->bhs)),
			raw_opcode(p->bhs), raw_get32(p->bhs + 16), why);
	}
	free(p);
	raw_close(c);
	return raw_now_ms() - start;
}

/* Logout (close the session): Logout Response 0, then the target closes. */
static inline void raw_logout(struct raw_conn *c)
{
	uint8_t bhs[RAW_BHS] = {0};
	struct raw_pdu *p = malloc(sizeof(*p));
	uint32_t itt = c->itt++;
	int r;

	if (!p)
		raw_die("out of memory");
	bhs[0] = RAW_IMMEDIATE | RAW_OP_LOGOUT;
	bhs[1] = RAW_FINAL | 0; /* reason 0: close the session */
	raw_put32(bhs + 16, itt);
	raw_put32(bhs + 24, c->cmdsn);
	raw_put32(bhs + 28, c->expstatsn);
	if (!raw_send(c, bhs, NULL, 0, 0))
		raw_die("%s: connection lost sending Logout", c->name);
	r = raw_recv(c, p, 10000);
	if (r <= 0)
		raw_die("%s: %s after Logout", c->name,
			r == 0 ? "connection closed without a Logout Response"
			       : "no Logout Response within 10 s");
	if (raw_opcode(p->bhs) != RAW_OP_LOGOUT_RSP ||
	    raw_get32(p->bhs + 16) != itt || p->bhs[2] != 0)
		raw_die("%s: answer to Logout: %s ITT 0x%08x response %u; "
			"expected Logout Response ITT 0x%08x response 0",
			c->name, raw_opname(raw_opcode(p->bhs)),
			raw_get32(p->bhs + 16), p->bhs[2], itt);
	raw_take_statsn(c, p->bhs);
	free(p);
	raw_expect_close(c, 5000, "after a successful Logout");
}

#endif
