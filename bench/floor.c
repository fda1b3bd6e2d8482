/*
 * floor: a minimal iSCSI responder, the "floor" row of `make bench`
 * (issue 13).
 *
 * It logs in any initiator (RFC 7143, no authentication, no digests,
 * ImmediateData=Yes, InitialR2T=No, 256 KiB bursts), then answers every SCSI
 * command from canned buffers with no SCSI logic behind them: INQUIRY
 * (standard data and VPD pages 00, 80, 83, B0, B1, B2), READ CAPACITY(10/16)
 * of a 1 GiB disk of 512-byte blocks, REPORT LUNS (the LUN addressed),
 * MODE SENSE(6/10) (a caching page), TEST UNIT READY, SYNCHRONIZE CACHE and
 * friends with GOOD, READs with Data-In from one static zero buffer (status
 * collapsed into the last Data-In), WRITEs by taking immediate, unsolicited
 * and R2T-solicited data and throwing it away, anything else with CHECK
 * CONDITION ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE. NOP-Out,
 * Text (SendTargets), Task Management and Logout get their responses.
 *
 * Why: the CPU this process spends per I/O is about the least any target
 * can spend on the same socket traffic (one thread, epoll, a large receive
 * buffer parsed in place, sendmsg with iovecs, no allocation per PDU), so
 * `make bench` can show lunard's overhead above the kernel's own socket
 * cost as a number.
 *
 * Usage: floor ADDR:PORT   (runs until SIGTERM or SIGINT)
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BHS_LEN	   48
#define OUR_MRDSL  262144u /* what we declare and accept per PDU */
#define OUR_BURST  262144u /* MaxBurstLength and FirstBurstLength */
#define MAX_PDU	   (BHS_LEN + 255 * 4 + OUR_MRDSL + 4)
#define RBUF_SIZE  (1024 * 1024 + MAX_PDU)
#define NTASK	   256 /* pending writes per connection (power of two) */
#define CMD_WINDOW 127 /* MaxCmdSN = ExpCmdSN + CMD_WINDOW */
#define OUT_PAUSE  (16u << 20) /* stop parsing input above this backlog */
#define ZERO_SIZE  262144u
#define NBLOCKS	   (1ull << 21) /* 1 GiB of 512-byte blocks */
#define IOV_BATCH  256
#define TARGET_IQN "iqn.2026-11.org.lunar:floor"

/* SCSI status and sense */
#define ST_GOOD	 0x00
#define ST_CHECK 0x02
#define ST_BUSY	 0x08

static const uint8_t zero[ZERO_SIZE];
static volatile sig_atomic_t stopping;
static const char *portal; /* ADDR:PORT as given, for SendTargets */
static uint16_t next_tsih = 1;

struct task {
	bool used;
	bool unsol_done; /* no more unsolicited Data-Out will come */
	bool r2t_out;	 /* an R2T is outstanding */
	uint8_t status, skey, asc, ascq;
	uint32_t itt;
	uint32_t edtl;
	uint32_t rcvd;
	uint32_t r2tsn;
	uint8_t lun[8];
};

/* One piece of output: base == NULL means c->obuf + off. */
struct oent {
	const uint8_t *base;
	size_t off;
	size_t len;
};

struct conn {
	int fd;
	uint32_t evmask;
	bool login_started, ffp, closing, paused, discovery;
	uint8_t *rbuf;
	size_t rstart, rend;
	uint8_t *obuf;
	size_t olen, ocap;
	struct oent *oent;
	size_t nent, entcap, ehead, ehead_off;
	size_t opending; /* bytes queued, not yet sent */
	uint32_t statsn, expcmdsn;
	uint16_t tsih;
	/* negotiated */
	uint32_t mrdsl; /* the initiator's: limit for our Data-In */
	uint32_t maxburst, firstburst;
	bool initial_r2t, immediate;
	struct task task[NTASK];
};

/* a command's answer: status (+ sense) or data from a buffer */
struct reply {
	uint8_t status, skey, asc, ascq;
	const uint8_t *base; /* NULL: data in c->obuf at off */
	size_t off;
	uint64_t len;
	bool repeat; /* base is the zero buffer, reused for every PDU */
};

static inline uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint32_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void put24(uint8_t *p, uint32_t v)
{
	p[0] = v >> 16;
	p[1] = v >> 8;
	p[2] = v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "floor: out of memory\n");
		exit(1);
	}
	return p;
}

/* ---- canned SCSI data ---- */

static const uint8_t inq_std[36] = {
    0x00,		      /* direct-access block device */
    0x00,   0x06,	      /* SPC-4 */
    0x12,		      /* HiSup, response data format 2 */
    36 - 5, 0x00, 0x00, 0x02, /* CmdQue */
    'L',    'U',  'N',	'A',  'R', ' ', ' ', ' ', /* vendor */
    'F',    'L',  'O',	'O',  'R', ' ', ' ', ' ', /* product */
    ' ',    ' ',  ' ',	' ',  ' ', ' ', ' ', ' ', /* ... */
    '0',    '0',  '0',	'1',			  /* revision */
};

