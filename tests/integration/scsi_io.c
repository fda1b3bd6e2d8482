/*
 * scsi_io: one SCSI command through a fresh libiscsi session, its outcome
 * on stdout as one line a shell test can compare:
 *   scsi_io URL write LBA BLOCKS BYTE      WRITE (16) of BLOCKS blocks of
 *                                          BYTE (hex)
 *   scsi_io URL read LBA BLOCKS BYTE       READ (16); "good" when every
 *                                          byte is BYTE, else "differs at N"
 *   scsi_io URL caw LBA OLD NEW            COMPARE AND WRITE of one block:
 *                                          all OLD bytes to all NEW bytes
 *   scsi_io URL sync                       SYNCHRONIZE CACHE (10)
 * Outcomes: "good", "sense K/ASC/ASCQ" (hex), "miscompare", "status
 * 0xNN", "transport error: ..." (exit 1 then). The initiator name is
 * $SCSI_IO_INITIATOR or iqn.2026-12.org.lunar:scsi-io.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "login.h"

static int outcome(struct iscsi_context *iscsi, struct scsi_task *task)
{
	if (!task) {
		printf("transport error: %s\n", iscsi_get_error(iscsi));
		return 1;
	}
	if (task->status == SCSI_STATUS_GOOD) {
		printf("good\n");
	} else if (task->status == SCSI_STATUS_CHECK_CONDITION) {
		if (task->sense.key == SCSI_SENSE_MISCOMPARE)
			printf("miscompare\n");
		else
			printf("sense %x/%02x/%02x\n", task->sense.key,
			       task->sense.ascq >> 8, task->sense.ascq & 0xff);
	} else {
		printf("status 0x%02x\n", task->status);
	}
	scsi_free_scsi_task(task);
	return 0;
}

static uint32_t block_size(struct iscsi_context *iscsi, int lun)
{
	struct scsi_task *t = iscsi_readcapacity16_sync(iscsi, lun);
	struct scsi_readcapacity16 *rc16;
	uint32_t bs = 512;

	if (t && t->status == SCSI_STATUS_GOOD &&
	    (rc16 = scsi_datain_unmarshall(t)))
		bs = rc16->block_length;
	if (t)
		scsi_free_scsi_task(t);
	return bs;
}

static int do_read(struct iscsi_context *iscsi, int lun, uint64_t lba,
		   uint32_t n, uint32_t bs, int byte)
{
	struct scsi_task *t =
	    iscsi_read16_sync(iscsi, lun, lba, n * bs, bs, 0, 0, 0, 0, 0);

	if (t && t->status == SCSI_STATUS_GOOD) {
		for (uint32_t i = 0; i < n * bs; i++) {
			if (t->datain.data[i] != byte) {
				printf("differs at %u: %02x\n", i,
				       t->datain.data[i]);
				scsi_free_scsi_task(t);
				return 0;
			}
		}
	}
	return outcome(iscsi, t);
}

int main(int argc, char **argv)
{
	const char *init = getenv("SCSI_IO_INITIATOR");
	struct iscsi_context *iscsi;
	struct scsi_task *t = NULL;
	unsigned char *buf;
	uint32_t bs, n;
	uint64_t lba;
	int lun, a, b, rc;

	if (argc < 3) {
		fprintf(stderr, "usage: scsi_io URL write|read|caw|sync ...\n");
		return 2;
	}
	iscsi =
	    itest_login(argv[1], init ? init : "iqn.2026-12.org.lunar:scsi-io",
			&lun, false);
	if (!iscsi)
		return 1;
	/* The new nexus's unit attentions; whatever else TEST UNIT READY
	 * says (NOT READY in an ALUA standby state) is the command's to
	 * report. */
	for (int i = 0; i < 8; i++) {
		t = iscsi_testunitready_sync(iscsi, lun);
		rc = t && t->status == SCSI_STATUS_CHECK_CONDITION &&
		     t->sense.key == SCSI_SENSE_UNIT_ATTENTION;
		if (t)
			scsi_free_scsi_task(t);
		t = NULL;
		if (!rc)
			break;
	}
	if (!strcmp(argv[2], "sync")) {
		rc = outcome(iscsi, iscsi_synchronizecache10_sync(iscsi, lun, 0,
								  0, 0, 0));
		goto out;
	}
	if (argc < 6) {
		fprintf(stderr, "%s needs LBA and two more numbers\n", argv[2]);
		return 2;
	}
	lba = strtoull(argv[3], NULL, 0);
	bs = block_size(iscsi, lun);
	if (!strcmp(argv[2], "read")) {
		rc = do_read(iscsi, lun, lba,
			     (uint32_t)strtoul(argv[4], NULL, 0), bs,
			     (int)strtol(argv[5], NULL, 16));
		goto out;
	}
	if (!strcmp(argv[2], "write")) {
		n = (uint32_t)strtoul(argv[4], NULL, 0);
		buf = malloc((size_t)n * bs);
		memset(buf, (int)strtol(argv[5], NULL, 16), (size_t)n * bs);
		t = iscsi_write16_sync(iscsi, lun, lba, buf, n * bs, bs, 0, 0,
				       0, 0, 0);
	} else if (!strcmp(argv[2], "caw")) {
		a = (int)strtol(argv[4], NULL, 16);
		b = (int)strtol(argv[5], NULL, 16);
		buf = malloc(2 * (size_t)bs);
		memset(buf, a, bs);
		memset(buf + bs, b, bs);
		t = iscsi_compareandwrite_sync(iscsi, lun, lba, buf, 2 * bs, bs,
					       0, 0, 0, 0, 0);
	} else {
		fprintf(stderr, "unknown command %s\n", argv[2]);
		return 2;
	}
	rc = outcome(iscsi, t);
	free(buf);
out:
	iscsi_logout_sync(iscsi);
	iscsi_destroy_context(iscsi);
	return rc;
}
