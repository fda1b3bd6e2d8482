/*
 * pr_preempt_abort: PREEMPT AND ABORT (SPC-5 5.13.11.5, 6.17.2) aborts the
 * commands of the preempted I_T nexus that are still in its task set
 * (SAM-5 5.6: commands aborted by another I_T nexus).
 *
 * B's commands are kept in the task set deterministically: B logs in with
 * ImmediateData=No and InitialR2T=Yes, sends NCMD WRITE (10)s and then
 * does not read its socket, so the target cannot get their data (it asks
 * for it with R2Ts that stay unread). The program waits until the R2Ts
 * are in B's socket buffer (FIONREAD), so the target has every WRITE.
 * Then A (holder of a WE-RO reservation; B is a registrant, so B's WRITEs
 * were allowed) sends PREEMPT AND ABORT of B's key. Expected:
 *
 *  - A's PREEMPT AND ABORT: GOOD.
 *  - None of B's WRITEs ends GOOD. With TAS=1 in the Control mode page
 *    (read by MODE SENSE first) each ends with TASK ABORTED status; with
 *    TAS=0 none gets any status (SAM-5 5.6). B reads its socket only
 *    after A was told the PREEMPT AND ABORT is done, and then answers the
 *    R2Ts: the target must drop that data.
 *  - B's registration is gone (READ KEYS lists A's key only).
 *  - B's next commands report the unit attention REGISTRATIONS PREEMPTED
 *    (2A/05, SPC-5 5.13.11.5) and/or COMMANDS CLEARED BY ANOTHER INITIATOR
 *    (2F/00, SAM-5 5.6, required with TAS=0); then B, no longer
 *    registered, gets RESERVATION CONFLICT for a WRITE under WE-RO.
 *  - The blocks B was writing still hold what A wrote before: no WRITE
 *    of the preempted nexus may land after the preempting one was told
 *    the preemption is complete (what PREEMPT AND ABORT is for: fencing).
 *
 * If the target completes the PREEMPT AND ABORT only after B has sent its
 * data, the program says so and services both sessions.
 *
 * Each round uses a new session for B (same name and ISID) and patterns of
 * its own; ROUNDS rounds (default 1) make a race visible.
 *
 * usage: pr_preempt_abort URL [TAS|- [ROUNDS [URL_B]]]  (B through URL_B)
 *   TAS 0 or 1: first set TAS so by MODE SELECT (6) (it is changeable in
 *   lunar; the change is for the LU); "-" or none: the current TAS.
 * Exit 0 when every check holds, 1 otherwise, 2 when it could not run.
 */
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pr_lib.h"

#define KEY_A  0xaaaa00000000000aull
#define KEY_B  0xbbbb00000000000bull
#define NCMD   4
#define BLKS   64 /* 32 KiB per WRITE */
#define REGION 1024
#define BHS    48

struct pending {
	bool done;
	int status;
	struct scsi_task *task;
};

/* Static: libiscsi may call back for B's WRITEs until B is destroyed. */
static struct pending w[NCMD], preempt;
static struct nexus a = {.label = "A",
			 .name = PR_NAME("abort-a"),
			 .isid_rnd = 0xab0001,
			 .isid_q = 1};
static struct nexus b = {.label = "B",
			 .name = PR_NAME("abort-b"),
			 .isid_rnd = 0xab0002,
			 .isid_q = 2};

static void cb(struct iscsi_context *iscsi, int status, void *data, void *priv)
{
	struct pending *p = priv;
	struct scsi_task *task = data;

	if (task)
		task->status = status;
	p->done = true;
	p->status = status;
}

