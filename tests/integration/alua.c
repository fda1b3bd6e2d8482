/*
 * alua: a two-path SCSI driver for tests/integration/alua.sh. Logs in to
 * the same LU through two URLs (paths A and B, each with its own
 * initiator name) and keeps both sessions while it reads commands, one a
 * line, from stdin, answering each with one line on stdout, so that the
 * script can change the target with lunarctl between commands:
 *
 *   A|B tur | read | inquiry | rtpg | vpd83 | stpg G=S[,G=S...]
 *
 * answers: "good", "good tpgs=N" (inquiry), "check K/ASC/ASCQ" (hex),
 * "rtpg ID/STATE/PREF/STATUS/PORT ..." (extended header, states and
 * status in hex), "vpd83 rel=R tpg=G port=NAME", or "error: why".
 * The whole CDB and the parameter lists are built here (libiscsi has no
 * helpers for SET TARGET PORT GROUPS).
 *
 * usage: alua URL_A URL_B
 * Exits 0 at end of input, 2 on a usage or login error.
 *
 * usage: alua tag ADDR:PORT IQN
 * Logs in with the minimal initiator of iscsi_raw.h (libiscsi does not
 * show login keys) and prints the TargetPortalGroupTag the target sent.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "iscsi_raw.h"

struct path {
	struct iscsi_context *iscsi;
	int lun;
};

#define get_be16(p)    ((uint16_t)raw_get16(p))
#define get_be32(p)    raw_get32(p)
#define put_be32(p, v) raw_put32(p, v)

static int login(struct path *p, const char *u, const char *initiator)
{
	struct iscsi_url *url;

	p->iscsi = iscsi_create_context(initiator);
	if (!p->iscsi)
		return -1;
	url = iscsi_parse_full_url(p->iscsi, u);
	if (!url) {
		fprintf(stderr, "alua: bad URL %s: %s\n", u,
			iscsi_get_error(p->iscsi));
		return -1;
	}
	iscsi_set_targetname(p->iscsi, url->target);
	iscsi_set_session_type(p->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(p->iscsi, ISCSI_HEADER_DIGEST_NONE);
	p->lun = url->lun;
	/* Not iscsi_full_connect_sync: its TEST UNIT READY fails the login
	 * of a path in standby, and the unit attentions are the test's. */
	if (iscsi_connect_sync(p->iscsi, url->portal) ||
	    iscsi_login_sync(p->iscsi)) {
		fprintf(stderr, "alua: login to %s failed: %s\n", u,
			iscsi_get_error(p->iscsi));
		iscsi_destroy_url(url);
		return -1;
	}
	iscsi_destroy_url(url);
	return 0;
}

/* Runs one CDB; out (len bytes) is the Data-Out, else reads up to len. */
static struct scsi_task *run(struct path *p, uint8_t *cdb, int cdb_len,
			     uint8_t *out, int len)
{
	struct scsi_task *task;
	struct iscsi_data d = {.data = out, .size = (size_t)len};

	task = scsi_create_task(cdb_len, cdb,
				out   ? SCSI_XFER_WRITE
				: len ? SCSI_XFER_READ
				      : SCSI_XFER_NONE,
				len);
	if (!task)
		return NULL;
	if (!iscsi_scsi_command_sync(p->iscsi, p->lun, task, out ? &d : NULL)) {
		scsi_free_scsi_task(task);
		return NULL;
	}
	return task;
}

/* Prints "check ..." for a CHECK CONDITION; true if it printed. */
static int report_status(struct path *p, struct scsi_task *task)
{
	if (!task) {
		printf("error: %s\n", iscsi_get_error(p->iscsi));
		return 1;
	}
	if (task->status == SCSI_STATUS_CHECK_CONDITION) {
		printf("check %x/%02x/%02x\n", task->sense.key,
		       (task->sense.ascq >> 8) & 0xff, task->sense.ascq & 0xff);
		return 1;
	}
	if (task->status != SCSI_STATUS_GOOD) {
		printf("error: status 0x%02x\n", task->status);
		return 1;
	}
	return 0;
}

static void cmd_simple(struct path *p, const char *what)
{
	uint8_t tur[6] = {0x00};
	uint8_t read10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
	struct scsi_task *t;

	if (!strcmp(what, "tur"))
		t = run(p, tur, 6, NULL, 0);
	else if (!strcmp(what, "read"))
		t = run(p, read10, 10, NULL, 512);
	else
		t = run(p, inq, 6, NULL, 96);
	if (!report_status(p, t)) {
		if (!strcmp(what, "inquiry") && t->datain.size > 5)
			printf("good tpgs=%d\n", (t->datain.data[5] >> 4) & 3);
		else
			printf("good\n");
	}
	if (t)
		scsi_free_scsi_task(t);
}

