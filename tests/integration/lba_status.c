/*
 * lba_status: UNMAP and GET LBA STATUS on a thin LU with 512-byte logical
 * blocks in 4096-byte physical blocks (512e), over one libiscsi session.
 *
 * usage: lba_status URL
 *
 *   URL  iscsi://HOST:PORT/IQN/N of a thin LU made with
 *        --physical-block-size 4096 over a sparse file, never written
 *        before (its first 264 blocks are overwritten).
 *
 * libiscsi 1.19's GetLBAStatus.UnmapSingle cannot pass on such an LU: it
 * asks for the status of LBA i+1 and wants the first descriptor to start
 * at i+8. SBC-4 (LBA status descriptor relationships) says the first
 * descriptor starts at the requested LBA. This program checks what that
 * test meant to check, the way SBC-4 says it:
 *
 *  - READ CAPACITY(16): 512-byte blocks, LBPPBE 3, LBPME and LBPRZ set,
 *    LOWEST ALIGNED LBA 0; Block Limits VPD: OPTIMAL UNMAP GRANULARITY 8,
 *    UGAVALID with alignment 0.
 *  - For every i = 8, 16, ..., 256: the first 264 blocks written, then
 *    LBAs 0..i-1 unmapped. GET LBA STATUS at 0 gives {0, i, deallocated}
 *    then {i, 264-i, mapped}; at i-1 {i-1, 1, deallocated}; at i+1
 *    {i+1, 263-i, mapped}; every descriptor starts where the previous one
 *    ended. The unmapped blocks read back as zeros (LBPRZ), the others
 *    are unchanged.
 *  - An UNMAP of part of a physical block (LBAs 3 and 4) leaves the other
 *    six logical blocks of it intact; each unmapped block reads back
 *    either unchanged or as zeros, and the status is reported
 *    consistently (zeros where deallocated).
 *  - REPORT TYPE 2 (mapped only), 3 (deallocated only) and 4 (anchored
 *    only) list only such extents.
 *  - The last LBA has a one-block descriptor; the LBA after it is ILLEGAL
 *    REQUEST / LOGICAL BLOCK ADDRESS OUT OF RANGE; an allocation length of
 *    24 brings one whole descriptor.
 *
 * Prints "ok" and exits 0 when everything holds; else prints each failed
 * check and exits 1 (2 on usage or login errors).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "be.h"
#include "check.h"
#include "login.h"

#define INITIATOR   "iqn.2026-11.org.lunar:lba-status"
#define BLOCK	    512u
#define LBPPB	    8u
#define WRITTEN	    (256u + LBPPB) /* blocks written before each round */
#define MAX_DESCS   64u
#define ALLOC	    (8u + MAX_DESCS * 16u)
#define ST_MAPPED   0
#define ST_DEALLOC  1
#define ASC_LBA_OOR 0x2100

struct desc {
	uint64_t lba;
	uint32_t nr;
	int status;
};

static struct iscsi_context *iscsi;
static int lun;
static uint64_t capacity; /* in blocks */

static void fatal(const char *what)
{
	printf("FAIL: %s: %s\n", what, iscsi_get_error(iscsi));
	exit(1);
}

/*
 * GET LBA STATUS with REPORT TYPE type; fills d (up to MAX_DESCS) and
 * returns the number of descriptors, or -1 after a CHECK CONDITION (sense
 * key and ASC/ASCQ in *key and *ascq).
 */
static int get_lba_status(uint64_t lba, uint32_t alloc, int type,
			  struct desc *d, int *key, int *ascq)
{
	uint8_t cdb[16] = {0x9e, 0x12};
	struct scsi_task *task;
	uint32_t len, n;