static int nr_done(void)
{
	int n = 0;

	for (int i = 0; i < NCMD; i++)
		n += w[i].done;
	return n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Services the sessions in mask (1: A, 2: B) until done() or secs pass.
 * Returns done().
 */
static bool pump(unsigned mask, bool (*done)(void), double secs)
{
	struct nexus *nx[2] = {&a, &b};
	double end = now() + secs;

	while (!done() && now() < end) {
		struct pollfd pfd[2];
		struct nexus *who[2];
		int n = 0;

		for (int i = 0; i < 2; i++) {
			if (!(mask & (1u << i)))
				continue;
			who[n] = nx[i];
			pfd[n].fd = iscsi_get_fd(nx[i]->iscsi);
			pfd[n].events = (short)iscsi_which_events(nx[i]->iscsi);
			n++;
		}
		if (poll(pfd, (nfds_t)n, 50) < 0)
			die("poll: %m");
		for (int i = 0; i < n; i++)
			if (pfd[i].revents &&
			    iscsi_service(who[i]->iscsi, pfd[i].revents) < 0)
				die("session %s: %s", who[i]->label,
				    iscsi_get_error(who[i]->iscsi));
	}
	return done();
}

static bool preempt_done(void)
{
	return preempt.done;
}

static bool writes_done(void)
{
	return nr_done() == NCMD;
}

static bool never(void)
{
	return false;
}

/*
 * The Control mode page (current values): copies it to page (at least 12
 * bytes) and returns its TAS bit, or -1.
 */
static int read_control(struct nexus *nx, uint8_t *page)
{
	uint8_t cdb[6] = {0x1a, 0x08, 0x0a, 0, 255, 0}, buf[255];
	size_t got;
	struct res r = nx_cmd(nx, cdb, 6, NULL, 0, buf, sizeof(buf), &got);
	size_t off;

	if (!check("MODE SENSE (6) of the Control mode page", GOOD, r))
		return -1;
	off = 4 + (size_t)buf[3];
	if (got < off + 12 || (buf[off] & 0x3f) != 0x0a || buf[off + 1] < 10) {
		check_true(false,
			   "Control mode page in MODE SENSE data (%zu "
			   "bytes)",
			   got);
		return -1;
	}
	memcpy(page, buf + off, 12);
	return (buf[off + 5] >> 6) & 1;
}

/* MODE SELECT (6) of the Control mode page with TAS set to tas. */
static void set_tas(struct nexus *nx, int tas)
{
	uint8_t page[12], par[16] = {0}, cdb[6] = {0x15, 0x10, 0, 0, 16, 0};
	char what[64];

	if (read_control(nx, page) < 0)
		return;
	memcpy(par + 4, page, 12);
	par[4] &= 0x3f; /* PS is reserved in MODE SELECT */
	par[4 + 5] = (uint8_t)((page[5] & ~0x40) | (tas ? 0x40 : 0));
	snprintf(what, sizeof(what), "MODE SELECT (6) Control page TAS=%d",
		 tas);
	check(what, GOOD, nx_cmd(nx, cdb, 6, par, sizeof(par), NULL, 0, NULL));
}

/* Pseudo-random blocks of one writer and round, each stamped with the
 * writer's letter: A's and B's never coincide (a weaker pattern made
 * them equal in about one round in 200 and B's data "landed"). */
static void pattern(uint8_t *p, size_t len, char who, uint32_t tag)
{
	uint32_t x = tag * 2654435761u | 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)(x >> 11);
		if (i % PR_BLOCK == 0)
			p[i] = (uint8_t)who;
	}
}

/*
 * One round: B logs in, registers, queues its WRITEs; A preempts and
 * aborts; the checks; A clears and B's session is dropped. Returns
 * whether B's data landed.
 */
static const char *url_b;