static const uint8_t vpd_00[] = {0x00, 0x00, 0x00, 6,	 0x00,
				 0x80, 0x83, 0xb0, 0xb1, 0xb2};

static const uint8_t vpd_80[] = {0x00, 0x80, 0x00, 12,	'f', 'l', 'o', 'o',
				 'r',  '0',  '0',  '0', '0', '0', '0', '1'};

static const uint8_t vpd_83[] = {
    0x00, 0x83, 0x00, 12 + 4 + 17,
    /* NAA 5 (IEEE registered), binary, LUN association */
    0x01, 0x03, 0x00, 8, 0x50, 0x01, 0x40, 0x50, 0x00, 0x00, 0x00, 0x01,
    /* T10 vendor ID, ASCII */
    0x02, 0x01, 0x00, 17, 'L', 'U', 'N', 'A', 'R', ' ', ' ', ' ', 'f', 'l', 'o',
    'o', 'r', '0', '0', '0', '1'};

static const uint8_t vpd_b0[64] = {
    0x00, 0xb0, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x08, /* opt. granularity 8 */
    0x00, 0x00, 0x08, 0x00, /* max transfer 2048 blocks (1 MiB) */
    0x00, 0x00, 0x00, 0x00, /* optimal transfer length: not reported */
};

static const uint8_t vpd_b1[64] = {
    0x00, 0xb1, 0x00, 0x3c, 0x00, 0x01, /* non-rotating medium */
};

static const uint8_t vpd_b2[8] = {
    0x00, 0xb2, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, /* no provisioning */
};

static const uint8_t rc10[8] = {
    (NBLOCKS - 1) >> 24,
    ((NBLOCKS - 1) >> 16) & 0xff,
    ((NBLOCKS - 1) >> 8) & 0xff,
    (NBLOCKS - 1) & 0xff,
    0x00,
    0x00,
    0x02,
    0x00, /* 512 */
};

static const uint8_t rc16[32] = {
    0x00,
    0x00,
    0x00,
    0x00,
    (NBLOCKS - 1) >> 24,
    ((NBLOCKS - 1) >> 16) & 0xff,
    ((NBLOCKS - 1) >> 8) & 0xff,
    (NBLOCKS - 1) & 0xff,
    0x00,
    0x00,
    0x02,
    0x00, /* 512 */
};

/* caching page: WCE set */
#define CACHING_PAGE                                                           \
	0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0

static const uint8_t ms6_all[4 + 20] = {4 + 20 - 1, 0, 0x10, 0, CACHING_PAGE};
static const uint8_t ms6_hdr[4] = {3, 0, 0x10, 0};
static const uint8_t ms10_all[8 + 20] = {0, 8 + 20 - 2, 0, 0x10,	0,
					 0, 0,		0, CACHING_PAGE};
static const uint8_t ms10_hdr[8] = {0, 6, 0, 0x10, 0, 0, 0, 0};

static const uint8_t sense_none[18] = {0x70, 0, 0, 0, 0, 0, 0, 10};

/* ---- output queue ---- */

static uint8_t *oreserve(struct conn *c, size_t n, size_t *off)
{
	if (c->olen + n > c->ocap) {
		size_t cap = c->ocap * 2;
		while (cap < c->olen + n)
			cap *= 2;
		c->obuf = xrealloc(c->obuf, cap);
		c->ocap = cap;
	}
	*off = c->olen;
	c->olen += n;
	return c->obuf + *off;
}

static void oqueue(struct conn *c, const uint8_t *base, size_t off, size_t len)
{
	if (!len)
		return;
	c->opending += len;
	if (c->nent > c->ehead) {
		struct oent *l = &c->oent[c->nent - 1];
		if (l->base == base && l->off + l->len == off) {
			l->len += len;
			return;
		}
	}
	if (c->nent == c->entcap) {
		c->entcap *= 2;
		c->oent = xrealloc(c->oent, c->entcap * sizeof(*c->oent));
	}
	c->oent[c->nent++] = (struct oent){base, off, len};
}

static void opad(struct conn *c, size_t len)
{
	if (len & 3)
		oqueue(c, zero, 0, 4 - (len & 3));
}

/* a zeroed BHS in obuf, queued; the pointer is valid until oreserve */
static uint8_t *new_bhs(struct conn *c, uint8_t opcode, const uint8_t *req)
{
	size_t off;
	uint8_t *h = oreserve(c, BHS_LEN, &off);
	memset(h, 0, BHS_LEN);
	h[0] = opcode;
	memcpy(h + 16, req + 16, 4); /* ITT */
	oqueue(c, NULL, off, BHS_LEN);
	return h;
}

