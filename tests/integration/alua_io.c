/*
 * alua_io: what rbd_failover.sh asks of a gateway, through one session:
 *   alua_io URL rtpg          REPORT TARGET PORT GROUPS; prints
 *                             "G:STATE G:STATE ..." by group id (states
 *                             ao, an, s, u, t) or the command's outcome
 *   alua_io URL stpg GROUP    SET TARGET PORT GROUPS asking GROUP to be
 *                             active/optimized; prints the outcome
 *   alua_io URL inflight N LBA BYTE
 *                             a coprocess: logs in, prints "ready"; on
 *                             "go" sends N WRITE (10)s of 8 blocks of
 *                             BYTE from LBA on, without waiting, prints
 *                             "sent"; on "collect" waits up to 60 s and
 *                             prints one outcome per WRITE, then exits
 * Outcomes as pr_lib.h writes them: GOOD, CHECK CONDITION K/AA/QQ, ...,
 * "no answer (...)". Unit attentions of the new session are consumed
 * first.
 */
#include <poll.h>

#include "pr_lib.h"

#define INFLIGHT_MAX  64
#define INFLIGHT_BLKS 8

static struct nexus nx = {.label = "alua_io",
			  .name = "iqn.2026-12.org.lunar:alua-io",
			  .isid_rnd = 0xa10001,
			  .isid_q = 1};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The new session's unit attentions, without a word on stdout. */
static void drain_quietly(void)
{
	for (int i = 0; i < 8; i++) {
		struct res r = tur(&nx);

		if (!is_ua(&r))
			return;
	}
}

static const char *state_abbrev(int s)
{
	static const char *const names[16] = {
	    [0x0] = "ao", [0x1] = "an", [0x2] = "s",
	    [0x3] = "u",  [0xe] = "o",	[0xf] = "t"};

	return names[s & 0xf] ? names[s & 0xf] : "?";
}

static int do_rtpg(void)
{
	uint8_t cdb[12] = {0xa3, 0x0a}, buf[1024];
	char line[512] = "";
	size_t got, off = 4, o = 0;
	struct res r;

	put_be32(cdb + 6, sizeof(buf));
	r = nx_cmd(&nx, cdb, 12, NULL, 0, buf, sizeof(buf), &got);
	if (r.status != STATUS_GOOD || got < 4) {
		char b[160];

		printf("%s\n", res_str(&r, b, sizeof(b)));
		return 0;
	}
	while (off + 8 <= got) {
		unsigned ports = buf[off + 7];

		o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%u:%s",
				      o ? " " : "", be16(buf + off + 2),
				      state_abbrev(buf[off]));
		off += 8 + 4 * ports;
		if (o >= sizeof(line))
			break;
	}
	printf("%s\n", line);
	return 0;
}

static int do_stpg(uint16_t group)
{
	uint8_t cdb[12] = {0xa4, 0x0a}, par[8] = {0};
	char b[160];
	struct res r;

	par[4] = 0x00; /* active/optimized */
	put_be16(par + 6, group);
	put_be32(cdb + 6, sizeof(par));
	r = nx_cmd(&nx, cdb, 12, par, sizeof(par), NULL, 0, NULL);
	printf("%s\n", res_str(&r, b, sizeof(b)));
	return 0;
}

struct inflight {
	bool done;
	int status;
	int key, asc, ascq;
};

static struct inflight fl[INFLIGHT_MAX];

static void inflight_cb(struct iscsi_context *iscsi, int status, void *data,
			void *priv)
{
	struct inflight *f = priv;
	struct scsi_task *t = data;

	f->done = true;
	f->status = status;
	if (status == SCSI_STATUS_CHECK_CONDITION && t) {
		f->key = t->sense.key;
		f->asc = t->sense.ascq >> 8;
		f->ascq = t->sense.ascq & 0xff;
	}
	if (t)
		scsi_free_scsi_task(t);
}

/* Services the session until every write is done or ms have passed. */
static void inflight_wait(unsigned n, int ms)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = iscsi_get_fd(nx.iscsi),
				   .events =
				       (short)iscsi_which_events(nx.iscsi)};
		unsigned done = 0;
		long el;

		for (unsigned i = 0; i < n; i++)
			done += fl[i].done;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (done == n || el >= ms)
			return;
		if (poll(&p, 1, 100) < 0)
			return;
		if (iscsi_service(nx.iscsi, p.revents) < 0)
			return; /* the connection is gone */
	}
}

static int do_inflight(unsigned n, uint32_t lba, int byte)
{
	static uint8_t data[INFLIGHT_MAX][INFLIGHT_BLKS * PR_BLOCK];
	char cmd[64];

	printf("ready\n");
	if (!fgets(cmd, sizeof(cmd), stdin) || strncmp(cmd, "go", 2))
		return 2;
	for (unsigned i = 0; i < n; i++) {
		memset(data[i], byte, sizeof(data[i]));
		if (!iscsi_write10_task(nx.iscsi, nx.lun,
					lba + i * INFLIGHT_BLKS, data[i],
					sizeof(data[i]), PR_BLOCK, 0, 0, 0, 0,
					0, inflight_cb, &fl[i]))
			die("cannot queue WRITE %u: %s", i,
			    iscsi_get_error(nx.iscsi));
	}
	/* Out of libiscsi's queue into the socket; the target may not be
	 * reading it (it is stopped). */
	for (int i = 0; i < 50 && iscsi_out_queue_length(nx.iscsi); i++)
		inflight_wait(n, 20);
	printf("sent\n");
	if (!fgets(cmd, sizeof(cmd), stdin) || strncmp(cmd, "collect", 7))
		return 2;
	inflight_wait(n, 60000);
	for (unsigned i = 0; i < n; i++) {
		if (!fl[i].done)
			printf("no answer (still waiting)\n");
		else if (fl[i].status == SCSI_STATUS_GOOD)
			printf("GOOD\n");
		else if (fl[i].status == SCSI_STATUS_CHECK_CONDITION)
			printf("CHECK CONDITION %02x/%02x/%02x\n", fl[i].key,
			       fl[i].asc, fl[i].ascq);
		else
			printf("status 0x%x\n", fl[i].status);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;

	if (argc < 3) {
		fprintf(stderr, "usage: alua_io URL rtpg | stpg GROUP | "
				"inflight N LBA BYTE\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	nx_login(&nx, argv[1]);
	drain_quietly();
	if (!strcmp(argv[2], "rtpg"))
		rc = do_rtpg();
	else if (!strcmp(argv[2], "stpg") && argc == 4)
		rc = do_stpg((uint16_t)atoi(argv[3]));
	else if (!strcmp(argv[2], "inflight") && argc == 6 &&
		 atoi(argv[3]) > 0 && atoi(argv[3]) <= INFLIGHT_MAX)
		rc = do_inflight((unsigned)atoi(argv[3]),
				 (uint32_t)strtoul(argv[4], NULL, 0),
				 (int)strtol(argv[5], NULL, 16));
	nx_drop(&nx);
	return rc;
}