static bool round_run(const char *url, int tas, int r)
{
	static uint8_t pa[NCMD * BLKS * PR_BLOCK], pb[NCMD * BLKS * PR_BLOCK],
	    back[NCMD * BLKS * PR_BLOCK];
	const size_t len = BLKS * PR_BLOCK;
	struct scsi_persistent_reserve_out_basic par = {
	    .reservation_key = KEY_A, .service_action_reservation_key = KEY_B};
	int avail = 0, ua_2a05 = 0, ua_2f00 = 0;
	bool landed = false;
	struct scsi_task *t;
	double t0;

	printf("-- round %d (TAS=%d)\n", r, tas);
	memset(w, 0, sizeof(w));
	memset(&preempt, 0, sizeof(preempt));
	/* Patterns of this process and round only. */
	pattern(pa, sizeof(pa), 'A', (uint32_t)getpid() * 131u + (uint32_t)r);
	pattern(pb, sizeof(pb), 'B', (uint32_t)getpid() * 137u + (uint32_t)r);
	nx_login_flags(&b, url, NX_SOLICITED_ONLY);
	drain_ua(&b);
	if (!check("A WRITE of the region B will try to overwrite", GOOD,
		   write10(&a, REGION, NCMD * BLKS, pa)))
		die("cannot go on");
	check("A REGISTER", GOOD, pr_out(&a, PRO_REGISTER, 0, 0, KEY_A, false));
	check("B REGISTER", GOOD, pr_out(&b, PRO_REGISTER, 0, 0, KEY_B, false));
	check("A RESERVE WE-RO (B, a registrant, may write)", GOOD,
	      pr_out(&a, PRO_RESERVE, PR_WE_RO, KEY_A, 0, false));

	/* B's WRITEs: commands go out, their data waits for R2Ts that B
	 * will not read. */
	for (int i = 0; i < NCMD; i++) {
		uint8_t cdb[10] = {0x2a};
		struct iscsi_data d = {.size = len, .data = pb + i * len};

		put_be32(cdb + 2, REGION + (uint32_t)(i * BLKS));
		put_be16(cdb + 7, BLKS);
		w[i].task =
		    scsi_create_task(10, cdb, SCSI_XFER_WRITE, (int)len);
		if (!w[i].task || iscsi_scsi_command_async(
				      b.iscsi, b.lun, w[i].task, cb, &d, &w[i]))
			die("B WRITE %d: %s", i, iscsi_get_error(b.iscsi));
	}
	t0 = now();
	while (iscsi_out_queue_length(b.iscsi) > 0 && now() < t0 + 5) {
		struct pollfd pfd = {.fd = iscsi_get_fd(b.iscsi),
				     .events = POLLOUT};

		if (poll(&pfd, 1, 50) > 0 &&
		    iscsi_service(b.iscsi, POLLOUT) < 0)
			die("B: %s", iscsi_get_error(b.iscsi));
	}
	if (iscsi_out_queue_length(b.iscsi) > 0)
		die("B's WRITE commands did not go out within 5 s");
	while (now() < t0 + 5) {
		if (ioctl(iscsi_get_fd(b.iscsi), FIONREAD, &avail) < 0)
			die("FIONREAD: %m");
		if (avail >= NCMD * BHS)
			break;
		usleep(10000);
	}
	note("B sent %d WRITE (10)s of %zu bytes without data; %d bytes "
	     "(%d PDU headers, R2Ts expected) wait unread in its socket",
	     NCMD, len, avail, avail / BHS);
	check_true(avail >= BHS,
		   "the target answered B's WRITEs with R2Ts (%d bytes "
		   "waiting): the WRITEs are in its task set",
		   avail);

	/* A preempts B and aborts B's commands. */
	t = iscsi_persistent_reserve_out_task(a.iscsi, a.lun, PRO_PREEMPT_ABORT,
					      0, PR_WE_RO, &par, cb, &preempt);
	if (!t)
		die("A PREEMPT AND ABORT: %s", iscsi_get_error(a.iscsi));
	preempt.task = t;
	if (!pump(1, preempt_done, 5)) {
		note("no answer to PREEMPT AND ABORT within 5 s while B's "
		     "data is outstanding: servicing B too");
		pump(3, preempt_done, 15);
	}
	if (!preempt.done)
		check_true(false, "A PREEMPT AND ABORT of B's key answered "
				  "within 20 s");
	else
		check("A PREEMPT AND ABORT of B's key", GOOD,
		      task_res(&a, preempt.task));

	/* Only now does B read its socket: R2Ts (answered with data the
	 * target must drop: those WRITEs are aborted) and whatever status
	 * the aborted WRITEs get. */
	pump(3, tas == 1 ? writes_done : never, tas == 1 ? 10 : 1);
	for (int i = 0; i < NCMD; i++) {
		char what[96], g[160];
		struct res x = w[i].done ? task_res(&b, w[i].task)
					 : (struct res){.status = STATUS_NONE};

		snprintf(what, sizeof(what), "B's WRITE %d (LBA %d)", i,
			 REGION + i * BLKS);
		if (!w[i].done)
			snprintf(x.err, sizeof(x.err), "no status");
		if (tas == 1)
			check(what, ABORTED, x);
		else
			check_true(!w[i].done,
				   "%s: TAS=0, expected no status, got %s",
				   what, res_str(&x, g, sizeof(g)));
	}

	check_keys(&a, "after PREEMPT AND ABORT", 1, (uint64_t[]){KEY_A});
	check_resv(&a, "A still holds WE-RO", PR_WE_RO, KEY_A);

	for (int i = 0; i < 4; i++) {
		struct res x = tur(&b);
		char g[160];

		if (!is_ua(&x))
			break;
		note("B's command %d after the preemption: %s", i + 1,
		     res_str(&x, g, sizeof(g)));
		ua_2a05 |= x.asc == 0x2a && x.ascq == 0x05;
		ua_2f00 |= x.asc == 0x2f && x.ascq == 0x00;
	}
	check_true(ua_2a05 || ua_2f00,
		   "B's next commands report REGISTRATIONS PREEMPTED (2A/05: "
		   "%s) and/or COMMANDS CLEARED BY ANOTHER INITIATOR (2F/00: "
		   "%s)",
		   ua_2a05 ? "seen" : "not seen",
		   ua_2f00 ? "seen" : "not seen");
	if (tas == 0)
		check_true(ua_2f00,
			   "TAS=0: COMMANDS CLEARED BY ANOTHER INITIATOR "
			   "reported to B (SAM-5 5.6)");
	check("B WRITE after the preemption (not registered, WE-RO)", CONFLICT,
	      write10(&b, REGION, 1, pb));

	if (check("A READ of the region", GOOD,
		  read10(&a, REGION, NCMD * BLKS, back))) {
		for (int i = 0; i < NCMD; i++) {
			int nb = 0, na = 0;

			for (int k = 0; k < BLKS; k++) {
				size_t o =
				    (size_t)i * len + (size_t)k * PR_BLOCK;

				na += !memcmp(back + o, pa + o, PR_BLOCK);
				nb += !memcmp(back + o, pb + o, PR_BLOCK);
			}
			landed |= nb > 0;
			check_true(na == BLKS,
				   "the blocks of B's WRITE %d (LBA %d) still "
				   "hold A's data: %d of %d blocks are A's, "
				   "%d are B's",
				   i, REGION + i * BLKS, na, BLKS, nb);
		}
	}
	for (int i = 0; i < NCMD; i++)
		check_true(!(w[i].done && w[i].status == SCSI_STATUS_GOOD),
			   "B's WRITE %d never completed GOOD", i);

	check("A CLEAR", GOOD, pr_out(&a, PRO_CLEAR, 0, KEY_A, 0, false));
	/* B may still have WRITEs libiscsi waits for (TAS=0): drop it. */
	nx_drop(&b);
	return landed;
}

