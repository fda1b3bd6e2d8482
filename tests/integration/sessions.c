/*
 * sessions: libiscsi clients for tests/integration/sessions.sh.
 *
 * sessions discovery ADDR:PORT INITIATOR SECONDS
 *   Logs in a discovery session (SessionType=Discovery), prints
 *   "target NAME" for each target SendTargets=All returns and
 *   "logged-in", then repeats SendTargets once a second (so that the
 *   session stays busy) until SIGTERM or SECONDS, logs out and prints
 *   "logged-out". Exit 0; 2 when the login or the first SendTargets
 *   fails; 3 when the session is lost while held.
 *
 * sessions reinstate URL INITIATOR
 *   Session reinstatement (RFC 7143 §6.3.5), driven line by line on
 *   stdin: logs in session A with ISID random-type 0x123456 qualifier
 *   0x0042 and prints "A logged-in"; after a line on stdin logs in
 *   session B with the same initiator name and ISID, checks that B
 *   answers TEST UNIT READY and that A no longer does (the target closed
 *   it), prints "B logged-in" and "A lost"; after another line logs B out
 *   and prints "logged-out". Exit 0, 1 when a check fails, 2 when a login
 *   fails.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define ISID_RANDOM    0x123456
#define ISID_QUALIFIER 0x0042

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static struct iscsi_context *context(const char *initiator,
				     enum iscsi_session_type type)
{
	struct iscsi_context *iscsi = iscsi_create_context(initiator);

	if (!iscsi) {
		fprintf(stderr, "sessions: out of memory\n");
		exit(2);
	}
	iscsi_set_session_type(iscsi, type);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_timeout(iscsi, 10);
	iscsi_set_noautoreconnect(iscsi, 1);
	return iscsi;
}

struct st_state {
	bool done, print;
	int status;
};

static void st_done(struct iscsi_context *iscsi, int status, void *command_data,
		    void *private_data)
{
	struct st_state *st = private_data;
	struct iscsi_discovery_address *a;

	st->done = true;
	st->status = status;
	/* the list (NULL when no target is left) is libiscsi's */
	for (a = command_data; st->print && status == SCSI_STATUS_GOOD && a;
	     a = a->next)
		printf("target %s\n", a->target_name);
}

/* 0: SendTargets=All answered, within 10 s (targets printed when print).
 * Asynchronous because iscsi_discovery_sync() cannot tell an empty answer
 * from a failure. */
static int send_targets(struct iscsi_context *iscsi, bool print)
{
	struct st_state st = {.print = print, .status = -1};
	time_t end = time(NULL) + 10;

	if (iscsi_discovery_async(iscsi, st_done, &st))
		return -1;
	while (!st.done && time(NULL) < end) {
		struct pollfd pfd = {.fd = iscsi_get_fd(iscsi),
				     .events =
					 (short)iscsi_which_events(iscsi)};

		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			return -1;
		if (iscsi_service(iscsi, pfd.revents) < 0)
			return -1;
	}
	return st.done && st.status == SCSI_STATUS_GOOD ? 0 : -1;
}

static int run_discovery(const char *portal, const char *initiator, int seconds)
{
	struct iscsi_context *iscsi =
	    context(initiator, ISCSI_SESSION_DISCOVERY);
	time_t end;

	if (iscsi_connect_sync(iscsi, portal) || iscsi_login_sync(iscsi) ||
	    send_targets(iscsi, true)) {
		fprintf(stderr, "sessions: discovery login to %s failed: %s\n",
			portal, iscsi_get_error(iscsi));
		return 2;
	}
	printf("logged-in\n");
	end = time(NULL) + seconds;
	while (!stop && time(NULL) < end) {
		struct timespec ts = {.tv_sec = 1};

		nanosleep(&ts, NULL); /* a signal ends it early */
		if (stop)
			break;
		if (send_targets(iscsi, false)) {
			printf("session lost: %s\n", iscsi_get_error(iscsi));
			iscsi_destroy_context(iscsi);
			return 3;
		}
	}
	iscsi_logout_sync(iscsi);
	iscsi_disconnect(iscsi);
	iscsi_destroy_context(iscsi);
	printf("logged-out\n");
	return 0;
}

