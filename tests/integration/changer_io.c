/*
 * changer_io: a medium changer LU (--type changer) and its cd drives,
 * through libiscsi sessions, as mtx or a backup application sees them.
 *
 * usage: changer_io main CHANGER_URL DRIVE1_URL DRIVE2_URL ISO_A
 *        changer_io hold CHANGER_URL
 *        changer_io verify CHANGER_URL DRIVE1_URL DRIVE2_URL ISO_A
 *
 * The library (changer.sh makes it): drives LUN 1 at element 1 and LUN 2
 * at element 2, one import/export element at 100h, four slots from 1000h;
 * cartridge A0001 (ISO_A) in slot 1000h, B0002 (ISO_B) in slot 1001h.
 *
 * main: INQUIRY (08h), mode page 1Dh, READ ELEMENT STATUS of everything
 * with and without VOLTAG, of one type from a starting address, with
 * DVCID (the drive's T10 vendor ID designator, matched against the
 * drive's own VPD page 83h), truncated by the allocation length; MOVE
 * MEDIUM slot -> drive (the drive then READs ISO_A's bytes), its errors
 * (source empty, destination full, invalid address, a drive whose
 * initiator prevents removal), drive -> slot, slot -> import/export;
 * INITIALIZE ELEMENT STATUS (WITH RANGE), POSITION TO ELEMENT, EXCHANGE
 * MEDIUM absent; ends with A0001 in drive LUN 2.
 * hold: prevents medium removal on the changer (locking its I/E element),
 * prints "held", waits for EOF on stdin, then expects MEDIUM MAY HAVE
 * CHANGED (the admin changed the inventory meanwhile) and allows removal.
 * verify (after a restart): A0001 is in drive 2 (its READ returns ISO_A's
 * bytes) and drive 1 is empty.
 *
 * Prints "ok" and exits 0 when everything holds; else prints each failed
 * check and exits 1 (2 on usage, file or login errors).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "be.h"
#include "check.h"
#include "login.h"

#define INITIATOR	     "iqn.2026-11.org.lunar:changer-io"
#define INITIATOR_HOLD	     "iqn.2026-11.org.lunar:changer-hold"
#define BLOCK		     2048u
#define KEY_NOT_READY	     0x2
#define KEY_ILLEGAL	     0x5
#define KEY_UNIT_ATTENTION   0x6
#define ASC_INVALID_OPCODE   0x2000
#define ASC_INVALID_ELEMENT  0x2101
#define ASC_DEST_FULL	     0x3b0d
#define ASC_SOURCE_EMPTY     0x3b0e
#define ASC_REMOVAL_PREVENT  0x5302
#define ASC_NOT_PRESENT	     0x3a00
#define ASC_MAY_HAVE_CHANGED 0x2800

struct lu {
	struct iscsi_context *iscsi;
	int lun;
	const char *name;
};

static struct lu chg, drv1, drv2;
static uint8_t *image;
static size_t image_len;

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static struct scsi_task *run(struct lu *u, const uint8_t *cdb, int len, int dir,
			     int xfer)
{
	struct scsi_task *task =
	    scsi_create_task(len, (unsigned char *)cdb, dir, xfer);

	if (!task || !iscsi_scsi_command_sync(u->iscsi, u->lun, task, NULL)) {
		printf("FAIL: %s: CDB %02xh: %s\n", u->name, cdb[0],
		       iscsi_get_error(u->iscsi));
		exit(1);
	}
	return task;
}

/* A CDB without data; key < 0: GOOD expected. */
static void expect(struct lu *u, const char *what, const uint8_t *cdb, int len,
		   int key, int ascq)
{
	struct scsi_task *t = run(u, cdb, len, SCSI_XFER_NONE, 0);

	if (key < 0)
		check(t->status == SCSI_STATUS_GOOD,
		      "%s: status %02xh sense %x/%04x", what, t->status,
		      t->sense.key, t->sense.ascq);
	else
		check(t->status == SCSI_STATUS_CHECK_CONDITION &&
			  (int)t->sense.key == key &&
			  (int)t->sense.ascq == ascq,
		      "%s: status %02xh sense %x/%04x, want %x/%04x", what,
		      t->status, t->sense.key, t->sense.ascq, key, ascq);
	scsi_free_scsi_task(t);
}

static void move(const char *what, uint16_t src, uint16_t dst, int key,
		 int ascq)
{
	uint8_t cdb[12] = {0xa5};

	put_be16(cdb + 4, src);
	put_be16(cdb + 6, dst);
	expect(&chg, what, cdb, 12, key, ascq);
}

