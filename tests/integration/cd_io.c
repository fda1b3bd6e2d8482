/*
 * cd_io: a CD/DVD LU (--type cd) over an ISO image, through one libiscsi
 * session, as a CD-ROM driver sees it.
 *
 * usage: cd_io URL ISO
 *
 *   URL  iscsi://HOST:PORT/IQN/N of a LU made with --type cd --backing ISO
 *   ISO  the image, to compare what READ returns with
 *
 *  - INQUIRY: peripheral device type 05h, RMB; READ CAPACITY (10): the
 *    image's last block and 2048-byte blocks.
 *  - READ (10) of the whole image and READ (12) of a few blocks return
 *    the image's bytes (the ISO 9660 volume descriptor "CD001" at block
 *    16); WRITE (10) is INVALID COMMAND OPERATION CODE.
 *  - GET CONFIGURATION: current profile CD-ROM; READ TOC: track 1 at 0,
 *    the lead-out at the capacity.
 *  - GET EVENT STATUS NOTIFICATION: NEW MEDIA on the first poll;
 *    PREVENT ALLOW MEDIUM REMOVAL then START STOP UNIT eject: MEDIUM
 *    REMOVAL PREVENTED; after ALLOW the eject works, TEST UNIT READY and
 *    READ are NOT READY / MEDIUM NOT PRESENT, the event is MEDIA
 *    REMOVAL; the load brings the same bytes back with NEW MEDIA.
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

#define INITIATOR	    "iqn.2026-11.org.lunar:cd-io"
#define BLOCK		    2048u
#define CHUNK		    32u /* blocks a READ */
#define ASC_INVALID_OPCODE  0x2000
#define ASC_NOT_PRESENT	    0x3a00
#define ASC_REMOVAL_PREVENT 0x5302

static struct iscsi_context *iscsi;
static int lun;
static uint8_t *image;
static uint64_t image_blocks;

/* One command; the task, to be freed by the caller. */
static struct scsi_task *run(const uint8_t *cdb, int len, int dir, int xfer)
{
	struct scsi_task *task =
	    scsi_create_task(len, (unsigned char *)cdb, dir, xfer);

	if (!task || !iscsi_scsi_command_sync(iscsi, lun, task, NULL)) {
		printf("FAIL: CDB %02xh: %s\n", cdb[0], iscsi_get_error(iscsi));
		exit(1);
	}
	return task;
}

/* Runs a CDB without data and checks its status (and sense). */
static void expect(const char *what, const uint8_t *cdb, int len, int key,
		   int ascq)
{
	struct scsi_task *task = run(cdb, len, SCSI_XFER_NONE, 0);

	if (key < 0)
		check(task->status == SCSI_STATUS_GOOD, "%s: status %02xh",
		      what, task->status);
	else
		check(task->status == SCSI_STATUS_CHECK_CONDITION &&
			  (int)task->sense.key == key &&
			  (int)task->sense.ascq == ascq,
		      "%s: status %02xh sense %x/%04x, want %x/%04x", what,
		      task->status, task->sense.key, task->sense.ascq, key,
		      ascq);
	scsi_free_scsi_task(task);
}

static int load_image(const char *path)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) <= 0 ||
	    size % BLOCK || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr,
			"%s: cannot read, or not whole 2048-byte "
			"blocks\n",
			path);
		return -1;
	}
	image = malloc((size_t)size);
	if (!image || fread(image, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "%s: cannot read\n", path);
		return -1;
	}
	fclose(f);
	image_blocks = (uint64_t)size / BLOCK;
	return 0;
}

static void check_identity(void)
{
	const uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
	const uint8_t cap[10] = {0x25};
	struct scsi_task *t;

	t = run(inq, 6, SCSI_XFER_READ, 96);
	check(t->status == SCSI_STATUS_GOOD && t->datain.size >= 36,
	      "INQUIRY: status %02xh, %d bytes", t->status, t->datain.size);
	if (t->datain.size >= 2) {
		check((t->datain.data[0] & 0x1f) == 0x05,
		      "INQUIRY: peripheral device type %02xh, want 05h",
		      t->datain.data[0] & 0x1f);
		check(t->datain.data[1] & 0x80, "INQUIRY: RMB is not set");
	}
	scsi_free_scsi_task(t);

	t = run(cap, 10, SCSI_XFER_READ, 8);
	check(t->status == SCSI_STATUS_GOOD && t->datain.size == 8,
	      "READ CAPACITY: status %02xh", t->status);
	if (t->datain.size == 8) {
		check(get_be32(t->datain.data) == image_blocks - 1,
		      "READ CAPACITY: last LBA %u, want %llu",
		      get_be32(t->datain.data),
		      (unsigned long long)image_blocks - 1);
		check(get_be32(t->datain.data + 4) == BLOCK,
		      "READ CAPACITY: block length %u",
		      get_be32(t->datain.data + 4));
	}
	scsi_free_scsi_task(t);
}

/* READ (10) of blocks [lba, lba + nr) against the image. */
static void check_read10(uint32_t lba, uint32_t nr)
{
	uint8_t cdb[10] = {0x28};
	struct scsi_task *t;

	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, (uint16_t)nr);
	t = run(cdb, 10, SCSI_XFER_READ, (int)(nr * BLOCK));
	check(t->status == SCSI_STATUS_GOOD &&
		  t->datain.size == (int)(nr * BLOCK) &&
		  !memcmp(t->datain.data, image + (uint64_t)lba * BLOCK,
			  nr * BLOCK),
	      "READ (10) of %u blocks at %u: status %02xh, %d bytes, or not "
	      "the image's",
	      nr, lba, t->status, t->datain.size);
	scsi_free_scsi_task(t);
}

