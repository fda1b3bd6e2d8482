/*
 * fuzz_seeds: writes the starting corpus of fuzz_iscsi, one file per
 * scenario, each the bytes a well-behaved initiator would send on one
 * connection to the daemon fuzz_iscsi.c configures (built from RFC 7143's
 * PDU formats with the helpers of tests/integration/iscsi_raw.h). The
 * fuzzer mutates these into the malformed streams; starting from valid
 * sessions lets it reach the SCSI commands behind the login.
 *
 * Usage: fuzz_seeds DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../integration/iscsi_raw.h"

#define TARGET	  "iqn.2026-01.org.lunar:fuzz"
#define INITIATOR "iqn.2026-01.org.lunar:fuzz-init"

struct seed {
	uint8_t buf[1 << 17];
	size_t len;
	uint32_t cmdsn, itt, statsn;
	uint32_t ttt; /* the daemon's next Target Transfer Tag */
	bool hd, dd;
	bool r2t; /* InitialR2T=Yes, ImmediateData=No */
};

static const char *out_dir;

static void append(struct seed *s, const void *p, size_t n)
{
	if (s->len + n > sizeof(s->buf))
		raw_die("seed too large");
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

/* One PDU: BHS (+ header digest), data, pad (+ data digest). */
static void pdu(struct seed *s, uint8_t *bhs, const void *data, uint32_t dlen)
{
	static const uint8_t zero[4];
	uint8_t d[4];

	bhs[4] = 0;
	raw_put24(bhs + 5, dlen);
	append(s, bhs, RAW_BHS);
	if (s->hd) {
		raw_digest_put(d, raw_crc32c(bhs, RAW_BHS));
		append(s, d, 4);
	}
	if (!dlen)
		return;
	append(s, data, dlen);
	append(s, zero, raw_pad(dlen));
	if (s->dd) {
		uint32_t crc = raw_crc32c_update(0xffffffffu, data, dlen);

		crc = raw_crc32c_update(crc, zero, raw_pad(dlen));
		raw_digest_put(d, ~crc);
		append(s, d, 4);
	}
}

static void bhs_init(uint8_t *b, uint8_t op, uint8_t flags, uint32_t itt)
{
	memset(b, 0, RAW_BHS);
	b[0] = op;
	b[1] = flags;
	raw_put32(b + 16, itt);
}

/* keys: "K=V\0K=V\0...", klen bytes. */
static void login_pdu(struct seed *s, uint8_t csg, uint8_t nsg, bool transit,
		      const char *keys, size_t klen)
{
	uint8_t b[RAW_BHS];

	bhs_init(b, RAW_OP_LOGIN | RAW_IMMEDIATE,
		 (uint8_t)((transit ? 0x80 : 0) | csg << 2 | nsg), s->itt++);
	b[8] = 0x80; /* ISID: random format */
	b[13] = 0x01;
	raw_put32(b + 24, s->cmdsn);
	raw_put32(b + 28, s->statsn);
	pdu(s, b, keys, (uint32_t)klen);
	s->statsn++;
}

#define KEYS(lit) lit, sizeof(lit) - 1

static void login_normal(struct seed *s, const char *target, bool r2t,
			 bool digests)
{
	char keys[1024];
	int n;

	n = snprintf(keys, sizeof(keys),
		     "InitiatorName=" INITIATOR "%cTargetName=%s%c"
		     "SessionType=Normal%cHeaderDigest=%s%cDataDigest=%s%c"
		     "ImmediateData=%s%cInitialR2T=%s%c"
		     "MaxRecvDataSegmentLength=65536%cFirstBurstLength=65536%c"
		     "MaxBurstLength=262144%cErrorRecoveryLevel=0%c"
		     "MaxOutstandingR2T=1%cDataPDUInOrder=Yes%c"
		     "DataSequenceInOrder=Yes%c",
		     0, target, 0, 0, digests ? "CRC32C" : "None", 0,
		     digests ? "CRC32C" : "None", 0, r2t ? "No" : "Yes", 0,
		     r2t ? "Yes" : "No", 0, 0, 0, 0, 0, 0, 0, 0);
	login_pdu(s, 1, 3, true, keys, (size_t)n);
	s->r2t = r2t;
	/* digests start with the first PDU after the final login response */
	s->hd = s->dd = digests;
	/* TEST UNIT READY takes the unit attentions of a new nexus (power on,
	 * nexus loss, what earlier sessions changed) */
	for (int i = 0; i < 10; i++) {
		uint8_t b[RAW_BHS];

		bhs_init(b, RAW_OP_SCSI_CMD, RAW_FINAL | 1, s->itt++);
		raw_put16(b + 8, (uint32_t)i / 2); /* LUNs 0-4, twice each */
		raw_put32(b + 24, s->cmdsn++);
		raw_put32(b + 28, s->statsn++);
		pdu(s, b, NULL, 0);
	}
}

static void logout(struct seed *s)
{
	uint8_t b[RAW_BHS];

	bhs_init(b, RAW_OP_LOGOUT | RAW_IMMEDIATE, 0x80, s->itt++);
	raw_put32(b + 24, s->cmdsn);
	raw_put32(b + 28, s->statsn);
	pdu(s, b, NULL, 0);
}

static uint8_t pattern[65536];

/* A SCSI command with imm bytes of immediate data from data; final: no
 * unsolicited Data-Out follows. */
static uint32_t scsi_data(struct seed *s, uint16_t lun, const uint8_t *cdb,
			  size_t cdblen, bool rd, bool wr, uint32_t edtl,
			  const void *data, uint32_t imm, bool final)
{
	uint8_t b[RAW_BHS];
	uint32_t itt = s->itt++;

	bhs_init(b, RAW_OP_SCSI_CMD,
		 (uint8_t)((final ? RAW_FINAL : 0) | (rd ? 0x40 : 0) |
			   (wr ? 0x20 : 0) | 1),
		 itt);
	raw_put16(b + 8, lun);
	raw_put32(b + 20, edtl);
	raw_put32(b + 24, s->cmdsn++);
	raw_put32(b + 28, s->statsn++);
	memcpy(b + 32, cdb, cdblen);
	pdu(s, b, data, imm);
	return itt;
}

/* The same with the data from pattern. */
static uint32_t scsi(struct seed *s, uint16_t lun, const uint8_t *cdb,
		     size_t cdblen, bool rd, bool wr, uint32_t edtl,
		     uint32_t imm, bool final)
{
	return scsi_data(s, lun, cdb, cdblen, rd, wr, edtl, pattern, imm,
			 final);
}

static void data_out(struct seed *s, uint16_t lun, uint32_t itt, uint32_t ttt,
		     uint32_t datasn, uint32_t offset, uint32_t len, bool final)
{
	uint8_t b[RAW_BHS];

	bhs_init(b, RAW_OP_DATA_OUT, final ? RAW_FINAL : 0, itt);
	raw_put16(b + 8, lun);
	raw_put32(b + 20, ttt);
	raw_put32(b + 28, s->statsn);
	raw_put32(b + 36, datasn);
	raw_put32(b + 40, offset);
	pdu(s, b, pattern + offset, len);
}

/* A write command with len bytes: immediate data, or (InitialR2T=Yes)
 * one solicited Data-Out answering the daemon's R2T. */
static uint32_t write_cmd(struct seed *s, uint16_t lun, const uint8_t *cdb,
			  uint32_t len)
{
	uint32_t itt;

	if (!s->r2t)
		return scsi(s, lun, cdb, 16, false, true, len, len, true);
	itt = scsi(s, lun, cdb, 16, false, true, len, 0, true);
	data_out(s, lun, itt, s->ttt++, 0, 0, len, true);
	return itt;
}

#define CDB(...)                                                               \
	(const uint8_t[16])                                                    \
	{                                                                      \
		__VA_ARGS__                                                    \
	}
#define IN(s, lun, len, ...)                                                   \
	scsi(s, lun, CDB(__VA_ARGS__), 16, true, false, len, 0, true)
#define NOD(s, lun, ...)                                                       \
	scsi(s, lun, CDB(__VA_ARGS__), 16, false, false, 0, 0, true)
#define OUT(s, lun, len, ...) write_cmd(s, lun, CDB(__VA_ARGS__), len)

static void save(const struct seed *s, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0)
		raw_die("cannot write %s: %s", path, strerror(errno));
}