static void put_sns(struct conn *c, uint8_t *h, bool advance)
{
	put32(h + 24, c->statsn);
	if (advance)
		c->statsn++;
	put32(h + 28, c->expcmdsn);
	put32(h + 32, c->expcmdsn + CMD_WINDOW);
}

/* 0 when all is sent or the socket is full, -1 on error */
static int oflush(struct conn *c)
{
	while (c->ehead < c->nent) {
		struct iovec iov[IOV_BATCH];
		size_t n = 0, skip = c->ehead_off;
		for (size_t i = c->ehead; i < c->nent && n < IOV_BATCH;
		     i++, n++) {
			const struct oent *e = &c->oent[i];
			const uint8_t *p =
			    (e->base ? e->base : c->obuf) + e->off + skip;
			iov[n].iov_base = (void *)p;
			iov[n].iov_len = e->len - skip;
			skip = 0;
		}
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = n};
		ssize_t r = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		size_t left = (size_t)r;
		c->opending -= left;
		while (left) {
			const struct oent *e = &c->oent[c->ehead];
			size_t rem = e->len - c->ehead_off;
			if (left >= rem) {
				left -= rem;
				c->ehead++;
				c->ehead_off = 0;
			} else {
				c->ehead_off += left;
				left = 0;
			}
		}
	}
	c->nent = c->ehead = c->ehead_off = 0;
	c->olen = 0;
	c->paused = false;
	return 0;
}

/* ---- text keys ---- */

static void add_key(struct conn *c, const char *k, const char *v)
{
	size_t kl = strlen(k), vl = strlen(v), off;
	uint8_t *p = oreserve(c, kl + vl + 2, &off);
	memcpy(p, k, kl);
	p[kl] = '=';
	memcpy(p + kl + 1, v, vl);
	p[kl + 1 + vl] = 0;
}

static void add_num(struct conn *c, const char *k, unsigned long v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%lu", v);
	add_key(c, k, buf);
}

static unsigned long num(const char *v)
{
	return strtoul(v, NULL, 0);
}

static bool has_word(const char *list, const char *w)
{
	size_t wl = strlen(w);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == wl && !strncmp(p, w, wl))
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

static unsigned long min_ul(unsigned long a, unsigned long b)
{
	return a < b ? a : b;
}

/* Answer one key=value the initiator sent, appending to obuf. */
static void negotiate_key(struct conn *c, const char *k, const char *v)
{
	if (!strcmp(k, "InitiatorName") || !strcmp(k, "InitiatorAlias") ||
	    !strcmp(k, "TargetName") || !strcmp(k, "TargetAlias") ||
	    !strcmp(k, "TargetAddress") || !strcmp(k, "TargetPortalGroupTag"))
		return; /* declarations: nothing to answer */
	if (!strcmp(k, "SessionType")) {
		c->discovery = !strcmp(v, "Discovery");
		return;
	}
	if (!strcmp(k, "AuthMethod")) {
		add_key(c, k, has_word(v, "None") ? "None" : "Reject");
	} else if (!strcmp(k, "HeaderDigest") || !strcmp(k, "DataDigest")) {
		add_key(c, k, has_word(v, "None") ? "None" : "Reject");
	} else if (!strcmp(k, "InitialR2T")) {
		/* OR: Yes if either side wants it; we say No */
		c->initial_r2t = !strcmp(v, "Yes");
		add_key(c, k, c->initial_r2t ? "Yes" : "No");
	} else if (!strcmp(k, "ImmediateData")) {
		/* AND: we say Yes */
		c->immediate = !strcmp(v, "Yes");
		add_key(c, k, c->immediate ? "Yes" : "No");
	} else if (!strcmp(k, "MaxRecvDataSegmentLength")) {
		unsigned long n = num(v);
		if (n < 512)
			n = 512;
		if (n > 16777215)
			n = 16777215;
		c->mrdsl = n;
		add_num(c, k, OUR_MRDSL);
	} else if (!strcmp(k, "MaxBurstLength")) {
		c->maxburst = min_ul(num(v), OUR_BURST);
		if (c->maxburst < 512)
			c->maxburst = 512;
		add_num(c, k, c->maxburst);
	} else if (!strcmp(k, "FirstBurstLength")) {
		c->firstburst = min_ul(num(v), OUR_BURST);
		if (c->firstburst < 512)
			c->firstburst = 512;
		add_num(c, k, c->firstburst);
	} else if (!strcmp(k, "MaxConnections")) {
		add_num(c, k, 1);
	} else if (!strcmp(k, "ErrorRecoveryLevel")) {
		add_num(c, k, 0);
	} else if (!strcmp(k, "DefaultTime2Wait")) {
		unsigned long n = num(v);
		add_num(c, k, n > 2 ? n : 2); /* max */
	} else if (!strcmp(k, "DefaultTime2Retain")) {
		add_num(c, k, 0); /* min */
	} else if (!strcmp(k, "MaxOutstandingR2T")) {
		add_num(c, k, 1);
	} else if (!strcmp(k, "DataPDUInOrder") ||
		   !strcmp(k, "DataSequenceInOrder")) {
		add_key(c, k, "Yes"); /* OR with our Yes */
	} else if (!strcmp(k, "IFMarker") || !strcmp(k, "OFMarker")) {
		add_key(c, k, "No");
	} else if (!strcmp(k, "IFMarkInt") || !strcmp(k, "OFMarkInt")) {
		add_key(c, k, "Irrelevant");
	} else if (!strcmp(k, "SendTargets")) {
		add_key(c, "TargetName", TARGET_IQN);
		char addr[300];
		snprintf(addr, sizeof(addr), "%s,1", portal);
		add_key(c, "TargetAddress", addr);
	} else {
		add_key(c, k, "NotUnderstood");
	}
}