static void check_reads(void)
{
	uint8_t cdb[12] = {0xa8};
	struct scsi_task *t;

	for (uint64_t lba = 0; lba < image_blocks; lba += CHUNK) {
		uint64_t nr =
		    image_blocks - lba < CHUNK ? image_blocks - lba : CHUNK;

		check_read10((uint32_t)lba, (uint32_t)nr);
	}
	check(image_blocks > 16 && !memcmp(image + 16 * BLOCK, "\001CD001", 6),
	      "the image has no ISO 9660 primary volume descriptor");
	put_be32(cdb + 2, 16);
	put_be32(cdb + 6, 2);
	t = run(cdb, 12, SCSI_XFER_READ, 2 * BLOCK);
	check(t->status == SCSI_STATUS_GOOD && t->datain.size == 2 * BLOCK &&
		  !memcmp(t->datain.data, "\001CD001", 6) &&
		  !memcmp(t->datain.data, image + 16 * BLOCK, 2 * BLOCK),
	      "READ (12) at 16: status %02xh, not the volume descriptor",
	      t->status);
	scsi_free_scsi_task(t);

	/* A CD-ROM has no WRITE at all. */
	{
		uint8_t w[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 0, 0};

		expect("WRITE (10)", w, 10, SCSI_SENSE_ILLEGAL_REQUEST,
		       ASC_INVALID_OPCODE);
	}
}

static void check_disc(void)
{
	const uint8_t conf[10] = {0x46, 0, 0, 0, 0, 0, 0, 0, 64, 0};
	const uint8_t toc[10] = {0x43, 0, 0, 0, 0, 0, 0, 0, 64, 0};
	struct scsi_task *t;

	t = run(conf, 10, SCSI_XFER_READ, 64);
	check(t->status == SCSI_STATUS_GOOD && t->datain.size >= 8 &&
		  t->datain.data[6] == 0x00 && t->datain.data[7] == 0x08,
	      "GET CONFIGURATION: status %02xh, not the CD-ROM profile",
	      t->status);
	scsi_free_scsi_task(t);

	t = run(toc, 10, SCSI_XFER_READ, 64);
	check(t->status == SCSI_STATUS_GOOD && t->datain.size == 20 &&
		  t->datain.data[6] == 1 && get_be32(t->datain.data + 8) == 0 &&
		  t->datain.data[14] == 0xaa &&
		  get_be32(t->datain.data + 16) == image_blocks,
	      "READ TOC: status %02xh, %d bytes, not track 1 at 0 and the "
	      "lead-out at %llu",
	      t->status, t->datain.size, (unsigned long long)image_blocks);
	scsi_free_scsi_task(t);
}

/* GET EVENT STATUS NOTIFICATION, media class: the event code. */
static int media_event(void)
{
	const uint8_t cdb[10] = {0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0};
	struct scsi_task *t = run(cdb, 10, SCSI_XFER_READ, 8);
	int ev = -1;

	check(t->status == SCSI_STATUS_GOOD && t->datain.size == 8 &&
		  t->datain.data[2] == 4,
	      "GET EVENT STATUS NOTIFICATION: status %02xh, %d bytes",
	      t->status, t->datain.size);
	if (t->datain.size == 8)
		ev = t->datain.data[4] & 0x0f;
	scsi_free_scsi_task(t);
	return ev;
}

static void check_eject_load(void)
{
	const uint8_t prevent[6] = {0x1e, 0, 0, 0, 1, 0};
	const uint8_t allow[6] = {0x1e, 0, 0, 0, 0, 0};
	const uint8_t eject[6] = {0x1b, 0, 0, 0, 0x02, 0};
	const uint8_t load[6] = {0x1b, 0, 0, 0, 0x03, 0};
	const uint8_t tur[6] = {0};
	const uint8_t read[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	struct scsi_task *t;
	int ev;

	ev = media_event();
	check(ev == 2, "first media event %d, want NEW MEDIA (2)", ev);
	ev = media_event();
	check(ev == 0, "second media event %d, want none", ev);
	expect("PREVENT", prevent, 6, -1, 0);
	expect("eject while prevented", eject, 6, SCSI_SENSE_ILLEGAL_REQUEST,
	       ASC_REMOVAL_PREVENT);
	ev = media_event();
	check(ev == 1, "media event %d, want EJECT REQUEST (1)", ev);
	expect("ALLOW", allow, 6, -1, 0);
	expect("eject", eject, 6, -1, 0);
	expect("TEST UNIT READY without medium", tur, 6, SCSI_SENSE_NOT_READY,
	       ASC_NOT_PRESENT);
	t = run(read, 10, SCSI_XFER_READ, BLOCK);
	check(t->status == SCSI_STATUS_CHECK_CONDITION &&
		  t->sense.key == SCSI_SENSE_NOT_READY &&
		  t->sense.ascq == ASC_NOT_PRESENT,
	      "READ without medium: status %02xh sense %x/%04x", t->status,
	      t->sense.key, t->sense.ascq);
	scsi_free_scsi_task(t);
	ev = media_event();
	check(ev == 3, "media event %d, want MEDIA REMOVAL (3)", ev);
	expect("load", load, 6, -1, 0);
	expect("TEST UNIT READY after the load", tur, 6, -1, 0);
	ev = media_event();
	check(ev == 2, "media event %d, want NEW MEDIA (2)", ev);
	check_read10(16, 1);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: cd_io URL ISO\n");
		return 2;
	}
	if (load_image(argv[2]))
		return 2;
	iscsi = itest_login(argv[1], INITIATOR, &lun, true);
	if (!iscsi)
		return 2;

	check_identity();
	check_reads();
	check_disc();
	check_eject_load();

	iscsi_logout_sync(iscsi);
	iscsi_destroy_context(iscsi);
	free(image);
	return check_verdict();
}
