/*
 * tape_io: a tape LU (--type tape) through one libiscsi session, as a
 * tape driver and a backup program see it. Raw CDBs; the sense data are
 * checked byte by byte (key, ASC/ASCQ, FILEMARK/EOM/ILI, INFORMATION).
 *
 * usage: tape_io URL MODE [ARG...]
 *
 *   func    on an empty cartridge: INQUIRY (type 01h, RMB), READ BLOCK
 *           LIMITS, MODE SENSE (variable blocks, buffered), variable
 *           blocks and filemarks written and read back with ILI both
 *           ways, FILEMARK, BLANK CHECK and their residuals; SPACE over
 *           blocks, filemarks and to EOD, forward and backward into BOP;
 *           READ POSITION short and long; LOCATE (10)/(16); a write in
 *           the middle truncating the tape; MODE SELECT of a 512-byte
 *           block length and fixed mode reads and writes; buffered mode
 *           0; CDB field errors; LOAD UNLOAD with PREVENT; REPORT
 *           DENSITY SUPPORT.
 *   small   on a 64 KiB cartridge: early warning (EOM, NO SENSE) then
 *           VOLUME OVERFLOW, in variable and fixed mode, with residuals.
 *   ro      on a write-protected LU: WP in MODE SENSE, DATA PROTECT.
 *   crc     after func, with object 0's data damaged in the file:
 *           MEDIUM ERROR, UNRECOVERED READ ERROR; the next block reads.
 *   nomedium  an empty drive: NOT READY, MEDIUM NOT PRESENT.
 *   hammer SEED [N]  N (6000) random commands (writes of self-describing
 * blocks, reads, SPACE, LOCATE, REWIND, WRITE FILEMARKS, READ POSITION) while
 * other sessions do the same; SEED 1 also sends a LOGICAL UNIT RESET every 97
 * commands. Every answer must be a status a drive gives, every block read
 * whole. check   after hammering: BOP to EOD, every block whole. writer FILE
 * rewinds and writes blocks 0, 1, 2 ... (sizes and bytes from the index) until
 * a command fails, appending the index of each block acknowledged with GOOD to
 * FILE. verify FILE  rewinds and reads every block back: each must be the block
 * its position says, at least every index in FILE must be there, and the tape
 * must end in BLANK CHECK.
 *
 * Prints "ok" and exits 0 when everything holds; else prints each failed
 * check and exits 1 (2 on usage or login errors).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "be.h"
#include "check.h"
#include "login.h"

#define INITIATOR "iqn.2026-11.org.lunar:tape-io"

#define SK_NO_SENSE   0x0
#define SK_NOT_READY  0x2
#define SK_MEDIUM_ERR 0x3
#define SK_ILLEGAL    0x5
#define SK_PROTECT    0x7
#define SK_BLANK      0x8
#define SK_OVERFLOW   0xd

#define FM  0x80
#define EOM 0x40
#define ILI 0x20

static struct iscsi_context *iscsi;
static int lun;

static uint32_t get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* One command; exits when the session fails (writer: that is the end). */
static struct scsi_task *run(const uint8_t *cdb, int len, int dir,
			     const void *out, int xfer)
{
	struct scsi_task *task =
	    scsi_create_task(len, (unsigned char *)cdb, dir, xfer);
	struct iscsi_data d = {.data = (unsigned char *)out, .size = xfer};

	if (!task ||
	    !iscsi_scsi_command_sync(iscsi, lun, task,
				     dir == SCSI_XFER_WRITE ? &d : NULL)) {
		printf("session ended: CDB %02xh: %s\n", cdb[0],
		       iscsi_get_error(iscsi));
		return NULL;
	}
	return task;
}

/* What a command ended with. */
struct result {
	int status;
	int key, asc, ascq, flags; /* flags: FM|EOM|ILI */
	int valid;
	int32_t info;
	int len; /* Data-In bytes */
	uint8_t data[64];
};

