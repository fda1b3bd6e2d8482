/*
 * resize_watch: an initiator that stays logged in while an admin resizes
 * its LUN (SBC-4 §4.10, SAM-5 §5.14). After login it clears the unit
 * attentions of the login and prints "ready BYTES" (the capacity READ
 * CAPACITY (16) reports). Then, for every line "check" on stdin, it sends
 * one READ CAPACITY (16), prints "ua ASC/ASCQ" (hex) if that command got a
 * unit attention or "good" if it did not, then reads the capacity again
 * and prints "capacity BYTES". "quit" (or EOF) logs out.
 *
 * usage: resize_watch URL
 * Exits 0 after logout, 2 when the login fails, 3 on a lost session.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define INITIATOR "iqn.2026-11.org.lunar:resize-watch"

/* One READ CAPACITY (16): 0 with the capacity, 1 with a unit attention
 * (its ASC and ASCQ), -1 when the session failed or another error came. */
static int read_capacity(struct iscsi_context *iscsi, int lun, uint64_t *bytes,
			 int *asc, int *ascq)
{
	struct scsi_task *t = iscsi_readcapacity16_sync(iscsi, lun);
	struct scsi_readcapacity16 *rc16;
	int ret = -1;

	if (!t)
		return -1;
	if (t->status == SCSI_STATUS_CHECK_CONDITION &&
	    t->sense.key == SCSI_SENSE_UNIT_ATTENTION) {
		*asc = t->sense.ascq >> 8;
		*ascq = t->sense.ascq & 0xff;
		ret = 1;
	} else if (t->status == SCSI_STATUS_GOOD &&
		   (rc16 = scsi_datain_unmarshall(t)) != NULL) {
		*bytes =
		    (rc16->returned_lba + 1) * (uint64_t)rc16->block_length;
		ret = 0;
	} else {
		fprintf(stderr,
			"resize_watch: READ CAPACITY(16): status 0x%x "
			"sense %x/%04x\n",
			t->status, t->sense.key, t->sense.ascq);
	}
	scsi_free_scsi_task(t);
	return ret;
}

int main(int argc, char **argv)
{
	struct iscsi_context *iscsi;
	struct iscsi_url *url;
	char line[64];
	uint64_t bytes = 0;
	int asc = 0, ascq = 0, rc = -1;

	if (argc != 2) {
		fprintf(stderr, "usage: resize_watch URL\n");
		return 2;
	}
	iscsi = iscsi_create_context(INITIATOR);
	url = iscsi ? iscsi_parse_full_url(iscsi, argv[1]) : NULL;
	if (!url) {
		fprintf(stderr, "resize_watch: bad URL %s\n", argv[1]);
		return 2;
	}
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_timeout(iscsi, 10);
	iscsi_set_noautoreconnect(iscsi, 1);
	if (iscsi_set_targetname(iscsi, url->target) ||
	    iscsi_full_connect_sync(iscsi, url->portal, url->lun)) {
		fprintf(stderr, "resize_watch: login failed: %s\n",
			iscsi_get_error(iscsi));
		return 2;
	}
	/* The login's own unit attentions (POWER ON): at most a few. */
	for (int i = 0; i < 8; i++) {
		rc = read_capacity(iscsi, url->lun, &bytes, &asc, &ascq);
		if (rc != 1)
			break;
	}
	if (rc != 0) {
		fprintf(stderr, "resize_watch: no capacity after login\n");
		return 3;
	}
	printf("ready %llu\n", (unsigned long long)bytes);
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin) &&
	       strncmp(line, "check", 5) == 0) {
		rc = read_capacity(iscsi, url->lun, &bytes, &asc, &ascq);
		if (rc < 0)
			return 3;
		if (rc == 1)
			printf("ua %02x/%02x\n", asc, ascq);
		else
			printf("good\n");
		if (read_capacity(iscsi, url->lun, &bytes, &asc, &ascq) != 0)
			return 3;
		printf("capacity %llu\n", (unsigned long long)bytes);
		fflush(stdout);
	}
	iscsi_logout_sync(iscsi);
	iscsi_disconnect(iscsi);
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return 0;
}
