/*
 * xcopy: third-party copy end to end with libiscsi. Writes MIB MiB of a
 * known pattern at the start of the source LU, a different pattern over
 * the destination, checks that the destination advertises the copy
 * manager (3PC, VPD page 8Fh listed and answering), then asks the
 * destination's copy manager for an EXTENDED COPY (LID1) from source to
 * destination through identification CSCD descriptors naming both LUs by
 * their NAA designators (VPD page 83h), in four segments; checks COPY
 * STATUS (RECEIVE COPY RESULTS) and reads the destination back. With a
 * third URL, a copy onto that (read-only) LU must fail with DATA PROTECT.
 *
 * usage: xcopy SRC_URL DST_URL MIB [READONLY_URL]
 * Exits 0 on success, 1 when a check fails, 2 on a usage or login error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "be.h"

#define CHUNK		(1u << 20)
#define SEGMENTS	4
#define CSCD_LEN	32
#define SEG_LEN		28
#define HDR_LEN		16
#define LIST_ID		1
#define SK_DATA_PROTECT 0x07

struct lu {
	const char *url;
	struct iscsi_context *iscsi;
	int lun;
	uint32_t block_size;
	uint64_t blocks;
	uint8_t naa[16];
};

static int check_failed;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "xcopy: FAIL: " __VA_ARGS__);          \
			fputc('\n', stderr);                                   \
			check_failed = 1;                                      \
			return -1;                                             \
		}                                                              \
	} while (0)

static int lu_login(struct lu *lu, const char *initiator)
{
	struct iscsi_url *url;
	struct scsi_task *task;
	struct scsi_readcapacity16 *rc16;

	lu->iscsi = iscsi_create_context(initiator);
	if (!lu->iscsi)
		return -1;
	url = iscsi_parse_full_url(lu->iscsi, lu->url);
	if (!url) {
		fprintf(stderr, "xcopy: bad URL %s: %s\n", lu->url,
			iscsi_get_error(lu->iscsi));
		return -1;
	}
	iscsi_set_targetname(lu->iscsi, url->target);
	iscsi_set_session_type(lu->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(lu->iscsi, ISCSI_HEADER_DIGEST_NONE);
	lu->lun = url->lun;
	if (iscsi_full_connect_sync(lu->iscsi, url->portal, url->lun)) {
		fprintf(stderr, "xcopy: login to %s failed: %s\n", lu->url,
			iscsi_get_error(lu->iscsi));
		iscsi_destroy_url(url);
		return -1;
	}
	iscsi_destroy_url(url);
	/* The first command of the session reports a unit attention. */
	for (int i = 0; i < 3; i++) {
		task = iscsi_testunitready_sync(lu->iscsi, lu->lun);
		if (task && task->status == SCSI_STATUS_GOOD) {
			scsi_free_scsi_task(task);
			break;
		}
		if (task)
			scsi_free_scsi_task(task);
	}
	task = iscsi_readcapacity16_sync(lu->iscsi, lu->lun);
	if (!task || task->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "xcopy: READ CAPACITY (16) of %s failed\n",
			lu->url);
		return -1;
	}
	rc16 = scsi_datain_unmarshall(task);
	if (!rc16)
		return -1;
	lu->block_size = rc16->block_length;
	lu->blocks = rc16->returned_lba + 1;
	scsi_free_scsi_task(task);
	return 0;
}

/* The LU's NAA designator (association LU) from VPD page 83h. */
static int lu_designator(struct lu *lu)
{
	struct scsi_task *task;
	struct scsi_inquiry_device_identification *di;
	struct scsi_inquiry_device_designator *d;
	int rc = -1;

	task = iscsi_inquiry_sync(lu->iscsi, lu->lun, 1, 0x83, 255);
	CHECK(task && task->status == SCSI_STATUS_GOOD,
	      "INQUIRY VPD 83h of %s failed", lu->url);
	di = scsi_datain_unmarshall(task);
	CHECK(di, "VPD 83h of %s does not parse", lu->url);
	for (d = di->designators; d; d = d->next) {
		if (d->association == 0 &&
		    d->designator_type == SCSI_DESIGNATOR_TYPE_NAA &&
		    d->designator_length == sizeof(lu->naa)) {
			memcpy(lu->naa, d->designator, sizeof(lu->naa));
			rc = 0;
		}
	}
	scsi_free_scsi_task(task);
	CHECK(rc == 0, "%s has no 16-byte NAA designator", lu->url);
	return 0;
}