/* Answer every key in a text data segment, appending to obuf. */
static void negotiate(struct conn *c, const uint8_t *data, uint32_t dsl)
{
	char kv[8192 + 256];
	size_t i = 0;
	while (i < dsl) {
		size_t l = 0;
		while (i + l < dsl && data[i + l])
			l++;
		if (l && l < sizeof(kv)) {
			memcpy(kv, data + i, l);
			kv[l] = 0;
			char *eq = strchr(kv, '=');
			if (eq) {
				*eq = 0;
				negotiate_key(c, kv, eq + 1);
			}
		}
		i += l + 1;
	}
}

/* ---- PDU handlers ---- */

static void advance_cmdsn(struct conn *c, const uint8_t *h)
{
	if (!(h[0] & 0x40))
		c->expcmdsn = get32(h + 24) + 1;
}

static int do_login(struct conn *c, const uint8_t *h, const uint8_t *data,
		    uint32_t dsl)
{
	bool first = !c->login_started;
	if (first) {
		c->login_started = true;
		c->expcmdsn = get32(h + 24);
		c->statsn = 1;
	}
	bool transit = h[1] & 0x80;
	unsigned csg = (h[1] >> 2) & 3, nsg = h[1] & 3;

	size_t hoff, toff;
	oreserve(c, BHS_LEN, &hoff);
	toff = c->olen;
	negotiate(c, data, dsl);
	if (first && !c->discovery)
		add_num(c, "TargetPortalGroupTag", 1);
	size_t tlen = c->olen - toff;
	if (tlen & 3) {
		size_t poff;
		memset(oreserve(c, 4 - (tlen & 3), &poff), 0, 4 - (tlen & 3));
	}

	uint8_t *r = c->obuf + hoff;
	memset(r, 0, BHS_LEN);
	r[0] = 0x23;
	r[1] = transit ? (0x80 | csg << 2 | nsg) : (csg << 2);
	put24(r + 5, tlen);
	memcpy(r + 8, h + 8, 6); /* ISID */
	memcpy(r + 16, h + 16, 4);
	if (transit && nsg == 3) {
		uint16_t tsih = get16(h + 14);
		if (!tsih) {
			tsih = next_tsih++;
			if (!next_tsih)
				next_tsih = 1;
		}
		c->tsih = tsih;
		put16(r + 14, tsih);
		c->ffp = true;
	}
	put_sns(c, r, true);
	oqueue(c, NULL, hoff, c->olen - hoff);
	return 0;
}

static void do_text(struct conn *c, const uint8_t *h, const uint8_t *data,
		    uint32_t dsl)
{
	advance_cmdsn(c, h);
	size_t hoff, toff;
	oreserve(c, BHS_LEN, &hoff);
	toff = c->olen;
	negotiate(c, data, dsl);
	size_t tlen = c->olen - toff;
	if (tlen & 3) {
		size_t poff;
		memset(oreserve(c, 4 - (tlen & 3), &poff), 0, 4 - (tlen & 3));
	}
	uint8_t *r = c->obuf + hoff;
	memset(r, 0, BHS_LEN);
	r[0] = 0x24;
	r[1] = 0x80;
	put24(r + 5, tlen);
	memcpy(r + 8, h + 8, 8);
	memcpy(r + 16, h + 16, 4);
	put32(r + 20, 0xffffffff);
	put_sns(c, r, true);
	oqueue(c, NULL, hoff, c->olen - hoff);
}