/* 0: GOOD (or a unit attention: the LUN answered) */
static int tur(struct iscsi_context *iscsi, int lun)
{
	struct scsi_task *task = iscsi_testunitready_sync(iscsi, lun);
	int ok = task && (task->status == SCSI_STATUS_GOOD ||
			  (task->status == SCSI_STATUS_CHECK_CONDITION &&
			   task->sense.key == SCSI_SENSE_UNIT_ATTENTION));

	if (task)
		scsi_free_scsi_task(task);
	return ok ? 0 : -1;
}

static struct iscsi_context *login_isid(const struct iscsi_url *url,
					const char *initiator, const char *name)
{
	struct iscsi_context *iscsi = context(initiator, ISCSI_SESSION_NORMAL);

	if (iscsi_set_isid_random(iscsi, ISID_RANDOM, ISID_QUALIFIER) ||
	    iscsi_set_targetname(iscsi, url->target) ||
	    iscsi_full_connect_sync(iscsi, url->portal, url->lun) ||
	    tur(iscsi, url->lun)) {
		fprintf(stderr, "sessions: login of session %s failed: %s\n",
			name, iscsi_get_error(iscsi));
		exit(2);
	}
	return iscsi;
}

static void wait_line(void)
{
	char line[64];

	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "sessions: stdin closed early\n");
		exit(1);
	}
}

static int run_reinstate(const char *url_s, const char *initiator)
{
	struct iscsi_context *a, *b,
	    *parse = context(initiator, ISCSI_SESSION_NORMAL);
	struct iscsi_url *url = iscsi_parse_full_url(parse, url_s);
	int i, a_alive = 1;

	if (!url) {
		fprintf(stderr, "sessions: bad URL %s: %s\n", url_s,
			iscsi_get_error(parse));
		return 2;
	}
	a = login_isid(url, initiator, "A");
	printf("A logged-in\n");
	wait_line();
	b = login_isid(url, initiator, "B");
	printf("B logged-in\n");
	/* The target closed A before B's login completed; A may need a
	 * command or two to notice. */
	for (i = 0; i < 3 && a_alive; i++)
		a_alive = tur(a, url->lun) == 0;
	if (a_alive) {
		fprintf(stderr, "sessions: FAILED: session A still answers "
				"after session B logged in with the same "
				"initiator name and ISID\n");
		return 1;
	}
	printf("A lost: TEST UNIT READY on it fails\n");
	if (tur(b, url->lun)) {
		fprintf(stderr,
			"sessions: FAILED: session B does not answer "
			"TEST UNIT READY: %s\n",
			iscsi_get_error(b));
		return 1;
	}
	wait_line();
	if (tur(b, url->lun) || iscsi_logout_sync(b)) {
		fprintf(stderr, "sessions: FAILED: session B: %s\n",
			iscsi_get_error(b));
		return 1;
	}
	iscsi_disconnect(b);
	iscsi_destroy_context(b);
	iscsi_destroy_context(a);
	iscsi_destroy_url(url);
	iscsi_destroy_context(parse);
	printf("logged-out\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (argc == 5 && !strcmp(argv[1], "discovery")) {
		alarm((unsigned)atoi(argv[4]) + 60);
		return run_discovery(argv[2], argv[3], atoi(argv[4]));
	}
	if (argc == 4 && !strcmp(argv[1], "reinstate")) {
		alarm(120);
		return run_reinstate(argv[2], argv[3]);
	}
	fprintf(stderr,
		"usage: sessions discovery ADDR:PORT INITIATOR SECONDS\n"
		"       sessions reinstate URL INITIATOR\n");
	return 2;
}