/* 3PC in the standard data, 8Fh in VPD page 00h and answering. */
static int lu_copy_manager(struct lu *lu)
{
	struct scsi_task *task;
	int listed = 0;

	task = iscsi_inquiry_sync(lu->iscsi, lu->lun, 0, 0, 96);
	CHECK(task && task->status == SCSI_STATUS_GOOD &&
		  task->datain.size >= 6,
	      "standard INQUIRY of %s failed", lu->url);
	CHECK(task->datain.data[5] & 0x08, "%s does not set 3PC", lu->url);
	scsi_free_scsi_task(task);
	task = iscsi_inquiry_sync(lu->iscsi, lu->lun, 1, 0x00, 255);
	CHECK(task && task->status == SCSI_STATUS_GOOD,
	      "INQUIRY VPD 00h of %s failed", lu->url);
	for (int i = 4; i < task->datain.size; i++)
		listed |= task->datain.data[i] == 0x8f;
	scsi_free_scsi_task(task);
	CHECK(listed, "%s does not list VPD page 8Fh", lu->url);
	task = iscsi_inquiry_sync(lu->iscsi, lu->lun, 1, 0x8f, 1024);
	CHECK(task && task->status == SCSI_STATUS_GOOD &&
		  task->datain.size > 8 && task->datain.data[1] == 0x8f,
	      "INQUIRY VPD 8Fh of %s failed", lu->url);
	scsi_free_scsi_task(task);
	return 0;
}

static void pattern(uint8_t *p, size_t len, uint64_t off, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (off + i) * 0x9e3779b97f4a7c15ull + seed;

		p[i] = (uint8_t)(x >> 56);
	}
}

static int lu_write(struct lu *lu, uint64_t bytes, uint32_t seed)
{
	uint8_t *buf = malloc(CHUNK);

	if (!buf)
		return -1;
	for (uint64_t off = 0; off < bytes; off += CHUNK) {
		struct scsi_task *task;

		pattern(buf, CHUNK, off, seed);
		task = iscsi_write16_sync(lu->iscsi, lu->lun,
					  off / lu->block_size, buf, CHUNK,
					  (int)lu->block_size, 0, 0, 0, 0, 0);
		if (!task || task->status != SCSI_STATUS_GOOD) {
			fprintf(stderr,
				"xcopy: FAIL: WRITE (16) to %s failed\n",
				lu->url);
			free(buf);
			check_failed = 1;
			return -1;
		}
		scsi_free_scsi_task(task);
	}
	free(buf);
	return 0;
}

/* Reads bytes back and compares them with the pattern of seed. */
static int lu_verify(struct lu *lu, uint64_t bytes, uint32_t seed)
{
	uint8_t *want = malloc(CHUNK);
	int rc = 0;

	if (!want)
		return -1;
	for (uint64_t off = 0; off < bytes && rc == 0; off += CHUNK) {
		struct scsi_task *task;

		pattern(want, CHUNK, off, seed);
		task = iscsi_read16_sync(lu->iscsi, lu->lun,
					 off / lu->block_size, CHUNK,
					 (int)lu->block_size, 0, 0, 0, 0, 0);
		if (!task || task->status != SCSI_STATUS_GOOD ||
		    task->datain.size != (int)CHUNK) {
			fprintf(stderr, "xcopy: FAIL: READ (16) of %s failed\n",
				lu->url);
			rc = -1;
		} else if (memcmp(task->datain.data, want, CHUNK)) {
			fprintf(stderr,
				"xcopy: FAIL: %s differs from the source in "
				"the MiB at byte %llu\n",
				lu->url, (unsigned long long)off);
			rc = -1;
		}
		if (task)
			scsi_free_scsi_task(task);
	}
	free(want);
	if (rc)
		check_failed = 1;
	return rc;
}

static uint8_t *put_cscd(uint8_t *d, const struct lu *lu)
{
	memset(d, 0, CSCD_LEN);
	d[0] = 0xe4; /* identification descriptor */
	d[4] = 0x01; /* binary */
	d[5] = 0x03; /* association LU, NAA */
	d[7] = sizeof(lu->naa);
	memcpy(d + 8, lu->naa, sizeof(lu->naa));
	d[29] = (uint8_t)(lu->block_size >> 16);
	d[30] = (uint8_t)(lu->block_size >> 8);
	d[31] = (uint8_t)lu->block_size;
	return d + CSCD_LEN;
}

/* An EXTENDED COPY parameter list: bytes from src LBA 0 to dst LBA 0 in
 * SEGMENTS block to block segments of equal size. */
static size_t build_list(uint8_t *p, const struct lu *src, const struct lu *dst,
			 uint64_t bytes)
{
	uint8_t *d = p + HDR_LEN;
	uint64_t seg_bytes = bytes / SEGMENTS;

	memset(p, 0, HDR_LEN);
	p[0] = LIST_ID;
	p[1] = 0x00; /* LIST ID USAGE 00b: hold the results */
	put_be16(p + 2, 2 * CSCD_LEN);
	put_be32(p + 8, SEGMENTS * SEG_LEN);
	d = put_cscd(d, src);
	d = put_cscd(d, dst);
	for (unsigned i = 0; i < SEGMENTS; i++, d += SEG_LEN) {
		memset(d, 0, SEG_LEN);
		d[0] = 0x02;
		put_be16(d + 2, SEG_LEN - 4);
		put_be16(d + 4, 0);
		put_be16(d + 6, 1);
		put_be16(d + 10, (uint16_t)(seg_bytes / src->block_size));
		put_be64(d + 12, i * seg_bytes / src->block_size);
		put_be64(d + 20, i * seg_bytes / dst->block_size);
	}
	return (size_t)(d - p);
}