static void seed_init(struct seed *s)
{
	memset(s, 0, sizeof(*s));
	s->itt = 1;
	s->ttt = 1;
}

static void discovery(void)
{
	static struct seed s;
	uint8_t b[RAW_BHS];

	seed_init(&s);
	login_pdu(&s, 1, 3, true,
		  KEYS("InitiatorName=" INITIATOR "\0SessionType=Discovery\0"
		       "HeaderDigest=None\0DataDigest=None\0"));
	bhs_init(b, 0x04 | RAW_IMMEDIATE, RAW_FINAL, s.itt++);
	raw_put32(b + 20, RAW_RSVD_TAG);
	raw_put32(b + 24, s.cmdsn);
	raw_put32(b + 28, s.statsn++);
	pdu(&s, b, KEYS("SendTargets=All\0"));
	logout(&s);
	save(&s, "discovery");
}

/* INQUIRY and the other commands an initiator sends when it finds a LU. */
static void probe(uint16_t lun, const char *name)
{
	static struct seed s;
	static const uint8_t vpd[] = {0x00, 0x80, 0x83, 0x86,
				      0x8f, 0xb0, 0xb1, 0xb2};

	seed_init(&s);
	login_normal(&s, TARGET, false, false);
	IN(&s, 0, 4096, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0);
	NOD(&s, lun, 0x00);
	IN(&s, lun, 255, 0x12, 0, 0, 0, 255, 0);
	for (size_t i = 0; i < sizeof(vpd); i++)
		IN(&s, lun, 255, 0x12, 1, vpd[i], 0, 255, 0);
	IN(&s, lun, 8, 0x25);
	IN(&s, lun, 32, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32);
	IN(&s, lun, 252, 0x1a, 0, 0x3f, 0, 252, 0);
	IN(&s, lun, 512, 0x5a, 0, 0x3f, 0, 0, 0, 0, 2, 0, 0);
	IN(&s, lun, 252, 0x03, 0, 0, 0, 252, 0);
	IN(&s, lun, 4096, 0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0);
	IN(&s, lun, 4096, 0xa3, 0x0c, 0x81, 0x2a, 0, 0, 0, 0, 0x10, 0, 0, 0);
	IN(&s, lun, 16, 0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0);
	IN(&s, lun, 4096, 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0);
	IN(&s, lun, 64, 0x4d, 0, 0x40, 0, 0, 0, 0, 0, 64, 0);
	logout(&s);
	save(&s, name);
}