static void do_nop(struct conn *c, const uint8_t *h, const uint8_t *data,
		   uint32_t dsl)
{
	advance_cmdsn(c, h);
	if (get32(h + 16) == 0xffffffff)
		return; /* an answer to a NOP-In of ours (we send none) */
	size_t doff = 0;
	if (dsl) {
		uint8_t *d = oreserve(c, pad4(dsl), &doff);
		memcpy(d, data, dsl);
		memset(d + dsl, 0, pad4(dsl) - dsl);
	}
	uint8_t *r = new_bhs(c, 0x20, h);
	r[1] = 0x80;
	put24(r + 5, dsl);
	memcpy(r + 8, h + 8, 8);
	put32(r + 20, 0xffffffff);
	put_sns(c, r, true);
	if (dsl)
		oqueue(c, NULL, doff, pad4(dsl));
}

static void scsi_resp(struct conn *c, const uint8_t *h, uint8_t status,
		      uint8_t skey, uint8_t asc, uint8_t ascq, uint8_t rflags,
		      uint32_t resid, uint32_t expdatasn)
{
	uint8_t *r = new_bhs(c, 0x21, h);
	r[1] = 0x80 | rflags;
	r[3] = status;
	put_sns(c, r, true);
	put32(r + 36, expdatasn);
	put32(r + 44, resid);
	if (status == ST_CHECK) {
		put24(r + 5, 20);
		size_t off;
		uint8_t *s = oreserve(c, 20, &off);
		memset(s, 0, 20);
		put16(s, 18);
		s[2] = 0x70;
		s[4] = skey;
		s[9] = 10;
		s[14] = asc;
		s[15] = ascq;
		oqueue(c, NULL, off, 20);
	}
}

static void data_in(struct conn *c, const uint8_t *h, const struct reply *rp)
{
	uint32_t edtl = get32(h + 20);
	uint32_t send = rp->len < edtl ? (uint32_t)rp->len : edtl;
	uint8_t rflags = 0;
	uint32_t resid = 0;
	if (rp->len > edtl) {
		rflags = 0x04;
		uint64_t over = rp->len - edtl;
		resid = over > 0xffffffff ? 0xffffffff : (uint32_t)over;
	} else if (rp->len < edtl) {
		rflags = 0x02;
		resid = edtl - (uint32_t)rp->len;
	}
	if (!send) {
		scsi_resp(c, h, rp->status, 0, 0, 0, rflags, resid, 0);
		return;
	}
	uint32_t chunk = c->mrdsl;
	if (rp->repeat && chunk > ZERO_SIZE)
		chunk = ZERO_SIZE;
	uint32_t off = 0, datasn = 0, burst = 0;
	while (off < send) {
		uint32_t n = send - off;
		if (n > chunk)
			n = chunk;
		if (n > c->maxburst - burst)
			n = c->maxburst - burst;
		bool last = off + n == send;
		burst += n;
		bool fbit = last || burst == c->maxburst;
		if (burst == c->maxburst)
			burst = 0;
		uint8_t *r = new_bhs(c, 0x25, h);
		r[1] = (fbit ? 0x80 : 0) | (last ? 0x01 | rflags : 0);
		put24(r + 5, n);
		memcpy(r + 8, h + 8, 8);
		put32(r + 20, 0xffffffff);
		if (last) {
			r[3] = rp->status;
			put_sns(c, r, true);
			put32(r + 44, resid);
		} else {
			put32(r + 28, c->expcmdsn);
			put32(r + 32, c->expcmdsn + CMD_WINDOW);
		}
		put32(r + 36, datasn++);
		put32(r + 40, off);
		if (rp->repeat)
			oqueue(c, rp->base, 0, n);
		else
			oqueue(c, rp->base, rp->off + off, n);
		opad(c, n);
		off += n;
	}
}

static void check(struct reply *rp, uint8_t skey, uint8_t asc, uint8_t ascq)
{
	rp->status = ST_CHECK;
	rp->skey = skey;
	rp->asc = asc;
	rp->ascq = ascq;
	rp->base = NULL;
	rp->len = 0;
}

static void canned(struct reply *rp, const uint8_t *buf, size_t len,
		   uint32_t alloc)
{
	rp->base = buf;
	rp->off = 0;
	rp->len = len < alloc ? len : alloc;
}

static void inquiry(struct reply *rp, const uint8_t *cdb)
{
	uint32_t alloc = get16(cdb + 3);
	if (!(cdb[1] & 1)) {
		if (cdb[2])
			check(rp, 0x05, 0x24, 0x00);
		else
			canned(rp, inq_std, sizeof(inq_std), alloc);
		return;
	}
	switch (cdb[2]) {
	case 0x00:
		canned(rp, vpd_00, sizeof(vpd_00), alloc);
		break;
	case 0x80:
		canned(rp, vpd_80, sizeof(vpd_80), alloc);
		break;
	case 0x83:
		canned(rp, vpd_83, sizeof(vpd_83), alloc);
		break;
	case 0xb0:
		canned(rp, vpd_b0, sizeof(vpd_b0), alloc);
		break;
	case 0xb1:
		canned(rp, vpd_b1, sizeof(vpd_b1), alloc);
		break;
	case 0xb2:
		canned(rp, vpd_b2, sizeof(vpd_b2), alloc);
		break;
	default:
		check(rp, 0x05, 0x24, 0x00);
	}
}