static int copy_status(struct lu *mgr, uint64_t bytes)
{
	struct scsi_task *task;
	const uint8_t *d;

	task = iscsi_receive_copy_results_sync(
	    mgr->iscsi, mgr->lun, SCSI_COPY_RESULTS_COPY_STATUS, LIST_ID, 64);
	CHECK(task && task->status == SCSI_STATUS_GOOD &&
		  task->datain.size >= 12,
	      "RECEIVE COPY RESULTS (COPY STATUS) failed");
	d = task->datain.data;
	CHECK((d[4] & 0x7f) == 0x01, "COPY MANAGER STATUS %02x, want 01h",
	      d[4]);
	CHECK(((unsigned)d[5] << 8 | d[6]) == SEGMENTS,
	      "SEGMENTS PROCESSED %u, want %u", (unsigned)d[5] << 8 | d[6],
	      SEGMENTS);
	CHECK(d[7] == 0 && get_be32(d + 8) == bytes,
	      "TRANSFER COUNT %u (units %u), want %llu bytes", get_be32(d + 8),
	      d[7], (unsigned long long)bytes);
	scsi_free_scsi_task(task);
	return 0;
}

int main(int argc, char **argv)
{
	const char *initiator = "iqn.2026-11.org.lunar:xcopy-client";
	struct lu src = {0}, dst = {0}, ro = {0};
	uint8_t list[HDR_LEN + 2 * CSCD_LEN + SEGMENTS * SEG_LEN];
	struct iscsi_data data = {.data = list};
	struct scsi_task *task;
	struct timespec t0, t1;
	uint64_t bytes;
	uint32_t seed = (uint32_t)time(NULL) ^ (uint32_t)getpid();

	if (argc != 4 && argc != 5) {
		fprintf(stderr,
			"usage: xcopy SRC_URL DST_URL MIB [READONLY_URL]\n");
		return 2;
	}
	alarm(120); /* bounded whatever the target does */
	src.url = argv[1];
	dst.url = argv[2];
	bytes = (uint64_t)atoi(argv[3]) << 20;
	if (!bytes || lu_login(&src, initiator) || lu_login(&dst, initiator))
		return 2;
	if (bytes > src.blocks * src.block_size ||
	    bytes > dst.blocks * dst.block_size || bytes % (SEGMENTS * CHUNK)) {
		fprintf(stderr,
			"xcopy: %llu bytes do not fit both LUs or "
			"are not a multiple of 4 MiB\n",
			(unsigned long long)bytes);
		return 2;
	}
	if (lu_designator(&src) || lu_designator(&dst) || lu_copy_manager(&dst))
		return 1;
	if (lu_write(&src, bytes, seed) || lu_write(&dst, bytes, ~seed))
		return 1;

	data.size = build_list(list, &src, &dst, bytes);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	task = iscsi_extended_copy_sync(dst.iscsi, dst.lun, &data);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!task || task->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "xcopy: FAIL: EXTENDED COPY failed: %s\n",
			iscsi_get_error(dst.iscsi));
		return 1;
	}
	scsi_free_scsi_task(task);
	printf("xcopy: copied %llu MiB in %.3f s\n",
	       (unsigned long long)(bytes >> 20),
	       (double)(t1.tv_sec - t0.tv_sec) +
		   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (copy_status(&dst, bytes) || lu_verify(&dst, bytes, seed))
		return 1;
	/* The source is unchanged. */
	if (lu_verify(&src, bytes, seed))
		return 1;

	if (argc == 5) {
		ro.url = argv[4];
		if (lu_login(&ro, initiator) || lu_designator(&ro))
			return 2;
		data.size = build_list(list, &src, &ro, bytes);
		list[0] = LIST_ID + 1;
		task = iscsi_extended_copy_sync(src.iscsi, src.lun, &data);
		if (!task || task->status != SCSI_STATUS_CHECK_CONDITION ||
		    task->sense.key != SK_DATA_PROTECT) {
			fprintf(stderr,
				"xcopy: FAIL: a copy onto read-only %s did "
				"not fail with DATA PROTECT\n",
				ro.url);
			return 1;
		}
		scsi_free_scsi_task(task);
		iscsi_logout_sync(ro.iscsi);
		iscsi_destroy_context(ro.iscsi);
	}
	iscsi_logout_sync(src.iscsi);
	iscsi_logout_sync(dst.iscsi);
	iscsi_destroy_context(src.iscsi);
	iscsi_destroy_context(dst.iscsi);
	printf("xcopy: ok\n");
	return check_failed;
}
