/*
 * caw_race: COMPARE AND WRITE (SBC-4) is atomic with respect to every
 * other write of its blocks, from any session. Three libiscsi sessions
 * (three initiator names, so lunard may put them on different reactors)
 * race on the same 8 blocks, ROUNDS times each phase:
 *
 *  1. Every round writes a known "base" pattern, then sessions A and B
 *     send, at once, COMPARE AND WRITE expecting the base and writing their
 *     own pattern. Exactly one must succeed, the other must get MISCOMPARE
 *     (0E/1D/00), and the blocks must then hold the winner's pattern whole.
 *  2. Every round writes the base, then A sends COMPARE AND WRITE (base ->
 *     A's pattern) while C sends an ordinary WRITE (16) of its pattern over
 *     the same blocks. Whatever the order, C's WRITE is the last write of
 *     any serial execution: the blocks must hold C's pattern whole (a CAW
 *     that read the base before C's write and wrote after it would leave
 *     A's pattern), and the CAW is GOOD or MISCOMPARE.
 *
 * usage: caw_race URL_A URL_B URL_C ROUNDS
 *   (the three URLs name the same LUN; each carries its own initiator via
 *   the libiscsi context)
 * Prints a summary and exits 0 when every round holds, 1 otherwise, 2 on
 * usage or login errors.
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "login.h"

#define NR_BLOCKS      8
#define LBA	       64
#define INIT_BASE      "iqn.2026-11.org.lunar:caw-race-"
#define ASC_MISCOMPARE 0x1d00

struct session {
	struct iscsi_context *iscsi;
	int lun;
	int done;
	int status;
	int sense_key;
	int ascq;
};

static struct session s[3];
static uint32_t block_size;
static int failures;

static void cb(struct iscsi_context *iscsi, int status, void *data, void *priv)
{
	struct session *x = priv;
	struct scsi_task *task = data;

	x->done = 1;
	x->status = status;
	x->sense_key = task->sense.key;
	x->ascq = task->sense.ascq;
	scsi_free_scsi_task(task);
}

/* Sends what the session has queued. */
static int flush(struct session *x)
{
	if (iscsi_service(x->iscsi, POLLOUT) < 0) {
		fprintf(stderr, "%s\n", iscsi_get_error(x->iscsi));
		return -1;
	}
	return 0;
}

/* Services the sessions until each in mask has its answer (30 s). */
static int wait_all(unsigned mask)
{
	for (int idle = 0; idle < 300;) {
		struct pollfd pfd[3];
		int n = 0, pending = 0;

		for (int i = 0; i < 3; i++) {
			if (!(mask & (1u << i)))
				continue;
			pending += !s[i].done;
			pfd[n].fd = iscsi_get_fd(s[i].iscsi);
			pfd[n].events = iscsi_which_events(s[i].iscsi);
			n++;
		}
		if (!pending)
			return 0;
		int rc = poll(pfd, n, 100);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			idle++;
			continue;
		}
		n = 0;
		for (int i = 0; i < 3; i++) {
			if (!(mask & (1u << i)))
				continue;
			if (pfd[n].revents &&
			    iscsi_service(s[i].iscsi, pfd[n].revents) < 0) {
				fprintf(stderr, "session %c: %s\n", 'A' + i,
					iscsi_get_error(s[i].iscsi));
				return -1;
			}
			n++;
		}
	}
	fprintf(stderr, "no answer within 30 s\n");
	return -1;
}

static void pattern(uint8_t *p, uint8_t tag, int round)
{
	for (uint32_t i = 0; i < NR_BLOCKS * block_size; i++)
		p[i] = (uint8_t)(tag ^ (round * 31) ^ (i % 251));
}

static int write_sync(struct session *x, uint8_t *data)
{
	struct scsi_task *t = iscsi_write16_sync(
	    x->iscsi, x->lun, LBA, data, NR_BLOCKS * block_size,
	    (int)block_size, 0, 0, 0, 0, 0);
	int ok = t && t->status == SCSI_STATUS_GOOD;

	if (t)
		scsi_free_scsi_task(t);
	return ok ? 0 : -1;
}

static int read_sync(struct session *x, uint8_t *out)
{
	struct scsi_task *t =
	    iscsi_read16_sync(x->iscsi, x->lun, LBA, NR_BLOCKS * block_size,
			      (int)block_size, 0, 0, 0, 0, 0);
	int ok = t && t->status == SCSI_STATUS_GOOD &&
		 t->datain.size == (int)(NR_BLOCKS * block_size);

	if (ok)
		memcpy(out, t->datain.data, NR_BLOCKS * block_size);
	if (t)
		scsi_free_scsi_task(t);
	return ok ? 0 : -1;
}

static int caw_start(struct session *x, uint8_t *both)
{
	x->done = 0;
	if (!iscsi_compareandwrite_task(x->iscsi, x->lun, LBA, both,
					2 * NR_BLOCKS * block_size,
					(int)block_size, 0, 0, 0, 0, 0, cb, x))
		return -1;
	return flush(x);
}

static int is_miscompare(const struct session *x)
{
	return x->status == SCSI_STATUS_CHECK_CONDITION &&
	       x->sense_key == SCSI_SENSE_MISCOMPARE &&
	       x->ascq == ASC_MISCOMPARE;
}