static struct result cmd(const uint8_t *cdb, int len, int dir, const void *out,
			 int xfer, void *in)
{
	struct scsi_task *t = run(cdb, len, dir, out, xfer);
	struct result r;

	memset(&r, 0, sizeof(r));
	if (!t) {
		r.status = -1;
		return r;
	}
	r.status = t->status;
	if (t->status == SCSI_STATUS_CHECK_CONDITION && t->datain.size > 2) {
		/* libiscsi keeps the sense as it came: length, then fixed
		 * format data. */
		const uint8_t *s = t->datain.data + 2;

		if ((s[0] & 0x7f) == 0x70) {
			r.valid = s[0] >> 7;
			r.key = s[2] & 0x0f;
			r.flags = s[2] & 0xe0;
			r.info = (int32_t)get_be32(s + 3);
			r.asc = s[12];
			r.ascq = s[13];
		}
	} else if (dir == SCSI_XFER_READ) {
		r.len = t->datain.size;
		if (in && r.len > 0)
			memcpy(in, t->datain.data, (size_t)r.len);
		memcpy(r.data, t->datain.data,
		       r.len < 64 ? (size_t)(r.len > 0 ? r.len : 0) : 64);
	}
	scsi_free_scsi_task(t);
	return r;
}

static void want_good(const char *what, struct result r)
{
	check(r.status == 0, "%s: status %02xh sense %x/%02x/%02x, want GOOD",
	      what, r.status, r.key, r.asc, r.ascq);
}

/* CHECK CONDITION with exactly key/asc/ascq and flags; info when
 * info_valid. */
static void want_sense(const char *what, struct result r, int key, int asc,
		       int ascq, int flags, int info_valid, int32_t info)
{
	check(r.status == 2 && r.key == key && r.asc == asc && r.ascq == ascq &&
		  r.flags == flags &&
		  (!info_valid || (r.valid && r.info == info)),
	      "%s: status %02xh sense %x/%02x/%02x flags %02x info %s%d, "
	      "want %x/%02x/%02x flags %02x info %d",
	      what, r.status, r.key, r.asc, r.ascq, r.flags,
	      r.valid ? "" : "(invalid) ", r.info, key, asc, ascq, flags, info);
}

/* ---- the commands ---- */

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

static struct result t_write(uint32_t n, int fixed, const void *data, int bytes)
{
	uint8_t c[6] = {0x0a,
			(uint8_t)fixed,
			(uint8_t)(n >> 16),
			(uint8_t)(n >> 8),
			(uint8_t)n,
			0};

	return cmd(c, 6, SCSI_XFER_WRITE, data, bytes, NULL);
}

static struct result t_write_var(uint32_t len, unsigned seed)
{
	uint8_t *b = malloc(len + 1);
	struct result r;

	fill(b, len, seed);
	r = t_write(len, 0, b, (int)len);
	free(b);
	return r;
}

static struct result t_read(uint32_t n, int flags, void *buf, int bytes)
{
	uint8_t c[6] = {0x08,
			(uint8_t)flags,
			(uint8_t)(n >> 16),
			(uint8_t)(n >> 8),
			(uint8_t)n,
			0};

	return cmd(c, 6, SCSI_XFER_READ, NULL, bytes, buf);
}

static struct result t_simple(uint8_t op, uint8_t b1, uint32_t n24, uint8_t b4)
{
	uint8_t c[6] = {
	    op, b1, (uint8_t)(n24 >> 16), (uint8_t)(n24 >> 8), (uint8_t)n24, 0};

	if (b4)
		c[4] = b4;
	return cmd(c, 6, SCSI_XFER_NONE, NULL, 0, NULL);
}

#define t_rewind()	 t_simple(0x01, 0, 0, 0)
#define t_wfm(n)	 t_simple(0x10, 0, (n), 0)
#define t_space(code, n) t_simple(0x11, (code), (uint32_t)(n)&0xffffff, 0)
#define t_load(b4)	 t_simple(0x1b, 0, 0, (b4))
#define t_prevent(p)	 t_simple(0x1e, 0, 0, (p))
#define t_tur()		 t_simple(0x00, 0, 0, 0)

static struct result t_locate10(uint32_t id)
{
	uint8_t c[10] = {0x2b};

	put_be32(c + 3, id);
	return cmd(c, 10, SCSI_XFER_NONE, NULL, 0, NULL);
}

static struct result t_locate16(int dest, uint64_t id)
{
	uint8_t c[16] = {0x92, (uint8_t)(dest << 3)};

	put_be32(c + 4, (uint32_t)(id >> 32));
	put_be32(c + 8, (uint32_t)id);
	return cmd(c, 16, SCSI_XFER_NONE, NULL, 0, NULL);
}