static struct task *task_find(struct conn *c, uint32_t itt)
{
	struct task *t = &c->task[itt & (NTASK - 1)];
	if (t->used && t->itt == itt)
		return t;
	for (int i = 0; i < NTASK; i++)
		if (c->task[i].used && c->task[i].itt == itt)
			return &c->task[i];
	return NULL;
}

static struct task *task_new(struct conn *c, uint32_t itt)
{
	for (int i = 0; i < NTASK; i++) {
		struct task *t = &c->task[(itt + i) & (NTASK - 1)];
		if (!t->used) {
			memset(t, 0, sizeof(*t));
			t->used = true;
			t->itt = itt;
			return t;
		}
	}
	return NULL;
}

/* Send the next R2T or the final response once all data is in. */
static void write_advance(struct conn *c, struct task *t)
{
	if (!t->unsol_done || t->r2t_out)
		return;
	if (t->rcvd >= t->edtl) {
		uint8_t h[BHS_LEN] = {0};
		put32(h + 16, t->itt);
		scsi_resp(c, h, t->status, t->skey, t->asc, t->ascq, 0, 0,
			  t->r2tsn);
		t->used = false;
		return;
	}
	uint32_t len = t->edtl - t->rcvd;
	if (len > c->maxburst)
		len = c->maxburst;
	uint8_t *r;
	{
		uint8_t h[BHS_LEN] = {0};
		put32(h + 16, t->itt);
		r = new_bhs(c, 0x31, h);
	}
	r[1] = 0x80;
	memcpy(r + 8, t->lun, 8);
	put32(r + 20, (uint32_t)(t - c->task)); /* TTT */
	put_sns(c, r, false);
	put32(r + 36, t->r2tsn++);
	put32(r + 40, t->rcvd);
	put32(r + 44, len);
	t->r2t_out = true;
}

static void scsi_write(struct conn *c, const uint8_t *h, uint32_t dsl,
		       const struct reply *rp)
{
	uint32_t edtl = get32(h + 20);
	if (dsl >= edtl) {
		scsi_resp(c, h, rp->status, rp->skey, rp->asc, rp->ascq, 0, 0,
			  0);
		return;
	}
	struct task *t = task_new(c, get32(h + 16));
	if (!t) {
		scsi_resp(c, h, ST_BUSY, 0, 0, 0, 0x02, edtl, 0);
		return;
	}
	t->status = rp->status;
	t->skey = rp->skey;
	t->asc = rp->asc;
	t->ascq = rp->ascq;
	t->edtl = edtl;
	t->rcvd = dsl;
	memcpy(t->lun, h + 8, 8);
	/* unsolicited Data-Out follow unless InitialR2T or the F bit */
	t->unsol_done = c->initial_r2t || (h[1] & 0x80) ||
			dsl >= (edtl < c->firstburst ? edtl : c->firstburst);
	write_advance(c, t);
}

static void do_data_out(struct conn *c, const uint8_t *h, uint32_t dsl)
{
	struct task *t = task_find(c, get32(h + 16));
	if (!t)
		return; /* for a command already answered: discard */
	t->rcvd += dsl;
	if (h[1] & 0x80) {
		if (get32(h + 20) == 0xffffffff)
			t->unsol_done = true;
		else
			t->r2t_out = false;
	}
	write_advance(c, t);
}