static void prevent(struct lu *u, int on)
{
	const uint8_t cdb[6] = {0x1e, 0, 0, 0, (uint8_t)on, 0};

	expect(u, on ? "PREVENT" : "ALLOW", cdb, 6, -1, 0);
}

/* READ ELEMENT STATUS; the task, to be freed by the caller. */
static struct scsi_task *res(int type, int voltag, uint16_t start,
			     uint16_t count, int dvcid, uint32_t alloc)
{
	uint8_t cdb[12] = {0xb8};

	cdb[1] = (uint8_t)((voltag ? 0x10 : 0) | type);
	put_be16(cdb + 2, start);
	put_be16(cdb + 4, count);
	cdb[6] = dvcid ? 0x01 : 0;
	cdb[7] = (uint8_t)(alloc >> 16);
	cdb[8] = (uint8_t)(alloc >> 8);
	cdb[9] = (uint8_t)alloc;
	return run(&chg, cdb, 12, SCSI_XFER_READ, (int)alloc);
}

/* The descriptor of element addr in status data d (NULL if absent), its
 * page's type and descriptor length. */
static const uint8_t *res_find(const struct scsi_task *t, uint16_t addr,
			       int *type, int *dlen)
{
	const uint8_t *d = t->datain.data;
	size_t n = (size_t)t->datain.size, off = 8;

	while (off + 8 <= n) {
		int pt = d[off], len = get_be16(d + off + 2);
		uint32_t bytes = get_be24(d + off + 5);
		size_t p = off + 8;

		if (!len)
			return NULL;
		for (; p + (size_t)len <= off + 8 + bytes && p + len <= n;
		     p += (size_t)len) {
			if (get_be16(d + p) == addr) {
				*type = pt;
				*dlen = len;
				return d + p;
			}
		}
		off += 8 + bytes;
	}
	return NULL;
}

/* Element addr is full (with barcode, when given) or empty. */
static void expect_elem(const char *what, uint16_t addr, const char *barcode)
{
	struct scsi_task *t = res(0, 1, 0, 0xffff, 0, 65535);
	const uint8_t *e;
	int type = 0, dlen = 0;

	e = res_find(t, addr, &type, &dlen);
	check(e != NULL, "%s: element %04xh not reported", what, addr);
	if (e && barcode) {
		char tag[33];

		snprintf(tag, sizeof(tag), "%-32s", barcode);
		check(e[2] & 0x01, "%s: element %04xh is empty", what, addr);
		check(dlen >= 48 && memcmp(e + 12, tag, 32) == 0,
		      "%s: element %04xh volume tag '%.32s', want '%s'", what,
		      addr, e + 12, tag);
	} else if (e) {
		check(!(e[2] & 0x01), "%s: element %04xh is full", what, addr);
	}
	scsi_free_scsi_task(t);
}

static void check_identity(void)
{
	const uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
	const uint8_t ms[6] = {0x1a, 0x08, 0x1d, 0, 255, 0};
	struct scsi_task *t = run(&chg, inq, 6, SCSI_XFER_READ, 96);

	check(t->status == SCSI_STATUS_GOOD && t->datain.size >= 36 &&
		  (t->datain.data[0] & 0x1f) == 0x08,
	      "INQUIRY: not a medium changer (08h)");
	scsi_free_scsi_task(t);

	t = run(&chg, ms, 6, SCSI_XFER_READ, 255);
	check(t->status == SCSI_STATUS_GOOD && t->datain.size >= 24,
	      "MODE SENSE 1Dh: status %02xh, %d bytes", t->status,
	      t->datain.size);
	if (t->datain.size >= 24) {
		const uint8_t *p = t->datain.data + 4 + t->datain.data[3];
		const uint16_t want[8] = {0, 1, 0x1000, 4, 0x100, 1, 1, 2};

		check((p[0] & 0x3f) == 0x1d && p[1] == 0x12,
		      "page 1Dh header %02x %02x", p[0], p[1]);
		for (int i = 0; i < 8; i++)
			check(get_be16(p + 2 + 2 * i) == want[i],
			      "page 1Dh field %d: %u, want %u", i,
			      get_be16(p + 2 + 2 * i), want[i]);
	}
	scsi_free_scsi_task(t);
}