/* READ POSITION short form: the first block location, -1 on error. */
static int64_t t_pos(int *bop)
{
	uint8_t c[10] = {0x34, 0x00};
	struct result r = cmd(c, 10, SCSI_XFER_READ, NULL, 20, NULL);

	if (r.status != 0 || r.len != 20)
		return -1;
	if (bop)
		*bop = r.data[0] >> 7;
	return get_be32(r.data + 4);
}

static void want_pos(const char *what, int64_t want)
{
	int64_t p = t_pos(NULL);

	check(p == want, "%s: position %lld, want %lld", what, (long long)p,
	      (long long)want);
}

/* MODE SELECT (6): device-specific parameter and block length. */
static struct result t_mode_select(uint8_t dp, uint32_t blen)
{
	uint8_t c[6] = {0x15, 0x10, 0, 0, 12, 0};
	uint8_t d[12] = {0, 0, dp, 8, 0, 0, 0, 0, 0};

	d[9] = (uint8_t)(blen >> 16);
	d[10] = (uint8_t)(blen >> 8);
	d[11] = (uint8_t)blen;
	return cmd(c, 6, SCSI_XFER_WRITE, d, 12, NULL);
}

/* MODE SENSE (6): the header's device-specific parameter and the block
 * descriptor's density and length. */
static int t_mode_sense(uint8_t *dp, uint8_t *density, uint32_t *blen)
{
	uint8_t c[6] = {0x1a, 0, 0x3f, 0, 255, 0};
	struct result r = cmd(c, 6, SCSI_XFER_READ, NULL, 255, NULL);

	if (r.status || r.len < 12 || r.data[3] != 8)
		return -1;
	*dp = r.data[2];
	*density = r.data[4];
	*blen = get_be24(r.data + 9);
	return 0;
}

/* ---- func ---- */

static void func_identity(void)
{
	const uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
	const uint8_t rbl[6] = {0x05, 0, 0, 0, 0, 0};
	const uint8_t rds[10] = {0x44, 0, 0, 0, 0, 0, 0, 0, 60, 0};
	const uint8_t st_open[6] = {0x1a, 0, 0, 0, 12, 0};
	uint8_t dp = 0, dens = 0;
	uint32_t blen = 1;
	struct result r;

	r = cmd(inq, 6, SCSI_XFER_READ, NULL, 96, NULL);
	check(r.status == 0 && r.len >= 36 && (r.data[0] & 0x1f) == 0x01 &&
		  (r.data[1] & 0x80),
	      "INQUIRY: not a removable sequential-access device");
	r = cmd(rbl, 6, SCSI_XFER_READ, NULL, 6, NULL);
	check(r.status == 0 && r.len == 6 && get_be24(r.data + 1) == 1u << 20 &&
		  get_be16(r.data + 4) == 1,
	      "READ BLOCK LIMITS: status %02xh, max %u min %u", r.status,
	      get_be24(r.data + 1), get_be16(r.data + 4));
	check(t_mode_sense(&dp, &dens, &blen) == 0 && dp == 0x10 &&
		  dens == 0x80 && blen == 0,
	      "MODE SENSE: device parameter %02xh density %02xh block length "
	      "%u, want 10h (buffered), 80h, 0 (variable)",
	      dp, dens, blen);
	/* What Linux st sends at every open: page 00h, 12 bytes, for the
	 * block descriptor alone. */
	r = cmd(st_open, 6, SCSI_XFER_READ, NULL, 12, NULL);
	check(r.status == 0 && r.len == 12 && r.data[0] == 11 &&
		  r.data[3] == 8 && r.data[4] == 0x80,
	      "MODE SENSE page 00h (Linux st's): status %02xh, %u bytes, "
	      "want the header and block descriptor of density 80h",
	      r.status, r.len);
	r = cmd(rds, 10, SCSI_XFER_READ, NULL, 60, NULL);
	check(r.status == 0 && r.len == 56 && r.data[4] == 0x80 &&
		  (r.data[6] & 0xa0) == 0xa0,
	      "REPORT DENSITY SUPPORT: status %02xh, %d bytes", r.status,
	      r.len);
}