static void do_scsi(struct conn *c, const uint8_t *h, const uint8_t *data,
		    uint32_t dsl)
{
	advance_cmdsn(c, h);
	const uint8_t *cdb = h + 32;
	struct reply rp = {.status = ST_GOOD};
	uint64_t blocks = 0;

	switch (cdb[0]) {
	case 0x00: /* TEST UNIT READY */
	case 0x1b: /* START STOP UNIT */
	case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
	case 0x2f: /* VERIFY(10) */
	case 0x8f: /* VERIFY(16) */
	case 0x35: /* SYNCHRONIZE CACHE(10) */
	case 0x91: /* SYNCHRONIZE CACHE(16) */
	case 0x0a: /* WRITE(6) */
	case 0x2a: /* WRITE(10) */
	case 0xaa: /* WRITE(12) */
	case 0x8a: /* WRITE(16) */
	case 0x2e: /* WRITE AND VERIFY(10) */
	case 0x8e: /* WRITE AND VERIFY(16) */
		break;
	case 0x03: /* REQUEST SENSE */
		canned(&rp, sense_none, sizeof(sense_none), cdb[4]);
		break;
	case 0x12:
		inquiry(&rp, cdb);
		break;
	case 0x1a: /* MODE SENSE(6) */
		if ((cdb[2] & 0x3f) == 0x3f || (cdb[2] & 0x3f) == 0x08)
			canned(&rp, ms6_all, sizeof(ms6_all), cdb[4]);
		else
			canned(&rp, ms6_hdr, sizeof(ms6_hdr), cdb[4]);
		break;
	case 0x5a: /* MODE SENSE(10) */
		if ((cdb[2] & 0x3f) == 0x3f || (cdb[2] & 0x3f) == 0x08)
			canned(&rp, ms10_all, sizeof(ms10_all), get16(cdb + 7));
		else
			canned(&rp, ms10_hdr, sizeof(ms10_hdr), get16(cdb + 7));
		break;
	case 0x25: /* READ CAPACITY(10) */
		canned(&rp, rc10, sizeof(rc10), sizeof(rc10));
		break;
	case 0x9e: /* SERVICE ACTION IN(16) */
		if ((cdb[1] & 0x1f) == 0x10)
			canned(&rp, rc16, sizeof(rc16), get32(cdb + 10));
		else
			check(&rp, 0x05, 0x20, 0x00);
		break;
	case 0xa0: { /* REPORT LUNS: the LUN addressed */
		size_t off;
		uint8_t *d = oreserve(c, 16, &off);
		memset(d, 0, 8);
		put32(d, 8);
		memcpy(d + 8, h + 8, 8);
		rp.base = NULL;
		rp.off = off;
		rp.len = get32(cdb + 6) < 16 ? get32(cdb + 6) : 16;
		break;
	}
	case 0x08: /* READ(6) */
		blocks = cdb[4] ? cdb[4] : 256;
		goto read;
	case 0x28: /* READ(10) */
		blocks = get16(cdb + 7);
		goto read;
	case 0xa8: /* READ(12) */
		blocks = get32(cdb + 6);
		goto read;
	case 0x88: /* READ(16) */
		blocks = get32(cdb + 10);
	read:
		rp.base = zero;
		rp.repeat = true;
		rp.len = blocks * 512;
		break;
	default:
		check(&rp, 0x05, 0x20, 0x00);
	}

	if (h[1] & 0x20) {
		scsi_write(c, h, dsl, &rp);
		return;
	}
	if (rp.status != ST_GOOD || !rp.len) {
		uint32_t edtl = get32(h + 20);
		bool under = (h[1] & 0x40) && edtl;
		scsi_resp(c, h, rp.status, rp.skey, rp.asc, rp.ascq,
			  under ? 0x02 : 0, under ? edtl : 0, 0);
		return;
	}
	data_in(c, h, &rp);
}

static void do_tmf(struct conn *c, const uint8_t *h)
{
	advance_cmdsn(c, h);
	unsigned fn = h[1] & 0x7f;
	if (fn == 1) { /* ABORT TASK */
		struct task *t = task_find(c, get32(h + 20));
		if (t)
			t->used = false;
	} else if (fn != 3) { /* everything but CLEAR ACA */
		for (int i = 0; i < NTASK; i++)
			c->task[i].used = false;
	}
	uint8_t *r = new_bhs(c, 0x22, h);
	r[1] = 0x80;
	r[2] = 0; /* function complete */
	put_sns(c, r, true);
}

static void do_logout(struct conn *c, const uint8_t *h)
{
	advance_cmdsn(c, h);
	uint8_t *r = new_bhs(c, 0x26, h);
	r[1] = 0x80;
	put_sns(c, r, true);
	c->closing = true;
}

static void do_reject(struct conn *c, const uint8_t *h, uint8_t reason)
{
	size_t off;
	uint8_t *d = oreserve(c, BHS_LEN, &off);
	memcpy(d, h, BHS_LEN);
	uint8_t *r = new_bhs(c, 0x3f, h);
	r[1] = 0x80;
	r[2] = reason;
	put24(r + 5, BHS_LEN);
	put32(r + 16, 0xffffffff);
	put_sns(c, r, true);
	oqueue(c, NULL, off, BHS_LEN);
}

static int handle_pdu(struct conn *c, const uint8_t *h, const uint8_t *data,
		      uint32_t dsl)
{
	uint8_t op = h[0] & 0x3f;
	if (!c->ffp) {
		if (op != 0x03)
			return -1;
		return do_login(c, h, data, dsl);
	}
	switch (op) {
	case 0x00:
		do_nop(c, h, data, dsl);
		break;
	case 0x01:
		do_scsi(c, h, data, dsl);
		break;
	case 0x02:
		do_tmf(c, h);
		break;
	case 0x04:
		do_text(c, h, data, dsl);
		break;
	case 0x05:
		do_data_out(c, h, dsl);
		break;
	case 0x06:
		do_logout(c, h);
		break;
	case 0x10: /* SNACK: nothing to resend at ErrorRecoveryLevel 0 */
		break;
	default:
		do_reject(c, h, 0x04);
	}
	return 0;
}