	put_be64(cdb + 2, lba);
	cdb[10] = (uint8_t)(alloc >> 24);
	cdb[11] = (uint8_t)(alloc >> 16);
	cdb[12] = (uint8_t)(alloc >> 8);
	cdb[13] = (uint8_t)alloc;
	cdb[14] = (uint8_t)type;
	task = scsi_create_task(16, cdb, SCSI_XFER_READ, (int)alloc);
	if (!task || !iscsi_scsi_command_sync(iscsi, lun, task, NULL))
		fatal("GET LBA STATUS");
	if (task->status == SCSI_STATUS_CHECK_CONDITION) {
		*key = task->sense.key;
		*ascq = task->sense.ascq;
		scsi_free_scsi_task(task);
		return -1;
	}
	check(task->status == SCSI_STATUS_GOOD,
	      "GET LBA STATUS at %llu: status %02xh", (unsigned long long)lba,
	      task->status);
	if (task->datain.size < 8) {
		check(0, "GET LBA STATUS at %llu: %d bytes of data",
		      (unsigned long long)lba, task->datain.size);
		scsi_free_scsi_task(task);
		return 0;
	}
	len = get_be32(task->datain.data);
	check(len >= 4 && (len - 4) % 16 == 0,
	      "GET LBA STATUS at %llu: PARAMETER DATA LENGTH %u is not 4 "
	      "plus a multiple of 16",
	      (unsigned long long)lba, len);
	n = ((uint32_t)task->datain.size - 8) / 16;
	if (len >= 4 && (len - 4) / 16 < n)
		n = (len - 4) / 16;
	if (n > MAX_DESCS)
		n = MAX_DESCS;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = task->datain.data + 8 + 16 * i;

		d[i].lba = get_be64(p);
		d[i].nr = get_be32(p + 8);
		d[i].status = p[12] & 0x0f;
	}
	scsi_free_scsi_task(task);
	return (int)n;
}

/* All LBAs from lba on, every descriptor checked against the one before. */
static int status_all(uint64_t lba, struct desc *d)
{
	int key = 0, ascq = 0, n;

	n = get_lba_status(lba, ALLOC, 0, d, &key, &ascq);
	if (n < 0) {
		check(0, "GET LBA STATUS at %llu: CHECK CONDITION %xh/%04xh",
		      (unsigned long long)lba, key, ascq);
		return 0;
	}
	check(n >= 1, "GET LBA STATUS at %llu: no descriptor",
	      (unsigned long long)lba);
	for (int i = 0; i < n; i++) {
		uint64_t want = i == 0 ? lba : d[i - 1].lba + d[i - 1].nr;

		check(d[i].lba == want,
		      "GET LBA STATUS at %llu: descriptor %d starts at %llu, "
		      "expected %llu",
		      (unsigned long long)lba, i, (unsigned long long)d[i].lba,
		      (unsigned long long)want);
		check(d[i].nr > 0,
		      "GET LBA STATUS at %llu: descriptor %d is "
		      "empty",
		      (unsigned long long)lba, i);
		check(d[i].lba + d[i].nr <= capacity,
		      "GET LBA STATUS at %llu: descriptor %d goes past the "
		      "capacity",
		      (unsigned long long)lba, i);
	}
	return n;
}

static void expect_desc(uint64_t at, const struct desc *d, int n, int i,
			uint64_t lba, uint32_t nr, int status)
{
	if (i >= n) {
		check(0, "GET LBA STATUS at %llu: descriptor %d missing",
		      (unsigned long long)at, i);
		return;
	}
	check(d[i].lba == lba && d[i].nr == nr && d[i].status == status,
	      "GET LBA STATUS at %llu: descriptor %d is {%llu, %u, %s}, "
	      "expected {%llu, %u, %s}",
	      (unsigned long long)at, i, (unsigned long long)d[i].lba, d[i].nr,
	      d[i].status == ST_MAPPED ? "mapped" : "deallocated",
	      (unsigned long long)lba, nr,
	      status == ST_MAPPED ? "mapped" : "deallocated");
}

static void write_pattern(void)
{
	static uint8_t buf[WRITTEN * BLOCK];
	struct scsi_task *t;

	memset(buf, 'A', sizeof(buf));
	t = iscsi_write16_sync(iscsi, lun, 0, buf, sizeof(buf), BLOCK, 0, 0, 0,
			       0, 0);
	if (!t || t->status != SCSI_STATUS_GOOD)
		fatal("WRITE(16) of the pattern");
	scsi_free_scsi_task(t);
}

static void unmap(uint64_t lba, uint32_t nr)
{
	struct unmap_list l = {.lba = lba, .num = nr};
	struct scsi_task *t = iscsi_unmap_sync(iscsi, lun, 0, 0, &l, 1);

	if (!t)
		fatal("UNMAP");
	check(t->status == SCSI_STATUS_GOOD, "UNMAP %llu+%u: status %02xh",
	      (unsigned long long)lba, nr, t->status);
	scsi_free_scsi_task(t);
}