/* A 1000, B 3000, FM, C 10, FM, D 512: objects 0..5, EOD at 6. */
static void func_write_read(void)
{
	uint8_t buf[8192], want[8192];
	struct result r;
	int bop = 0;

	want_good("REWIND", t_rewind());
	check(t_pos(&bop) == 0 && bop, "not at BOP after REWIND");
	want_good("WRITE A", t_write_var(1000, 1));
	want_good("WRITE B", t_write_var(3000, 2));
	want_good("WRITE FILEMARKS", t_wfm(1));
	want_good("WRITE C", t_write_var(10, 3));
	want_good("WRITE FILEMARKS", t_wfm(1));
	want_good("WRITE D", t_write_var(512, 4));
	want_pos("after the writes", 6);
	{
		uint8_t c[10] = {0x34, 0x06, 0, 0, 0, 0, 0, 0, 32, 0};

		r = cmd(c, 10, SCSI_XFER_READ, NULL, 32, NULL);
		check(r.status == 0 && r.len == 32 &&
			  get_be32(r.data + 12) == 6 &&
			  get_be32(r.data + 20) == 2 && !(r.data[0] & 0x80),
		      "READ POSITION long: object %u file %u",
		      get_be32(r.data + 12), get_be32(r.data + 20));
	}

	want_good("REWIND", t_rewind());
	r = t_read(1000, 0, buf, 1000);
	fill(want, 1000, 1);
	want_good("READ A", r);
	check(r.len == 1000 && !memcmp(buf, want, 1000), "READ A: bytes");
	/* Shorter block than asked, SILI 0: ILI, residual +1000. */
	r = t_read(4000, 0, buf, 4000);
	want_sense("READ B (4000)", r, SK_NO_SENSE, 0, 0, ILI, 1, 1000);
	r = t_read(100, 0, buf, 100);
	want_sense("READ at a filemark", r, SK_NO_SENSE, 0, 1, FM, 1, 100);
	/* Longer block than asked: ILI, residual -5, 5 bytes. */
	r = t_read(5, 0, buf, 5);
	want_sense("READ C (5 of 10)", r, SK_NO_SENSE, 0, 0, ILI, 1, -5);
	r = t_read(100, 0, buf, 100);
	want_sense("READ at the second filemark", r, SK_NO_SENSE, 0, 1, FM, 1,
		   100);
	/* SILI: a shorter block is no error. */
	r = t_read(600, 0x02, buf, 600);
	fill(want, 512, 4);
	want_good("READ D (600, SILI)", r);
	check(r.len == 512 && !memcmp(buf, want, 512), "READ D: %d bytes",
	      r.len);
	r = t_read(600, 0, buf, 600);
	want_sense("READ at EOD", r, SK_BLANK, 0, 5, 0, 1, 600);
	want_pos("after BLANK CHECK", 6);
}

static void func_space_locate(void)
{
	uint8_t buf[64];
	struct result r;

	want_good("REWIND", t_rewind());
	r = t_space(0, 5);
	want_sense("SPACE 5 blocks", r, SK_NO_SENSE, 0, 1, FM, 1, 3);
	want_pos("SPACE into a filemark", 3);
	want_good("SPACE 1 filemark", t_space(1, 1));
	want_pos("SPACE 1 filemark", 5);
	r = t_space(0, -1);
	want_sense("SPACE -1 block at a filemark", r, SK_NO_SENSE, 0, 1, FM, 1,
		   1);
	want_pos("SPACE back over a filemark", 4);
	want_good("SPACE 1 filemark", t_space(1, 1));
	want_pos("SPACE 1 filemark", 5);
	want_good("SPACE -2 filemarks", t_space(1, -2));
	want_pos("SPACE -2 filemarks", 2);
	r = t_space(0, -5);
	want_sense("SPACE -5 blocks into BOP", r, SK_NO_SENSE, 0, 4, EOM, 1, 3);
	want_pos("SPACE into BOP", 0);
	want_good("SPACE to EOD", t_space(3, 0));
	want_pos("SPACE to EOD", 6);
	r = t_space(0, 1);
	want_sense("SPACE 1 block at EOD", r, SK_BLANK, 0, 5, 0, 1, 1);

	want_good("LOCATE (10) 3", t_locate10(3));
	r = t_read(10, 0, buf, 10);
	want_good("READ C after LOCATE", r);
	want_good("LOCATE (16) file 2", t_locate16(1, 2));
	want_pos("LOCATE file 2", 5);
	want_good("LOCATE (16) EOD", t_locate16(3, 0));
	want_pos("LOCATE (16) EOD", 6);
	r = t_locate10(100);
	want_sense("LOCATE beyond EOD", r, SK_BLANK, 0, 5, 0, 0, 0);
	want_pos("after LOCATE beyond EOD", 6);

	/* Writing in the middle ends the tape there. */
	want_good("LOCATE 1", t_locate10(1));
	want_good("WRITE E over B", t_write_var(200, 5));
	want_good("SPACE to EOD", t_space(3, 0));
	want_pos("EOD after the overwrite", 2);
}