/* Parse and answer every complete PDU in rbuf. */
static int process(struct conn *c)
{
	while (!c->closing && !c->paused) {
		size_t avail = c->rend - c->rstart;
		if (avail < BHS_LEN)
			break;
		const uint8_t *h = c->rbuf + c->rstart;
		uint32_t dsl = get24(h + 5);
		size_t ahs = (size_t)h[4] * 4;
		if (dsl > OUR_MRDSL)
			return -1;
		size_t total = BHS_LEN + ahs + pad4(dsl);
		if (avail < total)
			break;
		if (handle_pdu(c, h, h + BHS_LEN + ahs, dsl) < 0)
			return -1;
		c->rstart += total;
		if (c->opending > OUT_PAUSE)
			c->paused = true;
	}
	if (c->rstart == c->rend) {
		c->rstart = c->rend = 0;
	} else if (RBUF_SIZE - c->rstart < MAX_PDU) {
		memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
		c->rend -= c->rstart;
		c->rstart = 0;
	}
	return 0;
}

/* ---- event loop ---- */

static int epfd;

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->rbuf);
	free(c->obuf);
	free(c->oent);
	free(c);
}

static void conn_event(struct conn *c, uint32_t ev)
{
	if (ev & EPOLLOUT) {
		if (oflush(c) < 0)
			goto out;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (c->paused || c->closing) {
			if (ev & (EPOLLHUP | EPOLLERR))
				goto out;
		} else {
			ssize_t n =
			    read(c->fd, c->rbuf + c->rend, RBUF_SIZE - c->rend);
			if (n == 0)
				goto out;
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				goto out;
			if (n > 0)
				c->rend += (size_t)n;
		}
	}
	if (process(c) < 0)
		goto out;
	if (oflush(c) < 0)
		goto out;
	if (c->closing && c->ehead == c->nent)
		goto out;
	uint32_t want = 0;
	if (!c->closing && !c->paused)
		want |= EPOLLIN;
	if (c->ehead < c->nent)
		want |= EPOLLOUT;
	if (want != c->evmask) {
		struct epoll_event e = {.events = want, .data.ptr = c};
		if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
			goto out;
		c->evmask = want;
	}
	return;
out:
	conn_close(c);
}

static void accept_all(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				perror("floor: accept");
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->rbuf = xrealloc(NULL, RBUF_SIZE);
		c->ocap = 65536;
		c->obuf = xrealloc(NULL, c->ocap);
		c->entcap = 256;
		c->oent = xrealloc(NULL, c->entcap * sizeof(*c->oent));
		/* RFC 7143 defaults until negotiated */
		c->mrdsl = 8192;
		c->maxburst = 262144;
		c->firstburst = 65536;
		c->initial_r2t = true;
		c->immediate = true;
		c->evmask = EPOLLIN;
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			perror("floor: epoll_ctl");
			conn_close(c);
		}
	}
}

static void on_signal(int sig)
{
	stopping = 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: floor ADDR:PORT\n");
		return 2;
	}
	portal = argv[1];
	char host[256];
	const char *colon = strrchr(argv[1], ':');
	if (!colon || (size_t)(colon - argv[1]) >= sizeof(host)) {
		fprintf(stderr, "floor: expected ADDR:PORT, got %s\n", argv[1]);
		return 2;
	}
	memcpy(host, argv[1], colon - argv[1]);
	host[colon - argv[1]] = 0;
	char *hp = host;
	if (hp[0] == '[') { /* [v6]:port */
		hp++;
		char *e = strchr(hp, ']');
		if (e)
			*e = 0;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
					     AI_PASSIVE},
			*ai;
	int err = getaddrinfo(hp, colon + 1, &hints, &ai);
	if (err) {
		fprintf(stderr, "floor: %s: %s\n", argv[1], gai_strerror(err));
		return 2;
	}
	int lfd = socket(ai->ai_family,
			 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(lfd, 128) < 0) {
		fprintf(stderr, "floor: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	freeaddrinfo(ai);

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le) < 0) {
		perror("floor: epoll");
		return 1;
	}
	while (!stopping) {
		struct epoll_event ev[64];
		int n = epoll_wait(epfd, ev, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("floor: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (!ev[i].data.ptr)
				accept_all(lfd);
			else
				conn_event(ev[i].data.ptr, ev[i].events);
		}
	}
	return 0;
}