static void cmd_rtpg(struct path *p)
{
	uint8_t cdb[12] = {0xa3, 0x2a, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0};
	struct scsi_task *t = run(p, cdb, 12, NULL, 1024);
	const uint8_t *d;
	uint32_t len;

	if (report_status(p, t))
		goto out;
	d = t->datain.data;
	len = get_be32(d) + 4;
	if (t->datain.size < 8 || (d[4] & 0x70) != 0x10 ||
	    len > (uint32_t)t->datain.size) {
		printf("error: bad REPORT TARGET PORT GROUPS data\n");
		goto out;
	}
	printf("rtpg");
	for (uint32_t off = 8; off + 8 <= len; off += 8 + 4u * d[off + 7]) {
		printf(" %u/%x/%d/%x/", get_be16(d + off + 2), d[off] & 0x0f,
		       d[off] >> 7, d[off + 5]);
		for (unsigned i = 0; i < d[off + 7]; i++)
			printf("%s%u", i ? "," : "",
			       get_be16(d + off + 8 + 4 * i + 2));
	}
	printf(" time=%u\n", d[5]);
out:
	if (t)
		scsi_free_scsi_task(t);
}

static void cmd_vpd83(struct path *p)
{
	uint8_t cdb[6] = {0x12, 0x01, 0x83, 0x01, 0x00, 0};
	struct scsi_task *t = run(p, cdb, 6, NULL, 256);
	unsigned rel = 0, tpg = 0;
	char port[256] = "";
	const uint8_t *d;
	size_t len;

	if (report_status(p, t))
		goto out;
	d = t->datain.data;
	len = (size_t)get_be16(d + 2) + 4;
	if (len > (size_t)t->datain.size)
		len = (size_t)t->datain.size;
	for (size_t off = 4; off + 4 <= len; off += 4 + d[off + 3]) {
		unsigned type = d[off + 1] & 0x3f, dl = d[off + 3];

		if (off + 4 + dl > len)
			break;
		if (type == 0x14 && dl >= 4)
			rel = get_be16(d + off + 6);
		else if (type == 0x15 && dl >= 4)
			tpg = get_be16(d + off + 6);
		else if (type == 0x18 && dl < sizeof(port))
			snprintf(port, sizeof(port), "%.*s", (int)dl,
				 (const char *)d + off + 4);
	}
	printf("vpd83 rel=%u tpg=%u port=%s\n", rel, tpg, port);
out:
	if (t)
		scsi_free_scsi_task(t);
}

/* "2=0,1=2": group 2 active/optimized, group 1 standby. */
static void cmd_stpg(struct path *p, const char *spec)
{
	uint8_t cdb[12] = {0xa4, 0x0a};
	uint8_t param[4 + 4 * 32] = {0};
	unsigned n = 0, g, s;
	struct scsi_task *t;
	const char *q = spec;
	int used;

	while (n < 32 && sscanf(q, "%u=%x%n", &g, &s, &used) == 2) {
		param[4 + 4 * n] = (uint8_t)s;
		param[4 + 4 * n + 2] = (uint8_t)(g >> 8);
		param[4 + 4 * n + 3] = (uint8_t)g;
		n++;
		q += used;
		if (*q != ',')
			break;
		q++;
	}
	put_be32(cdb + 6, 4 + 4 * n);
	t = run(p, cdb, 12, param, (int)(4 + 4 * n));
	if (!report_status(p, t))
		printf("good\n");
	if (t)
		scsi_free_scsi_task(t);
}

/* The tag a login through portal is told (RFC 7143 §13.9). */
static int login_tag(const char *portal, const char *target)
{
	static const char *const keys[] = {"HeaderDigest=None",
					   "DataDigest=None", NULL};
	struct raw_conn c;

	raw_prog = "alua";
	raw_connect(&c, portal, "tag");
	raw_login(&c, "iqn.2026-11.org.lunar:alua-tag", target, 7, keys);
	printf("TargetPortalGroupTag=%s\n",
	       raw_key(&c, "TargetPortalGroupTag")
		   ? raw_key(&c, "TargetPortalGroupTag")
		   : "(none)");
	raw_logout(&c);
	return 0;
}

int main(int argc, char **argv)
{
	struct path paths[2];
	char line[256], who[8], what[32], arg[128];

	if (argc == 4 && strcmp(argv[1], "tag") == 0)
		return login_tag(argv[2], argv[3]);
	if (argc != 3) {
		fprintf(stderr, "usage: alua URL_A URL_B\n");
		return 2;
	}
	if (login(&paths[0], argv[1], "iqn.2026-11.org.lunar:alua-path-a") ||
	    login(&paths[1], argv[2], "iqn.2026-11.org.lunar:alua-path-b"))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		struct path *p;
		int n;

		arg[0] = '\0';
		n = sscanf(line, "%7s %31s %127s", who, what, arg);
		if (n < 2 || (strcmp(who, "A") && strcmp(who, "B"))) {
			printf("error: bad request '%s'\n", line);
			continue;
		}
		p = &paths[who[0] == 'B'];
		if (!strcmp(what, "rtpg"))
			cmd_rtpg(p);
		else if (!strcmp(what, "vpd83"))
			cmd_vpd83(p);
		else if (!strcmp(what, "stpg"))
			cmd_stpg(p, arg);
		else if (!strcmp(what, "tur") || !strcmp(what, "read") ||
			 !strcmp(what, "inquiry"))
			cmd_simple(p, what);
		else
			printf("error: unknown command '%s'\n", what);
	}
	for (int i = 0; i < 2; i++) {
		iscsi_logout_sync(paths[i].iscsi);
		iscsi_destroy_context(paths[i].iscsi);
	}
	return 0;
}