static void func_fixed(void)
{
	uint8_t buf[8192], want[8192], dp, dens;
	uint32_t blen = 0;
	struct result r;

	want_good("MODE SELECT 512-byte blocks", t_mode_select(0x10, 512));
	check(t_mode_sense(&dp, &dens, &blen) == 0 && blen == 512,
	      "MODE SENSE after MODE SELECT: block length %u", blen);
	for (int i = 0; i < 4; i++)
		fill(want + 512 * i, 512, 10 + (unsigned)i);
	want_good("LOCATE 2", t_locate10(2));
	want_good("WRITE 4 fixed blocks", t_write(4, 1, want, 2048));
	want_good("WRITE FILEMARKS", t_wfm(1));
	want_good("LOCATE 2", t_locate10(2));
	r = t_read(8, 1, buf, 4096);
	want_sense("READ 8 fixed blocks over a filemark", r, SK_NO_SENSE, 0, 1,
		   FM, 1, 4);
	want_pos("after the fixed read", 7);
	want_good("LOCATE 2", t_locate10(2));
	r = t_read(2, 1, buf, 1024);
	want_good("READ 2 fixed blocks", r);
	check(r.len == 1024 && !memcmp(buf, want, 1024),
	      "READ 2 fixed blocks: bytes");
	want_good("REWIND", t_rewind());
	r = t_read(3, 1, buf, 1536);
	want_sense("READ fixed over a 1000-byte block", r, SK_NO_SENSE, 0, 0,
		   ILI, 1, 3);
	want_pos("after the wrong-length block", 1);

	/* Field errors, with the field pointer's ASC. */
	r = t_read(1, 0x03, buf, 512);
	want_sense("READ FIXED+SILI", r, SK_ILLEGAL, 0x24, 0, 0, 0, 0);
	want_good("MODE SELECT variable", t_mode_select(0x10, 0));
	r = t_read(1, 0x01, buf, 512);
	want_sense("READ fixed in variable mode", r, SK_ILLEGAL, 0x24, 0, 0, 0,
		   0);
	r = t_space(2, 1);
	want_sense("SPACE sequential filemarks", r, SK_ILLEGAL, 0x24, 0, 0, 0,
		   0);
	r = t_simple(0x10, 0x02, 1, 0);
	want_sense("WRITE FILEMARKS WSMK", r, SK_ILLEGAL, 0x24, 0, 0, 0, 0);
	r = t_load(0x05);
	want_sense("LOAD with EOT", r, SK_ILLEGAL, 0x24, 0, 0, 0, 0);
	{
		uint8_t c[10] = {0x34, 0x08, 0, 0, 0, 0, 0, 0, 32, 0};

		r = cmd(c, 10, SCSI_XFER_READ, NULL, 32, NULL);
		want_sense("READ POSITION extended form", r, SK_ILLEGAL, 0x24,
			   0, 0, 0, 0);
	}
	r = t_mode_select(0x20, 0);
	want_sense("MODE SELECT BUFFERED MODE 2", r, SK_ILLEGAL, 0x26, 0, 0, 0,
		   0);

	/* Unbuffered: every write stable before GOOD. */
	want_good("MODE SELECT unbuffered", t_mode_select(0x00, 0));
	check(t_mode_sense(&dp, &dens, &blen) == 0 && dp == 0,
	      "MODE SENSE: device parameter %02xh after unbuffered", dp);
	want_good("SPACE to EOD", t_space(3, 0));
	want_good("WRITE unbuffered", t_write_var(300, 6));
	want_good("MODE SELECT buffered", t_mode_select(0x10, 0));
}

