/*
 * ssu: sends one START STOP UNIT over a libiscsi session and prints its
 * outcome, for start_stop_flush.sh (which watches lunard's fdatasync
 * calls while it runs).
 *
 * usage: ssu URL POWER_CONDITION NO_FLUSH LOEJ START
 *
 * Unit attentions are cleared by sending the command again. Prints "GOOD"
 * or "CHECK CONDITION KEY/ASCQ" (hex) and exits 0; exits 2 on usage or
 * login errors.
 */
#include <stdio.h>
#include <stdlib.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "login.h"

int main(int argc, char **argv)
{
	struct iscsi_context *iscsi;
	struct scsi_task *t;
	int lun;

	if (argc != 6) {
		fprintf(stderr,
			"usage: ssu URL POWER_CONDITION NO_FLUSH LOEJ START\n");
		return 2;
	}
	/* Not TEST UNIT READY first: an ejected medium would fail it. */
	iscsi = itest_login(argv[1], "iqn.2026-11.org.lunar:ssu", &lun, false);
	if (!iscsi)
		return 2;
	/* A new nexus first gets its unit attentions: send again after
	 * each (at most 4), as initiators do. */
	for (int i = 0;; i++) {
		t = iscsi_startstopunit_sync(iscsi, lun, 0, 0, atoi(argv[2]),
					     atoi(argv[3]), atoi(argv[4]),
					     atoi(argv[5]));
		if (!t) {
			fprintf(stderr, "ssu: %s\n", iscsi_get_error(iscsi));
			return 2;
		}
		if (i == 3 || t->status != SCSI_STATUS_CHECK_CONDITION ||
		    t->sense.key != SCSI_SENSE_UNIT_ATTENTION)
			break;
		scsi_free_scsi_task(t);
	}
	if (t->status == SCSI_STATUS_CHECK_CONDITION)
		printf("CHECK CONDITION %x/%04x\n", t->sense.key,
		       t->sense.ascq);
	else if (t->status == SCSI_STATUS_GOOD)
		printf("GOOD\n");
	else
		printf("status %02x\n", t->status);
	scsi_free_scsi_task(t);
	iscsi_logout_sync(iscsi);
	iscsi_destroy_context(iscsi);
	return 0;
}