static void check_res(void)
{
	struct scsi_task *t;
	const uint8_t *d, *e;
	int type, dlen;

	/* Everything, no volume tags: 8 elements, 12-byte descriptors,
	 * pages in address order MT, DT, I/E, ST. */
	t = res(0, 0, 0, 0xffff, 0, 4096);
	d = t->datain.data;
	check(t->status == SCSI_STATUS_GOOD &&
		  t->datain.size == 8 + 4 * 8 + 8 * 12,
	      "RES all: status %02xh, %d bytes, want %d", t->status,
	      t->datain.size, 8 + 4 * 8 + 8 * 12);
	if (t->datain.size == 8 + 4 * 8 + 8 * 12) {
		check(get_be16(d) == 0 && get_be16(d + 2) == 8 &&
			  get_be24(d + 5) == 4 * 8 + 8 * 12,
		      "RES all: header first %u, %u elements, %u bytes",
		      get_be16(d), get_be16(d + 2), get_be24(d + 5));
		check(d[8] == 1 && d[8 + 8 + 12] == 4 &&
			  d[8 + 2 * 8 + 3 * 12] == 3 &&
			  d[8 + 3 * 8 + 4 * 12] == 2,
		      "RES all: page types out of order");
		check(get_be16(d + 10) == 12 && !(d[9] & 0x80),
		      "RES all: descriptor length %u, PVOLTAG %d",
		      get_be16(d + 10), d[9] >> 7);
	}
	scsi_free_scsi_task(t);

	/* Truncated to the header: the byte count still tells all. */
	t = res(0, 1, 0, 0xffff, 0, 8);
	check(t->status == SCSI_STATUS_GOOD && t->datain.size == 8 &&
		  get_be24(t->datain.data + 5) == 4 * 8 + 8 * 48,
	      "RES truncated: %d bytes, byte count %u", t->datain.size,
	      t->datain.size >= 8 ? get_be24(t->datain.data + 5) : 0);
	scsi_free_scsi_task(t);

	/* An allocation length of 0 is no error: GOOD, no data (the
	 * fuzzer found the status built into a buffer that was not there). */
	t = res(0, 1, 0, 0xffff, 0, 0);
	check(t->status == SCSI_STATUS_GOOD && t->datain.size == 0,
	      "RES with allocation length 0: status %d, %d bytes", t->status,
	      t->datain.size);
	scsi_free_scsi_task(t);

	/* Slots from 1001h, two of them, with volume tags. */
	t = res(2, 1, 0x1001, 2, 0, 1024);
	d = t->datain.data;
	check(t->status == SCSI_STATUS_GOOD && t->datain.size == 8 + 8 + 2 * 48,
	      "RES slots from 1001h: %d bytes", t->datain.size);
	if (t->datain.size == 8 + 8 + 2 * 48) {
		check(get_be16(d) == 0x1001 && get_be16(d + 2) == 2 &&
			  d[8] == 2 && (d[9] & 0x80) && get_be16(d + 10) == 48,
		      "RES slots: header or page header wrong");
		check(get_be16(d + 16) == 0x1001 && (d[18] & 0x09) == 0x09 &&
			  memcmp(d + 28, "B0002   ", 8) == 0,
		      "RES slots: 1001h not full with B0002");
		check(get_be16(d + 64) == 0x1002 && !(d[66] & 0x01),
		      "RES slots: 1002h not empty");
	}
	scsi_free_scsi_task(t);

	/* Drives with their identifiers: drive 1's is what its own VPD
	 * page 83h reports as its T10 vendor ID designator. */
	t = res(4, 0, 0, 0xffff, 1, 1024);
	e = res_find(t, 1, &type, &dlen);
	check(e && type == 4 && dlen >= 16,
	      "RES DVCID: drive 1 missing or short (%d)", dlen);
	if (e && dlen >= 16) {
		struct scsi_task *v =
		    iscsi_inquiry_sync(drv1.iscsi, drv1.lun, 1, 0x83, 255);
		const uint8_t *id = e + 12;
		int found = 0;

		check(id[0] == 2 && (id[1] & 0x0f) == 1 && id[3] > 8 &&
			  memcmp(id + 4, "LUNAR   ", 8) == 0,
		      "RES DVCID: code set %u type %u length %u", id[0],
		      id[1] & 0x0f, id[3]);
		for (int off = 4; v && off + 4 <= v->datain.size;
		     off += 4 + v->datain.data[off + 3]) {
			const uint8_t *p = v->datain.data + off;

			if ((p[1] & 0x0f) == 1 && p[3] == id[3] &&
			    memcmp(p + 4, id + 4, id[3]) == 0)
				found = 1;
		}
		check(found, "RES DVCID: '%.*s' is not drive 1's designator",
		      id[3], id + 4);
		if (v)
			scsi_free_scsi_task(v);
	}
	scsi_free_scsi_task(t);

	/* A bad element type code. */
	{
		uint8_t cdb[12] = {0xb8, 0x05, 0, 0, 0, 8, 0, 0, 4, 0};
		struct scsi_task *b = run(&chg, cdb, 12, SCSI_XFER_READ, 1024);

		check(b->status == SCSI_STATUS_CHECK_CONDITION &&
			  b->sense.key == KEY_ILLEGAL &&
			  b->sense.ascq == 0x2400,
		      "RES type 5: not INVALID FIELD IN CDB");
		scsi_free_scsi_task(b);
	}
}