/* Reads nr blocks at lba into out. */
static void read_blocks(uint64_t lba, uint32_t nr, uint8_t *out)
{
	struct scsi_task *t = iscsi_read16_sync(iscsi, lun, lba, nr * BLOCK,
						BLOCK, 0, 0, 0, 0, 0);

	if (!t || t->status != SCSI_STATUS_GOOD ||
	    t->datain.size != (int)(nr * BLOCK))
		fatal("READ(16)");
	memcpy(out, t->datain.data, nr * BLOCK);
	scsi_free_scsi_task(t);
}

static int all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static void check_geometry(void)
{
	struct scsi_task *t = iscsi_readcapacity16_sync(iscsi, lun);
	struct scsi_readcapacity16 *rc;
	struct scsi_inquiry_block_limits *bl;

	if (!t || t->status != SCSI_STATUS_GOOD)
		fatal("READ CAPACITY(16)");
	rc = scsi_datain_unmarshall(t);
	if (!rc)
		fatal("READ CAPACITY(16) data");
	capacity = rc->returned_lba + 1;
	check(rc->block_length == BLOCK, "block length %u, expected %u",
	      rc->block_length, BLOCK);
	check(rc->lbppbe == 3, "LBPPBE %u, expected 3", rc->lbppbe);
	check(rc->lbpme && rc->lbprz, "LBPME %d, LBPRZ %d: both expected",
	      rc->lbpme, rc->lbprz);
	check(rc->lalba == 0, "LOWEST ALIGNED LBA %u, expected 0", rc->lalba);
	scsi_free_scsi_task(t);

	t = iscsi_inquiry_sync(iscsi, lun, 1,
			       SCSI_INQUIRY_PAGECODE_BLOCK_LIMITS, 255);
	if (!t || t->status != SCSI_STATUS_GOOD)
		fatal("INQUIRY Block Limits VPD");
	bl = scsi_datain_unmarshall(t);
	if (!bl)
		fatal("Block Limits VPD data");
	check(bl->opt_unmap_gran == LBPPB && bl->ugavalid &&
		  bl->unmap_gran_align == 0,
	      "Block Limits: OPTIMAL UNMAP GRANULARITY %u, UGAVALID %d, "
	      "alignment %u; expected 8, 1, 0",
	      bl->opt_unmap_gran, bl->ugavalid, bl->unmap_gran_align);
	scsi_free_scsi_task(t);
}

/* The UnmapSingle scenario, with the descriptors SBC-4 requires. */
static void check_unmapped_prefixes(void)
{
	static uint8_t data[WRITTEN * BLOCK];
	struct desc d[MAX_DESCS];
	int n;

	for (uint32_t i = LBPPB; i + LBPPB <= 256; i += LBPPB) {
		int before = failures;

		write_pattern();
		unmap(0, i);

		n = status_all(0, d);
		expect_desc(0, d, n, 0, 0, i, ST_DEALLOC);
		expect_desc(0, d, n, 1, i, WRITTEN - i, ST_MAPPED);

		n = status_all(i - 1, d);
		expect_desc(i - 1, d, n, 0, i - 1, 1, ST_DEALLOC);

		n = status_all(i + 1, d);
		expect_desc(i + 1, d, n, 0, i + 1, WRITTEN - i - 1, ST_MAPPED);

		n = status_all(i + LBPPB, d);
		expect_desc(i + LBPPB, d, n, 0, i + LBPPB, WRITTEN - i - LBPPB,
			    ST_MAPPED);

		read_blocks(0, WRITTEN, data);
		check(all_bytes(data, (size_t)i * BLOCK, 0),
		      "LBAs 0..%u were unmapped but do not read back as zeros",
		      i - 1);
		check(all_bytes(data + (size_t)i * BLOCK,
				(size_t)(WRITTEN - i) * BLOCK, 'A'),
		      "LBAs %u..%u changed although only 0..%u were unmapped",
		      i, WRITTEN - 1, i - 1);
		if (failures != before) {
			printf("  (round with %u unmapped blocks)\n", i);
			return;
		}
	}
}