/* Reads and writes: immediate data, unsolicited Data-Out, R2T. */
static void io(uint16_t lun, bool r2t, bool digests, const char *name)
{
	static struct seed s;
	uint32_t itt;

	seed_init(&s);
	login_normal(&s, TARGET, r2t, digests);
	if (!r2t) {
		/* WRITE(10) LBA 8, 8 blocks: all immediate */
		OUT(&s, lun, 4096, 0x2a, 0, 0, 0, 0, 8, 0, 0, 8, 0);
		/* WRITE(16) LBA 64, 16 blocks: half immediate, half Data-Out */
		itt = scsi(
		    &s, lun,
		    CDB(0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 16, 0, 0),
		    16, false, true, 8192, 4096, false);
		data_out(&s, lun, itt, RAW_RSVD_TAG, 0, 4096, 4096, true);
	} else {
		/* WRITE(10) LBA 0, 8 blocks; the R2T's tag is the
		 * connection's first: 1 */
		itt = scsi(&s, lun, CDB(0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0), 10,
			   false, true, 4096, 0, true);
		data_out(&s, lun, itt, s.ttt, 0, 0, 2048, false);
		data_out(&s, lun, itt, s.ttt++, 1, 2048, 2048, true);
	}
	IN(&s, lun, 4096, 0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0);
	IN(&s, lun, 512, 0x08, 0, 0, 1, 1, 0);
	OUT(&s, lun, 512, 0x0a, 0, 0, 2, 1, 0);
	IN(&s, lun, 8192, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 16, 0, 0);
	IN(&s, lun, 4096, 0xa8, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0);
	/* COMPARE AND WRITE LBA 8, 1 block: compare then write data */
	OUT(&s, lun, 1024, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0);
	/* VERIFY(10) BYTCHK=1, WRITE AND VERIFY(10), ORWRITE(16) */
	OUT(&s, lun, 512, 0x2f, 0x02, 0, 0, 0, 8, 0, 0, 1, 0);
	OUT(&s, lun, 512, 0x2e, 0, 0, 0, 0, 9, 0, 0, 1, 0);
	OUT(&s, lun, 512, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0);
	NOD(&s, lun, 0x34, 0, 0, 0, 0, 0, 0, 0, 8, 0);
	NOD(&s, lun, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	NOD(&s, lun, 0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	IN(&s, lun, 4096, 0xb7, 0x18, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0);
	logout(&s);
	save(&s, name);
}

/* Thin provisioning: WRITE SAME with UNMAP, UNMAP, GET LBA STATUS. */
static void thin(void)
{
	static struct seed s;
	static const uint8_t unmap_list[24] = {
	    0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 8,
	};

	seed_init(&s);
	login_normal(&s, TARGET, false, false);
	OUT(&s, 1, 512, 0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0);
	OUT(&s, 1, 512, 0x41, 0x08, 0, 0, 0, 16, 0, 0, 8, 0);
	IN(&s, 1, 24, 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24, 0, 0);
	/* UNMAP with its parameter list as immediate data */
	scsi_data(&s, 1, CDB(0x42, 0, 0, 0, 0, 0, 0, 0, sizeof(unmap_list), 0),
		  16, false, true, sizeof(unmap_list), unmap_list,
		  sizeof(unmap_list), true);
	IN(&s, 1, 64, 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 64, 0, 0);
	/* FORMAT UNIT */
	NOD(&s, 1, 0x04);
	logout(&s);
	save(&s, "thin");
}

/* The removable LU: eject, load, prevent, allow, media-less commands. */
static void removable(void)
{
	static struct seed s;

	seed_init(&s);
	login_normal(&s, TARGET, false, false);
	NOD(&s, 2, 0x1e, 0, 0, 0, 1, 0);
	NOD(&s, 2, 0x1b, 0, 0, 0, 0x02, 0);
	NOD(&s, 2, 0x1e, 0, 0, 0, 0, 0);
	NOD(&s, 2, 0x1b, 0, 0, 0, 0x02, 0);
	NOD(&s, 2, 0x00);
	IN(&s, 2, 18, 0x03, 0, 0, 0, 18, 0);
	NOD(&s, 2, 0x1b, 0, 0, 0, 0x03, 0);
	NOD(&s, 2, 0x1b, 0x01, 0, 0, 0x00, 0);
	logout(&s);
	save(&s, "removable");
}

/* The CD (LUN 5, MMC-6): what Linux sr and Windows send at attach and
 * mount, a read of each size, the tray, and commands a CD has not. */
static void cd(void)
{
	static struct seed s;

	seed_init(&s);
	login_normal(&s, TARGET, false, false);
	NOD(&s, 5, 0x00);
	IN(&s, 5, 8, 0x25);
	IN(&s, 5, 4096, 0x46, 0x00, 0, 0, 0, 0, 0, 0x10, 0, 0);
	IN(&s, 5, 4096, 0x46, 0x02, 0, 0x1e, 0, 0, 0, 0x10, 0, 0);
	IN(&s, 5, 8, 0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0);
	IN(&s, 5, 804, 0x43, 0, 0, 0, 0, 0, 0, 0x03, 0x24, 0);
	IN(&s, 5, 12, 0x43, 0x02, 0x01, 0, 0, 0, 0, 0, 12, 0);
	IN(&s, 5, 804, 0x43, 0x02, 0x02, 0, 0, 0, 1, 0x03, 0x24, 0);
	IN(&s, 5, 34, 0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0);
	IN(&s, 5, 48, 0x52, 0x01, 0, 0, 0, 1, 0, 0, 48, 0);
	IN(&s, 5, 2052, 0xad, 0, 0, 0, 0, 0, 0, 0x00, 0x08, 0x04, 0, 0);
	IN(&s, 5, 8, 0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0);
	IN(&s, 5, 32, 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 32, 0);
	NOD(&s, 5, 0xbb, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0);
	IN(&s, 5, 4096, 0x28, 0, 0, 0, 0, 1, 0, 0, 2, 0);
	IN(&s, 5, 2048, 0xa8, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0);
	OUT(&s, 5, 2048, 0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0);
	NOD(&s, 5, 0x1e, 0, 0, 0, 1, 0);
	NOD(&s, 5, 0x1b, 0, 0, 0, 0x02, 0);
	NOD(&s, 5, 0x1e, 0, 0, 0, 0, 0);
	NOD(&s, 5, 0x1b, 0, 0, 0, 0x02, 0);
	IN(&s, 5, 8, 0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0);
	NOD(&s, 5, 0x00);
	NOD(&s, 5, 0x1b, 0, 0, 0, 0x03, 0);
	logout(&s);
	save(&s, "cd");
}

/* The changer (LUN 6, SMC-3) as mtx and Linux ch drive it: element
 * status with volume tags and drive identifiers, moves between slots, the
 * mail slot and the drive (the CD of LUN 5), and the errors of each. */
static void changer(void)
{
	static struct seed s;

	seed_init(&s);
	login_normal(&s, TARGET, false, false);
	NOD(&s, 6, 0x00);
	IN(&s, 6, 252, 0x1a, 0x08, 0x1d, 0, 252, 0);
	IN(&s, 6, 252, 0x1a, 0x08, 0x3f, 0, 252, 0);
	NOD(&s, 6, 0x07);
	IN(&s, 6, 65536, 0xb8, 0x10, 0, 0, 0xff, 0xff, 0, 0x01, 0, 0, 0, 0);
	IN(&s, 6, 4096, 0xb8, 0x14, 0x10, 0x00, 0, 4, 0x03, 0, 0x10, 0, 0, 0);
	IN(&s, 6, 4096, 0xb8, 0x04, 0, 1, 0, 1, 0x01, 0, 0x10, 0, 0, 0);
	/* drive -> empty slot, slot -> drive, slot -> mail slot and back */
	NOD(&s, 6, 0xa5, 0, 0, 0, 0, 1, 0x10, 0x00, 0, 0, 0, 0);
	NOD(&s, 6, 0xa5, 0, 0, 0, 0x10, 0x01, 0, 1, 0, 0, 0, 0);
	NOD(&s, 6, 0xa5, 0, 0, 0, 0x10, 0x02, 0x01, 0x00, 0, 0, 0, 0);
	NOD(&s, 6, 0xa5, 0, 0, 0, 0x01, 0x00, 0x10, 0x02, 0, 0, 0, 0);
	/* source empty, destination full, no such element */
	NOD(&s, 6, 0xa5, 0, 0, 0, 0x10, 0x00, 0x10, 0x03, 0, 0, 0, 0);
	NOD(&s, 6, 0xa5, 0, 0, 0, 0x10, 0x02, 0, 1, 0, 0, 0, 0);
	NOD(&s, 6, 0xa5, 0, 0, 0, 0x77, 0x77, 0x10, 0x00, 0, 0, 0, 0);
	NOD(&s, 6, 0x37, 0x01, 0x10, 0x00, 0, 0, 0, 4, 0, 0);
	NOD(&s, 6, 0x2b, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 0);
	NOD(&s, 6, 0x1e, 0, 0, 0, 1, 0);
	NOD(&s, 6, 0x1e, 0, 0, 0, 0, 0);
	IN(&s, 5, 4096, 0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0);
	logout(&s);
	save(&s, "changer");
}

/* The tape drive (LUN 7, SSC): what st sends at open, writes in
 * variable and fixed mode with filemarks, positioning both ways, reads
 * that meet a filemark, a longer block and the end of data. */
static void tape(void)
{
	static const uint8_t tape_512[12] = {0, 0, 0x10, 8, 0x80, 0,
					     0, 0, 0,	 0, 0x02, 0};
	static struct seed s;

	seed_init(&s);
	login_normal(&s, TARGET, false, false);
	NOD(&s, 7, 0x00);
	IN(&s, 7, 6, 0x05);
	IN(&s, 7, 12, 0x1a, 0, 0, 0, 12, 0);
	IN(&s, 7, 252, 0x1a, 0, 0x3f, 0, 252, 0);
	NOD(&s, 7, 0x01);
	OUT(&s, 7, 10240, 0x0a, 0, 0, 0x28, 0, 0);
	OUT(&s, 7, 4096, 0x0a, 0, 0, 0x10, 0, 0);
	NOD(&s, 7, 0x10, 0, 0, 0, 1, 0);
	/* MODE SELECT (6): buffered, 512-byte fixed blocks; fixed WRITE */
	scsi_data(&s, 7, CDB(0x15, 0x10, 0, 0, 12, 0), 16, false, true, 12,
		  tape_512, 12, true);
	OUT(&s, 7, 2048, 0x0a, 0x01, 0, 0, 4, 0);
	NOD(&s, 7, 0x10, 0, 0, 0, 2, 0);
	IN(&s, 7, 20, 0x34, 0, 0, 0, 0, 0, 0, 0, 20, 0);
	IN(&s, 7, 32, 0x34, 0x06, 0, 0, 0, 0, 0, 0, 32, 0);
	NOD(&s, 7, 0x01);
	IN(&s, 7, 65536, 0x08, 0x02, 0x01, 0, 0, 0);
	IN(&s, 7, 512, 0x08, 0x01, 0, 0, 1, 0);
	NOD(&s, 7, 0x11, 0x01, 0, 0, 1, 0);
	NOD(&s, 7, 0x11, 0x01, 0xff, 0xff, 0xff, 0);
	NOD(&s, 7, 0x11, 0x03, 0, 0, 0, 0);
	NOD(&s, 7, 0x11, 0x00, 0xff, 0xff, 0xfe, 0);
	NOD(&s, 7, 0x2b, 0, 0, 0, 0, 0, 1, 0, 0, 0);
	IN(&s, 7, 4096, 0x08, 0x00, 0, 0x10, 0, 0);
	NOD(&s, 7, 0x92, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0);
	NOD(&s, 7, 0x19, 0x01, 0, 0, 0, 0);
	IN(&s, 7, 4096, 0x44, 0, 0, 0, 0, 0, 0, 0x10, 0, 0);
	NOD(&s, 7, 0x1b, 0, 0, 0, 0, 0);
	NOD(&s, 7, 0x00);
	NOD(&s, 7, 0x1b, 0, 0, 0, 1, 0);
	logout(&s);
	save(&s, "tape");
}

/* Persistent reservations and SPC-2 RESERVE on LU 0. */
static void reservations(void)
{
	static struct seed s;
	static const uint8_t reg[24] = {[15] = 0x11};
	static const uint8_t res[24] = {[7] = 0x11};
	static const uint8_t unreg[24] = {[7] = 0x11};
	const uint8_t *lists[] = {reg, res, res, unreg};
	/* REGISTER AND IGNORE EXISTING KEY, RESERVE, RELEASE, unregister */
	const uint8_t actions[] = {0x06, 0x01, 0x02, 0x06};

	seed_init(&s);
	login_normal(&s, TARGET, false, false);
	for (size_t i = 0; i < 4; i++) {
		if (i == 2) {
			IN(&s, 0, 256, 0x5e, 0x00, 0, 0, 0, 0, 0, 1, 0, 0);
			IN(&s, 0, 256, 0x5e, 0x01, 0, 0, 0, 0, 0, 1, 0, 0);
			IN(&s, 0, 256, 0x5e, 0x02, 0, 0, 0, 0, 0, 1, 0, 0);
			IN(&s, 0, 256, 0x5e, 0x03, 0, 0, 0, 0, 0, 1, 0, 0);
		}
		/* type WE, registrants only for RESERVE and RELEASE */
		scsi_data(&s, 0,
			  CDB(0x5f, actions[i], i == 1 || i == 2 ? 0x05 : 0, 0,
			      0, 0, 0, 0, 24, 0),
			  16, false, true, 24, lists[i], 24, true);
	}
	NOD(&s, 0, 0x16, 0, 0, 0, 0, 0);
	NOD(&s, 0, 0x17, 0, 0, 0, 0, 0);
	logout(&s);
	save(&s, "reservations");
}

/* NOP-Out, task management, text in the Full Feature Phase. */
static void control(void)
{
	static struct seed s;
	uint8_t b[RAW_BHS];
	uint32_t itt;

	seed_init(&s);
	login_normal(&s, TARGET, true, false);
	bhs_init(b, RAW_OP_NOP_OUT | RAW_IMMEDIATE, RAW_FINAL, s.itt++);
	raw_put32(b + 20, RAW_RSVD_TAG);
	raw_put32(b + 24, s.cmdsn);
	raw_put32(b + 28, s.statsn++);
	pdu(&s, b, "ping", 4);
	/* a WRITE left waiting for its data, then ABORT TASK on it */
	itt = scsi(&s, 0, CDB(0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0), 10, false, true,
		   4096, 0, true);
	s.ttt++;
	bhs_init(b, 0x02 | RAW_IMMEDIATE, RAW_FINAL | 1, s.itt++);
	raw_put32(b + 20, itt);
	raw_put32(b + 24, s.cmdsn);
	raw_put32(b + 28, s.statsn++);
	raw_put32(b + 32, s.cmdsn - 1);
	pdu(&s, b, NULL, 0);
	/* LOGICAL UNIT RESET, TARGET WARM RESET */
	bhs_init(b, 0x02 | RAW_IMMEDIATE, RAW_FINAL | 5, s.itt++);
	raw_put32(b + 20, RAW_RSVD_TAG);
	raw_put32(b + 24, s.cmdsn);
	raw_put32(b + 28, s.statsn++);
	pdu(&s, b, NULL, 0);
	bhs_init(b, 0x04, RAW_FINAL, s.itt++);
	raw_put32(b + 20, RAW_RSVD_TAG);
	raw_put32(b + 24, s.cmdsn++);
	raw_put32(b + 28, s.statsn++);
	pdu(&s, b, KEYS("SendTargets=" TARGET "\0"));
	NOD(&s, 0, 0x00);
	logout(&s);
	save(&s, "control");
}

/* A Logout waiting for a WRITE that waits for its data, then a LUN RESET:
 * the reset's aborts let the Logout finish and close the connection while
 * the reset is still being handled. */
static void logout_reset(void)
{
	static struct seed s;
	uint8_t b[RAW_BHS];

	seed_init(&s);
	login_normal(&s, TARGET, true, false);
	scsi(&s, 0, CDB(0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0), 10, false, true, 4096,
	     0, true);
	bhs_init(b, RAW_OP_LOGOUT, RAW_FINAL, s.itt++);
	raw_put32(b + 24, s.cmdsn++);
	raw_put32(b + 28, s.statsn++);
	pdu(&s, b, NULL, 0);
	bhs_init(b, 0x02 | RAW_IMMEDIATE, RAW_FINAL | 5, s.itt++);
	raw_put32(b + 20, RAW_RSVD_TAG);
	raw_put32(b + 24, s.cmdsn);
	raw_put32(b + 28, s.statsn++);
	pdu(&s, b, NULL, 0);
	save(&s, "logout-reset");
}

/* The CHAP target: the login up to the target's challenge. */
static void chap(void)
{
	static struct seed s;

	seed_init(&s);
	login_pdu(&s, 0, 1, false,
		  KEYS("InitiatorName=" INITIATOR
		       "\0TargetName=iqn.2026-01.org.lunar:fuzz-chap\0"
		       "SessionType=Normal\0AuthMethod=CHAP,None\0"));
	login_pdu(&s, 0, 1, false, KEYS("CHAP_A=5,6,7\0"));
	login_pdu(&s, 0, 1, true,
		  KEYS("CHAP_N=fuzzuser\0CHAP_R=0x00112233445566778899aabbccdd"
		       "eeff\0"));
	save(&s, "chap");
}

int main(int argc, char **argv)
{
	raw_prog = "fuzz_seeds";
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR\n");
		return 2;
	}
	out_dir = argv[1];
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + (i >> 9));
	discovery();
	probe(0, "probe-plain");
	probe(1, "probe-thin");
	probe(3, "probe-readonly");
	io(0, false, false, "io-immediate");
	io(0, true, false, "io-r2t");
	io(4, false, true, "io-digests");
	io(3, false, false, "io-readonly");
	thin();
	removable();
	cd();
	changer();
	tape();
	reservations();
	control();
	logout_reset();
	chap();
	return 0;
}