int main(int argc, char **argv)
{
	int tas, want_tas = -1, rounds = 1, landed = 0;
	uint8_t page[12];

	if (argc < 2 || argc > 5 ||
	    (argc >= 3 && strcmp(argv[2], "-") && strcmp(argv[2], "0") &&
	     strcmp(argv[2], "1")) ||
	    (argc >= 4 && atoi(argv[3]) < 1)) {
		fprintf(stderr, "usage: pr_preempt_abort URL [TAS|- [ROUNDS "
				"[URL_B]]]\n");
		return 2;
	}
	if (argc >= 3 && strcmp(argv[2], "-"))
		want_tas = atoi(argv[2]);
	if (argc >= 4)
		rounds = atoi(argv[3]);
	/* B through another gateway of the same LU (rbd_gateways.sh). */
	url_b = argc == 5 ? argv[4] : argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	nx_login(&a, argv[1]);
	drain_ua(&a);
	if (want_tas >= 0)
		set_tas(&a, want_tas);
	tas = read_control(&a, page);
	note("Control mode page: TAS=%d", tas);
	if (tas < 0 ||
	    (want_tas >= 0 &&
	     !check_true(tas == want_tas, "TAS reads back as %d", want_tas)))
		return pr_exit("pr_preempt_abort");

	for (int r = 1; r <= rounds; r++)
		landed += round_run(url_b, tas, r);
	printf("-- all rounds\n");
	check_true(!landed,
		   "TAS=%d: rounds in which B's aborted WRITEs landed after A "
		   "was told PREEMPT AND ABORT was done: %d of %d",
		   tas, landed, rounds);
	nx_logout(&a);
	return pr_exit("pr_preempt_abort");
}