static void func_load(void)
{
	struct result r;
	int bop = 0;

	want_good("PREVENT", t_prevent(1));
	r = t_load(0x00);
	want_sense("UNLOAD while prevented", r, SK_ILLEGAL, 0x53, 2, 0, 0, 0);
	want_good("ALLOW", t_prevent(0));
	want_good("UNLOAD", t_load(0x00));
	want_sense("TEST UNIT READY unloaded", t_tur(), SK_NOT_READY, 0x3a, 0,
		   0, 0, 0);
	want_sense("READ unloaded", t_read(10, 0, NULL, 10), SK_NOT_READY, 0x3a,
		   0, 0, 0, 0);
	want_good("LOAD", t_load(0x01));
	want_good("TEST UNIT READY loaded", t_tur());
	check(t_pos(&bop) == 0 && bop, "not at BOP after LOAD");
}

/* ---- small: the end of the cartridge ---- */

static void small(void)
{
	uint8_t buf[40000];
	struct result r;
	int i;

	want_good("REWIND", t_rewind());
	/* 64 KiB: 15 records of 4000 bytes fit, the 15th past early
	 * warning; the 16th does not fit at all. */
	for (i = 0; i < 14; i++) {
		r = t_write_var(4000, (unsigned)i);
		want_good("WRITE before early warning", r);
	}
	r = t_write_var(4000, 14);
	want_sense("WRITE in early warning", r, SK_NO_SENSE, 0, 2, EOM, 1, 0);
	r = t_write_var(4000, 15);
	want_sense("WRITE past the end", r, SK_OVERFLOW, 0, 2, EOM, 1, 4000);
	want_pos("after VOLUME OVERFLOW", 15);
	{
		uint8_t c[10] = {0x34, 0x00};

		r = cmd(c, 10, SCSI_XFER_READ, NULL, 20, NULL);
		check(r.status == 0 && (r.data[0] & 0xc0) == 0x40,
		      "READ POSITION in early warning: flags %02xh, want EOP",
		      r.data[0]);
		want_good("LOCATE 2", t_locate10(2));
		r = cmd(c, 10, SCSI_XFER_READ, NULL, 20, NULL);
		check(r.status == 0 && (r.data[0] & 0xc0) == 0,
		      "READ POSITION before early warning: flags %02xh",
		      r.data[0]);
	}
	/* Fixed mode: as many whole blocks as fit, the rest the residual. */
	want_good("MODE SELECT 1000-byte blocks", t_mode_select(0x10, 1000));
	want_good("LOCATE 10", t_locate10(10));
	memset(buf, 0x5a, sizeof(buf));
	r = t_write(30, 1, buf, 30000);
	want_sense("WRITE 30 fixed blocks", r, SK_OVERFLOW, 0, 2, EOM, 1, 10);
	want_pos("after the fixed overflow", 30);
	want_good("LOCATE 12", t_locate10(12));
	r = t_read(2, 1, buf, 2000);
	want_good("READ back 2 fixed blocks", r);
	want_good("MODE SELECT variable", t_mode_select(0x10, 0));
	want_good("REWIND", t_rewind());
	{
		uint8_t want[4000];

		fill(want, 4000, 3);
		want_good("LOCATE 3", t_locate10(3));
		r = t_read(4000, 0, buf, 4000);
		check(r.status == 0 && r.len == 4000 &&
			  !memcmp(buf, want, 4000),
		      "READ block 3 back");
	}
}

static void readonly(void)
{
	uint8_t dp = 0, dens;
	uint32_t blen;
	struct result r;

	check(t_mode_sense(&dp, &dens, &blen) == 0 && (dp & 0x80),
	      "MODE SENSE: WP not set (device parameter %02xh)", dp);
	r = t_write_var(100, 1);
	want_sense("WRITE write-protected", r, SK_PROTECT, 0x27, 0, 0, 0, 0);
	r = t_wfm(1);
	want_sense("WRITE FILEMARKS write-protected", r, SK_PROTECT, 0x27, 0, 0,
		   0, 0);
	want_good("REWIND", t_rewind());
}

/* Object 0's data were damaged on the medium behind lunard's back:
 * its READ is MEDIUM ERROR, the next block still reads. */
