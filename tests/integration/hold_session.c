/*
 * hold_session: logs in to one LUN with libiscsi and keeps the session
 * open, for tests that need "a session is logged in" (deleting a busy
 * target, SIGTERM with sessions, session listing). Prints "logged-in" once
 * the login and a first TEST UNIT READY succeeded, then sends TEST UNIT
 * READY once a second.
 *
 * usage: hold_session [-i INITIATOR] URL SECONDS
 * Exits 0 after SECONDS or on SIGTERM/SIGINT (logging out first); 2 when
 * the login fails; 3 when the target drops the session ("session lost").
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

static volatile sig_atomic_t hold_stop;

static void on_signal(int sig)
{
	hold_stop = 1;
}

static int tur(struct iscsi_context *iscsi, int lun)
{
	struct scsi_task *task = iscsi_testunitready_sync(iscsi, lun);
	int ok = task && task->status == SCSI_STATUS_GOOD;

	/* A unit attention (e.g. after a LUN change) is a live session. */
	if (task && task->status == SCSI_STATUS_CHECK_CONDITION &&
	    task->sense.key == SCSI_SENSE_UNIT_ATTENTION)
		ok = 1;
	if (task)
		scsi_free_scsi_task(task);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *initiator = "iqn.2026-11.org.lunar:hold-session";
	struct sigaction sa = {.sa_handler = on_signal};
	struct iscsi_context *iscsi;
	struct iscsi_url *url;
	int opt, seconds;
	time_t end;

	while ((opt = getopt(argc, argv, "i:")) != -1) {
		if (opt != 'i') {
			fprintf(stderr,
				"usage: hold_session [-i INITIATOR] URL "
				"SECONDS\n");
			return 2;
		}
		initiator = optarg;
	}
	if (argc - optind != 2) {
		fprintf(stderr,
			"usage: hold_session [-i INITIATOR] URL SECONDS\n");
		return 2;
	}
	seconds = atoi(argv[optind + 1]);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	iscsi = iscsi_create_context(initiator);
	if (!iscsi) {
		fprintf(stderr, "hold_session: out of memory\n");
		return 2;
	}
	url = iscsi_parse_full_url(iscsi, argv[optind]);
	if (!url) {
		fprintf(stderr, "hold_session: bad URL %s: %s\n", argv[optind],
			iscsi_get_error(iscsi));
		return 2;
	}
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	iscsi_set_timeout(iscsi, 10);
	iscsi_set_noautoreconnect(iscsi, 1);
	if (url->user[0])
		iscsi_set_initiator_username_pwd(iscsi, url->user, url->passwd);
	if (iscsi_set_targetname(iscsi, url->target) ||
	    iscsi_full_connect_sync(iscsi, url->portal, url->lun) ||
	    tur(iscsi, url->lun) < 0) {
		fprintf(stderr, "hold_session: login to %s failed: %s\n",
			argv[optind], iscsi_get_error(iscsi));
		return 2;
	}
	printf("logged-in\n");
	fflush(stdout);

	end = time(NULL) + seconds;
	while (!hold_stop && time(NULL) < end) {
		struct timespec ts = {.tv_sec = 1};

		nanosleep(&ts, NULL); /* a signal ends it early */
		if (hold_stop)
			break;
		if (tur(iscsi, url->lun) < 0) {
			printf("session lost: %s\n", iscsi_get_error(iscsi));
			fflush(stdout);
			iscsi_destroy_url(url);
			iscsi_destroy_context(iscsi);
			return 3;
		}
	}
	iscsi_logout_sync(iscsi);
	iscsi_disconnect(iscsi);
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	printf("logged-out\n");
	return 0;
}