/* READ (10) of block 16 (the ISO 9660 volume descriptor) from u. */
static void drain_ua(struct lu *u);

/* After a load the drive's nexuses see MEDIUM MAY HAVE CHANGED first. */
static void check_drive_reads(struct lu *u)
{
	uint8_t cdb[10] = {0x28, 0, 0, 0, 0, 16, 0, 0, 2, 0};
	struct scsi_task *t;

	drain_ua(u);
	t = run(u, cdb, 10, SCSI_XFER_READ, 2 * BLOCK);

	check(t->status == SCSI_STATUS_GOOD && t->datain.size == 2 * BLOCK &&
		  image_len >= 18 * BLOCK &&
		  memcmp(t->datain.data, image + 16 * BLOCK, 2 * BLOCK) == 0,
	      "%s: READ (10) of blocks 16-17 does not return ISO_A's bytes "
	      "(status %02xh sense %x/%04x)",
	      u->name, t->status, t->sense.key, t->sense.ascq);
	scsi_free_scsi_task(t);
}

static void drive_empty(struct lu *u)
{
	const uint8_t tur[6] = {0};

	expect(u, "TEST UNIT READY of an empty drive", tur, 6, KEY_NOT_READY,
	       ASC_NOT_PRESENT);
}

static void check_moves(void)
{
	struct scsi_task *t;
	const uint8_t *e;
	int type, dlen;

	move("MOVE 1000h -> drive 1", 0x1000, 1, -1, 0);
	check_drive_reads(&drv1);
	t = res(4, 1, 0, 0xffff, 0, 1024);
	e = res_find(t, 1, &type, &dlen);
	check(e && (e[2] & 0x01) && (e[9] & 0x80) && get_be16(e + 10) == 0x1000,
	      "drive 1 after the move: not full from source 1000h");
	scsi_free_scsi_task(t);
	expect_elem("after the move", 0x1000, NULL);

	move("MOVE from an empty slot", 0x1000, 2, KEY_ILLEGAL,
	     ASC_SOURCE_EMPTY);
	move("MOVE into a full drive", 0x1001, 1, KEY_ILLEGAL, ASC_DEST_FULL);
	move("MOVE into a full slot", 1, 0x1001, KEY_ILLEGAL, ASC_DEST_FULL);
	move("MOVE to no element", 0x1001, 0x2000, KEY_ILLEGAL,
	     ASC_INVALID_ELEMENT);
	move("MOVE to drive 3 (none)", 0x1001, 3, KEY_ILLEGAL,
	     ASC_INVALID_ELEMENT);
	move("MOVE from slot 1004h (none)", 0x1004, 0x1002, KEY_ILLEGAL,
	     ASC_INVALID_ELEMENT);
	{
		uint8_t cdb[12] = {0xa5, 0, 0, 5, 0x10, 0x01, 0x10, 0x02};

		expect(&chg, "MOVE with transport 5", cdb, 12, KEY_ILLEGAL,
		       ASC_INVALID_ELEMENT);
	}

	/* The drive's initiator locks it: the robot cannot take it out. */
	prevent(&drv1, 1);
	move("MOVE out of a locked drive", 1, 0x1002, KEY_ILLEGAL,
	     ASC_REMOVAL_PREVENT);
	check_drive_reads(&drv1);
	prevent(&drv1, 0);
	move("MOVE drive 1 -> 1002h", 1, 0x1002, -1, 0);
	drive_empty(&drv1);
	expect_elem("after unloading", 0x1002, "A0001");
	expect_elem("after unloading", 1, NULL);

	move("MOVE 1001h -> I/E", 0x1001, 0x100, -1, 0);
	expect_elem("slot to I/E", 0x100, "B0002");
	expect_elem("slot to I/E", 0x1001, NULL);
	move("MOVE 1002h -> drive 2", 0x1002, 2, -1, 0);
	check_drive_reads(&drv2);
}