static void crc(void)
{
	uint8_t buf[4096];
	struct result r;

	for (int i = 0; i < 3; i++) { /* the unit attentions of a new nexus */
		r = t_rewind();
		if (r.status == 0)
			break;
	}
	want_good("REWIND", r);
	r = t_read(1000, 0, buf, 1000);
	want_sense("READ of a damaged block", r, SK_MEDIUM_ERR, 0x11, 0, 0, 0,
		   0);
	want_good("SPACE over it", t_space(0, 1));
	r = t_read(200, 0, buf, 200);
	want_good("READ of the next block", r);
}

static void nomedium(void)
{
	struct result r;

	/* The new nexus's unit attention first (POWER ON, RESET). */
	for (int i = 0; i < 3; i++) {
		r = t_tur();
		if (r.key != 0x6)
			break;
	}
	want_sense("TEST UNIT READY", r, SK_NOT_READY, 0x3a, 0, 0, 0, 0);
	want_sense("READ", t_read(10, 0, NULL, 10), SK_NOT_READY, 0x3a, 0, 0, 0,
		   0);
	want_sense("LOAD", t_load(0x01), SK_NOT_READY, 0x3a, 0, 0, 0, 0);
}

/* ---- several sessions at once: hammer and check ---- */

/* A block that says what it is: its length and a sum of its bytes. */
static uint32_t self_len(unsigned r)
{
	return 16 + r % 5000;
}

static void self_fill(uint8_t *b, uint32_t len, unsigned r)
{
	uint32_t sum = 0;

	fill(b + 8, len - 8, r);
	for (uint32_t i = 8; i < len; i++)
		sum = sum * 31 + b[i];
	put_be32(b, len);
	put_be32(b + 4, sum);
}

static int self_ok(const uint8_t *b, uint32_t len)
{
	uint32_t sum = 0;

	if (len < 16 || get_be32(b) != len)
		return 0;
	for (uint32_t i = 8; i < len; i++)
		sum = sum * 31 + b[i];
	return get_be32(b + 4) == sum;
}

/* Every answer a well-formed status; the drive's position is shared, so
 * what each command meets is not predictable, only that it is sane. */
static int hammer(unsigned seed, unsigned n, int resets)
{
	uint8_t *b = malloc(1 << 16);

	srand(seed);
	for (unsigned i = 0; i < n; i++) {
		unsigned r = (unsigned)rand();
		struct result res;

		switch (r % 8) {
		case 0:
		case 1:
			self_fill(b, self_len(r), r);
			res = t_write(self_len(r), 0, b, (int)self_len(r));
			break;
		case 2:
		case 3:
			res = t_read(1 << 16, 0x02, b, 1 << 16);
			if (res.status == 0)
				check(self_ok(b, (uint32_t)res.len),
				      "hammer: a block read back is not whole "
				      "(%d bytes)",
				      res.len);
			break;
		case 4:
			res = t_space(r & 1 ? 0 : 1, (int)(r % 7) - 3);
			break;
		case 5:
			res = t_locate10(r % 50);
			break;
		case 6:
			res = r & 1 ? t_wfm(1) : t_rewind();
			break;
		default:
			res.status = t_pos(NULL) >= 0 ? 0 : 2;
			break;
		}
		check(res.status == 0 || res.status == 2 || res.status == 8 ||
			  res.status == 0x40,
		      "hammer: status %02xh", res.status);
		if (res.status == -1)
			return 1;
		if (resets && i % 97 == 96)
			check(iscsi_task_mgmt_lun_reset_sync(iscsi, lun) == 0,
			      "LOGICAL UNIT RESET: %s", iscsi_get_error(iscsi));
		if (failures > 5)
			break;
	}
	free(b);
	return 0;
}

/* After the hammering: the tape reads from BOP to EOD, every block
 * whole. */