static void fail_round(int phase, int round, const char *what)
{
	failures++;
	if (failures <= 10)
		printf("phase %d round %d: %s\n", phase, round, what);
}

int main(int argc, char **argv)
{
	struct scsi_task *cap;
	struct scsi_readcapacity16 *rc16;
	uint8_t *base, *a, *b, *c, *back;
	int rounds, wins[2] = {0, 0}, caw_good = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: %s URL_A URL_B URL_C ROUNDS\n",
			argv[0]);
		return 2;
	}
	rounds = atoi(argv[4]);
	for (int i = 0; i < 3; i++) {
		char name[128];

		snprintf(name, sizeof(name), INIT_BASE "%c", 'a' + i);
		s[i].iscsi = itest_login(argv[1 + i], name, &s[i].lun, true);
		if (!s[i].iscsi)
			return 2;
	}
	/* The first command of each session meets the power-on UA. */
	for (int i = 0; i < 3; i++) {
		struct scsi_task *t;

		for (int k = 0; k < 3; k++) {
			t = iscsi_testunitready_sync(s[i].iscsi, s[i].lun);
			int good = t && t->status == SCSI_STATUS_GOOD;

			if (t)
				scsi_free_scsi_task(t);
			if (good)
				break;
		}
	}
	cap = iscsi_readcapacity16_sync(s[0].iscsi, s[0].lun);
	rc16 = cap ? scsi_datain_unmarshall(cap) : NULL;
	if (!rc16) {
		fprintf(stderr, "READ CAPACITY (16) failed\n");
		return 2;
	}
	block_size = rc16->block_length;
	scsi_free_scsi_task(cap);

	size_t len = NR_BLOCKS * block_size;
	base = malloc(len);
	a = malloc(2 * len);
	b = malloc(2 * len);
	c = malloc(len);
	back = malloc(len);
	if (!base || !a || !b || !c || !back)
		return 2;

	for (int r = 0; r < rounds; r++) {
		pattern(base, 0x00, r);
		memcpy(a, base, len);
		memcpy(b, base, len);
		pattern(a + len, 0xaa, r);
		pattern(b + len, 0xbb, r);
		if (write_sync(&s[0], base)) {
			fail_round(1, r, "writing the base failed");
			continue;
		}
		/* Who sends first alternates. */
		if ((r % 2 ? caw_start(&s[1], b) || caw_start(&s[0], a)
			   : caw_start(&s[0], a) || caw_start(&s[1], b)) ||
		    wait_all(0x3)) {
			fail_round(1, r, "COMPARE AND WRITE not answered");
			break;
		}
		int ga = s[0].status == SCSI_STATUS_GOOD;
		int gb = s[1].status == SCSI_STATUS_GOOD;

		if (ga + gb != 1 || !(ga || is_miscompare(&s[0])) ||
		    !(gb || is_miscompare(&s[1]))) {
			char why[160];

			snprintf(why, sizeof(why),
				 "A status %d key %d ascq %04x, B status %d "
				 "key %d ascq %04x: want one GOOD, one "
				 "MISCOMPARE",
				 s[0].status, s[0].sense_key, s[0].ascq,
				 s[1].status, s[1].sense_key, s[1].ascq);
			fail_round(1, r, why);
			continue;
		}
		wins[gb]++;
		if (read_sync(&s[2], back) ||
		    memcmp(back, (ga ? a : b) + len, len))
			fail_round(1, r,
				   "the blocks do not hold the winner's "
				   "data");
	}

	for (int r = 0; r < rounds; r++) {
		pattern(base, 0x11, r);
		memcpy(a, base, len);
		pattern(a + len, 0xaa, r);
		pattern(c, 0xcc, r);
		if (write_sync(&s[0], base)) {
			fail_round(2, r, "writing the base failed");
			continue;
		}
		s[2].done = 0;
		if ((r % 2 == 0 && caw_start(&s[0], a)) ||
		    !iscsi_write16_task(s[2].iscsi, s[2].lun, LBA, c, len,
					(int)block_size, 0, 0, 0, 0, 0, cb,
					&s[2]) ||
		    flush(&s[2]) || (r % 2 == 1 && caw_start(&s[0], a)) ||
		    wait_all(0x5)) {
			fail_round(2, r, "commands not answered");
			break;
		}
		if (s[2].status != SCSI_STATUS_GOOD)
			fail_round(2, r, "the WRITE failed");
		if (s[0].status == SCSI_STATUS_GOOD)
			caw_good++;
		else if (!is_miscompare(&s[0]))
			fail_round(2, r,
				   "COMPARE AND WRITE neither GOOD nor "
				   "MISCOMPARE");
		if (read_sync(&s[1], back) || memcmp(back, c, len))
			fail_round(2, r,
				   "the blocks do not hold the WRITE's "
				   "data (not serializable)");
	}

	printf("phase 1: %d rounds, A won %d, B won %d\n", rounds, wins[0],
	       wins[1]);
	printf("phase 2: %d rounds, COMPARE AND WRITE first %d times\n", rounds,
	       caw_good);
	for (int i = 0; i < 3; i++) {
		iscsi_logout_sync(s[i].iscsi);
		iscsi_destroy_context(s[i].iscsi);
	}
	free(base);
	free(a);
	free(b);
	free(c);
	free(back);
	if (failures) {
		printf("%d failures\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