static void check_others(void)
{
	const uint8_t ies[6] = {0x07};
	uint8_t iesr[10] = {0x37, 0x01, 0x10, 0x00, 0, 0, 0, 2, 0, 0};
	uint8_t pos[10] = {0x2b, 0, 0, 0, 0x10, 0x00};
	const uint8_t xchg[12] = {0xa6};

	expect(&chg, "INITIALIZE ELEMENT STATUS", ies, 6, -1, 0);
	expect(&chg, "INITIALIZE ELEMENT STATUS WITH RANGE 1000h", iesr, 10, -1,
	       0);
	iesr[2] = 0x50;
	expect(&chg, "INITIALIZE ELEMENT STATUS WITH RANGE 5000h", iesr, 10,
	       KEY_ILLEGAL, ASC_INVALID_ELEMENT);
	iesr[1] = 0; /* RANGE 0: all elements, address ignored */
	expect(&chg, "INITIALIZE ELEMENT STATUS WITH RANGE, RANGE 0", iesr, 10,
	       -1, 0);
	expect(&chg, "POSITION TO ELEMENT 1000h", pos, 10, -1, 0);
	pos[4] = 0x50;
	expect(&chg, "POSITION TO ELEMENT 5000h", pos, 10, KEY_ILLEGAL,
	       ASC_INVALID_ELEMENT);
	expect(&chg, "EXCHANGE MEDIUM", xchg, 12, KEY_ILLEGAL,
	       ASC_INVALID_OPCODE);
}

static int load_image(const char *path)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "%s: cannot read\n", path);
		return -1;
	}
	image = malloc((size_t)size);
	if (!image || fread(image, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "%s: cannot read\n", path);
		return -1;
	}
	fclose(f);
	image_len = (size_t)size;
	return 0;
}

static int lu_connect(struct lu *u, const char *url, const char *name,
		      const char *initiator, bool tur)
{
	u->name = name;
	u->iscsi = itest_login(url, initiator, &u->lun, tur);
	return u->iscsi ? 0 : -1;
}

/* Clears what a new nexus has pending (POWER ON and the like). */
static void drain_ua(struct lu *u)
{
	const uint8_t tur[6] = {0};

	for (int i = 0; i < 8; i++) {
		struct scsi_task *t = run(u, tur, 6, SCSI_XFER_NONE, 0);
		int ua = t->status == SCSI_STATUS_CHECK_CONDITION &&
			 t->sense.key == KEY_UNIT_ATTENTION;

		scsi_free_scsi_task(t);
		if (!ua)
			return;
	}
}

static int hold(void)
{
	const uint8_t tur[6] = {0};
	char line[64];

	drain_ua(&chg);
	prevent(&chg, 1);
	printf("held\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		;
	expect(&chg, "TEST UNIT READY after the admin's change", tur, 6,
	       KEY_UNIT_ATTENTION, ASC_MAY_HAVE_CHANGED);
	prevent(&chg, 0);
	return check_verdict();
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "hold") == 0 && argc == 3) {
		if (lu_connect(&chg, argv[2], "changer", INITIATOR_HOLD, false))
			return 2;
		return hold();
	}
	if ((strcmp(mode, "main") && strcmp(mode, "verify")) || argc != 6) {
		fprintf(stderr,
			"usage: changer_io main|verify CHANGER_URL DRIVE1_URL "
			"DRIVE2_URL ISO_A\n       changer_io hold "
			"CHANGER_URL\n");
		return 2;
	}
	if (load_image(argv[5]) ||
	    lu_connect(&chg, argv[2], "changer", INITIATOR, false) ||
	    lu_connect(&drv1, argv[3], "drive 1", INITIATOR, false) ||
	    lu_connect(&drv2, argv[4], "drive 2", INITIATOR, false))
		return 2;
	drain_ua(&chg);
	drain_ua(&drv1);
	drain_ua(&drv2);
	if (strcmp(mode, "verify") == 0) {
		expect_elem("after the restart", 2, "A0001");
		expect_elem("after the restart", 0x100, "B0002");
		expect_elem("after the restart", 1, NULL);
		check_drive_reads(&drv2);
		drive_empty(&drv1);
		return check_verdict();
	}
	check_identity();
	check_res();
	check_moves();
	check_others();
	return check_verdict();
}