static void hammer_check(void)
{
	uint8_t *b = malloc(1 << 16);
	unsigned blocks = 0, fms = 0;
	struct result r;

	for (int i = 0; i < 3; i++) { /* the unit attentions of resets */
		r = t_rewind();
		if (r.status == 0)
			break;
	}
	want_good("REWIND", r);
	for (unsigned i = 0; i < 100000; i++) {
		r = t_read(1 << 16, 0x02, b, 1 << 16);
		if (r.status == 0) {
			check(self_ok(b, (uint32_t)r.len), "block %u not whole",
			      i);
			blocks++;
		} else if (r.status == 2 && r.key == SK_NO_SENSE &&
			   (r.flags & FM)) {
			fms++;
		} else {
			break;
		}
	}
	want_sense("the end after hammering", r, SK_BLANK, 0, 5, 0, 0, 0);
	printf("%u blocks, %u filemarks\n", blocks, fms);
	free(b);
}

/* ---- kill -9: writer and verify ---- */

static uint32_t block_len(unsigned i)
{
	return 512 + (i * 2731) % 60000;
}

static int writer(const char *path)
{
	FILE *log = fopen(path, "w");
	uint8_t *b = malloc(1 << 16);
	struct result r;

	if (!log || !b)
		return 2;
	r = t_rewind();
	if (r.status)
		return 1;
	for (unsigned i = 0; i < 200000; i++) {
		fill(b, block_len(i), i);
		r = t_write(block_len(i), 0, b, (int)block_len(i));
		if (r.status != 0)
			break;
		fprintf(log, "%u\n", i);
		fflush(log);
	}
	fclose(log);
	free(b);
	return 0;
}

static int verify(const char *path)
{
	FILE *log = fopen(path, "r");
	uint8_t *b = malloc(1 << 16), *want = malloc(1 << 16);
	long acked = -1, v;
	unsigned i;
	struct result r;

	if (!log || !b || !want)
		return 2;
	while (fscanf(log, "%ld", &v) == 1)
		acked = v;
	fclose(log);
	want_good("REWIND", t_rewind());
	for (i = 0; i < 200001; i++) {
		r = t_read(1 << 16, 0x02, b, 1 << 16);
		if (r.status != 0)
			break;
		fill(want, block_len(i), i);
		check(r.len == (int)block_len(i) &&
			  !memcmp(b, want, block_len(i)),
		      "block %u: %d bytes, want %u, or not its bytes", i, r.len,
		      block_len(i));
		if (failures > 5)
			return 1;
	}
	want_sense("the end of the tape", r, SK_BLANK, 0, 5, 0, 0, 0);
	check((long)i > acked,
	      "%u blocks on the tape, but block %ld was acknowledged", i,
	      acked);
	printf("%ld blocks acknowledged, %u on the tape\n", acked + 1, i);
	free(b);
	free(want);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode;
	char iname[128];
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: tape_io URL MODE [ARG...]\n");
		return 2;
	}
	mode = argv[2];
	/* One initiator per process: sessions side by side, not one
	 * reinstating another. */
	snprintf(iname, sizeof(iname), "%s-%d", INITIATOR, (int)getpid());
	iscsi =
	    itest_login(argv[1], iname, &lun, strcmp(mode, "nomedium") != 0);
	if (!iscsi)
		return 2;
	/* A lost session ends the program (the writer when lunard is
	 * killed), never a silent reconnect that writes on. */
	iscsi_set_noautoreconnect(iscsi, 1);
	if (!strcmp(mode, "func")) {
		func_identity();
		func_write_read();
		func_space_locate();
		func_fixed();
		func_load();
	} else if (!strcmp(mode, "small")) {
		small();
	} else if (!strcmp(mode, "ro")) {
		readonly();
	} else if (!strcmp(mode, "crc")) {
		crc();
	} else if (!strcmp(mode, "nomedium")) {
		nomedium();
	} else if (!strcmp(mode, "hammer") && (argc == 4 || argc == 5)) {
		rc = hammer((unsigned)atoi(argv[3]),
			    argc == 5 ? (unsigned)atoi(argv[4]) : 6000,
			    atoi(argv[3]) == 1);
	} else if (!strcmp(mode, "check")) {
		hammer_check();
	} else if (!strcmp(mode, "writer") && argc == 4) {
		return writer(argv[3]);
	} else if (!strcmp(mode, "verify") && argc == 4) {
		rc = verify(argv[3]);
	} else {
		fprintf(stderr, "tape_io: unknown mode %s\n", mode);
		return 2;
	}
	if (rc)
		return rc;
	iscsi_logout_sync(iscsi);
	iscsi_destroy_context(iscsi);
	return check_verdict();
}