/* UNMAP of two logical blocks inside one physical block. */
static void check_partial_physical(void)
{
	uint8_t data[LBPPB * BLOCK];
	struct desc d[MAX_DESCS];
	int n, zeroed = 0;

	write_pattern();
	unmap(3, 2);
	read_blocks(0, LBPPB, data);
	for (uint32_t b = 0; b < LBPPB; b++) {
		const uint8_t *p = data + (size_t)b * BLOCK;

		if (b == 3 || b == 4) {
			int z = all_bytes(p, BLOCK, 0);

			check(
			    z || all_bytes(p, BLOCK, 'A'),
			    "unmapped LBA %u reads back neither zeros nor its "
			    "old data",
			    b);
			zeroed += z;
		} else {
			check(all_bytes(p, BLOCK, 'A'),
			      "LBA %u changed by an UNMAP of LBAs 3 and 4", b);
		}
	}
	/* LBA 2 shares the physical block with 3 and 4 and is mapped. */
	n = status_all(2, d);
	expect_desc(2, d, n, 0, 2, d[0].nr, ST_MAPPED);
	/* Where LBA 3 is reported deallocated, it must read zeros. */
	n = status_all(3, d);
	if (n >= 1 && d[0].status == ST_DEALLOC)
		check(
		    zeroed == 2 && d[0].nr <= 2,
		    "LBA 3 reported deallocated ({3, %u}) but LBAs 3-4 do not "
		    "both read zeros",
		    d[0].nr);
}

static void check_report_types(void)
{
	struct desc d[MAX_DESCS];
	int key = 0, ascq = 0, n;

	write_pattern();
	unmap(0, 2 * LBPPB);

	n = get_lba_status(0, ALLOC, 2, d, &key, &ascq);
	check(n >= 1, "REPORT TYPE 2 (mapped): %d descriptors", n);
	for (int i = 0; i < n; i++)
		check(d[i].status == ST_MAPPED,
		      "REPORT TYPE 2: descriptor %d at %llu is not mapped", i,
		      (unsigned long long)d[i].lba);
	if (n >= 1)
		expect_desc(0, d, n, 0, 2 * LBPPB, WRITTEN - 2 * LBPPB,
			    ST_MAPPED);

	n = get_lba_status(0, ALLOC, 3, d, &key, &ascq);
	check(n >= 2, "REPORT TYPE 3 (deallocated): %d descriptors", n);
	for (int i = 0; i < n; i++)
		check(d[i].status == ST_DEALLOC,
		      "REPORT TYPE 3: descriptor %d at %llu is not deallocated",
		      i, (unsigned long long)d[i].lba);
	if (n >= 2) {
		expect_desc(0, d, n, 0, 0, 2 * LBPPB, ST_DEALLOC);
		check(d[1].lba == WRITTEN,
		      "REPORT TYPE 3: second extent at %llu, expected %u",
		      (unsigned long long)d[1].lba, WRITTEN);
	}

	n = get_lba_status(0, ALLOC, 4, d, &key, &ascq);
	check(n == 0,
	      "REPORT TYPE 4 (anchored): %d descriptors, expected "
	      "none (lunar never anchors)",
	      n);
}

static void check_edges(void)
{
	struct desc d[MAX_DESCS];
	int key = 0, ascq = 0, n;

	n = status_all(capacity - 1, d);
	expect_desc(capacity - 1, d, n, 0, capacity - 1, 1, ST_DEALLOC);
	check(n == 1, "GET LBA STATUS at the last LBA: %d descriptors", n);

	n = get_lba_status(capacity, ALLOC, 0, d, &key, &ascq);
	check(n == -1 && key == SCSI_SENSE_ILLEGAL_REQUEST &&
		  ascq == ASC_LBA_OOR,
	      "GET LBA STATUS past the capacity: expected ILLEGAL REQUEST / "
	      "LBA OUT OF RANGE, got %d descriptors, sense %xh/%04xh",
	      n, key, ascq);

	write_pattern();
	unmap(0, LBPPB);
	n = get_lba_status(0, 24, 0, d, &key, &ascq);
	check(n == 1, "allocation length 24: %d descriptors, expected 1", n);
	expect_desc(0, d, n, 0, 0, LBPPB, ST_DEALLOC);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: lba_status URL\n");
		return 2;
	}
	iscsi = itest_login(argv[1], INITIATOR, &lun, true);
	if (!iscsi)
		return 2;

	check_geometry();
	check_edges();
	check_unmapped_prefixes();
	check_partial_physical();
	check_report_types();

	iscsi_logout_sync(iscsi);
	iscsi_destroy_context(iscsi);
	return check_verdict();
}
