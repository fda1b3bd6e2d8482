/*
 * cdb_fuzz: random CDBs over a real session (DESIGN.md §5: a bad CDB gets
 * CHECK CONDITION with the right sense, never a crash). Each command takes
 * an opcode from the disk's table or a random one, random CDB bytes (with
 * small transfer lengths more likely than large ones), a random data
 * direction and a random expected data transfer length, with data-out
 * bytes random as well. Half of the commands are instead built from a
 * valid template of a command with a parameter list (MODE SELECT,
 * PERSISTENT RESERVE OUT, UNMAP, EXTENDED COPY, SET TARGET PORT GROUPS,
 * COMPARE AND WRITE, WRITE SAME, SANITIZE) whose CDB and parameter data
 * are then mutated, so that the parsers behind the first checks are
 * reached too. Every answer must be a SCSI status lunar uses (GOOD,
 * CHECK CONDITION, CONDITION MET, BUSY, RESERVATION CONFLICT, TASK SET
 * FULL, or TASK ABORTED when another session's PREEMPT AND ABORT took the
 * command); a CHECK CONDITION must carry current sense in fixed (70h) or
 * descriptor (72h) format. A dropped session (the target may reject a
 * command whose iSCSI framing contradicts its CDB) is logged in again, at
 * most MAX_RELOGINS times. Several instances may share one LU.
 *
 * The summary shows GOOD answers per opcode sent (how deep the commands
 * got); FUZZ_DEBUG=OPCODE (hex) prints the sense of each CHECK CONDITION
 * of that opcode.
 *
 * usage: cdb_fuzz URL COUNT [SEED]
 *   URL: iscsi://127.0.0.1:PORT/IQN/LUN of a scratch LU (its data is
 *   destroyed). Prints a summary line and exits 0 when every answer was
 *   well formed, 1 otherwise, 2 on usage or when the target is unreachable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include "be.h"
#include "login.h"

#define INITIATOR    "iqn.2026-11.org.lunar:cdb-fuzz"
#define MAX_XFER     (128 * 1024)
#define MAX_RELOGINS 200

/* Opcodes the disk serves (and a few it does not) to aim at. */
static const uint8_t opcodes[] = {
    0x00, 0x03, 0x04, 0x08, 0x0a, 0x12, 0x15, 0x16, 0x17, 0x1a, 0x1b, 0x1d,
    0x1e, 0x25, 0x28, 0x2a, 0x2b, 0x2e, 0x2f, 0x34, 0x35, 0x37, 0x3b, 0x3c,
    0x41, 0x42, 0x48, 0x4c, 0x4d, 0x55, 0x56, 0x57, 0x5a, 0x5e, 0x5f, 0x83,
    0x84, 0x88, 0x89, 0x8a, 0x8b, 0x8e, 0x8f, 0x90, 0x91, 0x93, 0x9c, 0x9e,
    0xa0, 0xa3, 0xa4, 0xa8, 0xaa, 0xab, 0xae, 0xaf, 0xb7,
};

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* What the templates need to know of the LU. */
static uint8_t mode6[256], mode10[1024], naa[16];
static int mode6_len, mode10_len, have_naa;
static uint64_t capacity = 8192; /* blocks, from READ CAPACITY(16) */

/* An LBA: inside the LU mostly, past its end sometimes. */
static uint64_t rnd_lba(void)
{
	return rnd() % (capacity + capacity / 16 + 1);
}

static struct scsi_task *send(struct iscsi_context *iscsi, int lun,
			      const uint8_t *cdb, int len, int dir,
			      uint32_t xfer, uint8_t *out)
{
	struct scsi_task *task =
	    scsi_create_task(len, (unsigned char *)cdb, dir, (int)xfer);
	struct iscsi_data data = {.size = xfer, .data = out};

	if (!task)
		return NULL;
	if (!iscsi_scsi_command_sync(iscsi, lun, task,
				     dir == SCSI_XFER_WRITE ? &data : NULL)) {
		scsi_free_scsi_task(task);
		return NULL;
	}
	return task;
}

/* MODE SENSE data (as MODE SELECT parameter lists) and the NAA
 * designator of the LU, once per session; best effort. */
static void learn_lu(struct iscsi_context *iscsi, int lun)
{
	uint8_t ms6[6] = {0x1a, 0x08, 0x3f, 0, 255, 0};
	uint8_t ms10[10] = {0x5a, 0x08, 0x3f, 0, 0, 0, 0, 0x04, 0x00, 0};
	struct scsi_task *t;
	struct scsi_inquiry_device_identification *di;

	for (int i = 0; i < 3; i++) { /* past the unit attentions */
		t = send(iscsi, lun, ms6, 6, SCSI_XFER_READ, 255, NULL);
		if (t && t->status == SCSI_STATUS_GOOD && t->datain.size >= 4) {
			mode6_len = t->datain.size;
			memcpy(mode6, t->datain.data, (size_t)mode6_len);
			mode6[0] = 0; /* MODE DATA LENGTH is reserved here */
			scsi_free_scsi_task(t);
			break;
		}
		if (t)
			scsi_free_scsi_task(t);
	}
	t = send(iscsi, lun, ms10, 10, SCSI_XFER_READ, sizeof(mode10), NULL);
	if (t && t->status == SCSI_STATUS_GOOD && t->datain.size >= 8) {
		mode10_len = t->datain.size;
		memcpy(mode10, t->datain.data, (size_t)mode10_len);
		mode10[0] = mode10[1] = 0;
	}
	if (t)
		scsi_free_scsi_task(t);
	t = iscsi_inquiry_sync(
	    iscsi, lun, 1, SCSI_INQUIRY_PAGECODE_DEVICE_IDENTIFICATION, 255);
	if (t && t->status == SCSI_STATUS_GOOD &&
	    (di = scsi_datain_unmarshall(t)) != NULL) {
		for (struct scsi_inquiry_device_designator *d = di->designators;
		     d; d = d->next)
			if (d->designator_type == SCSI_DESIGNATOR_TYPE_NAA &&
			    d->designator_length == sizeof(naa)) {
				memcpy(naa, d->designator, sizeof(naa));
				have_naa = 1;
			}
	}
	if (t)
		scsi_free_scsi_task(t);
}

/* A PR key lunar may hold: 0 to 3, so that keys sometimes match. */
static uint64_t rnd_key(void)
{
	return rnd() % 4;
}

/*
 * A command with a parameter list, valid before the mutation; fills cdb
 * and out, returns the CDB length and sets *dir and *xfer.
 */
static int build_template(uint8_t *cdb, uint8_t *out, int *dir, uint32_t *xfer)
{
	static const uint8_t pr_types[] = {1, 3, 5, 6, 7, 8};
	static const char iqn[] = "iqn.2026-11.org.lunar:cdb-fuzz,i,0x";
	uint32_t n = 0;
	int len = 10;

	*dir = SCSI_XFER_WRITE;
	switch (rnd() % 10) {
	case 0: /* MODE SELECT(6) */
		len = 6;
		cdb[0] = 0x15;
		cdb[1] = 0x10 | (rnd() % 2);
		n = (uint32_t)mode6_len;
		memcpy(out, mode6, n);
		cdb[4] = (uint8_t)n;
		break;
	case 1: /* MODE SELECT(10) */
		cdb[0] = 0x55;
		cdb[1] = 0x10 | (rnd() % 2);
		n = (uint32_t)mode10_len;
		memcpy(out, mode10, n);
		put_be16(cdb + 7, (uint16_t)n);
		break;
	case 2: { /* PERSISTENT RESERVE OUT */
		uint8_t sa = rnd() % 9;

		cdb[0] = 0x5f;
		cdb[1] = sa;
		cdb[2] = pr_types[rnd() % sizeof(pr_types)];
		n = 24;
		memset(out, 0, 24);
		put_be64(out, rnd_key());
		put_be64(out + 8, rnd_key());
		out[20] =
		    (uint8_t)(rnd() & 0x0d); /* SPEC_I_PT ALL_TG_PT APTPL */
		if (sa == 7) { /* REGISTER AND MOVE: one TransportID */
			uint32_t tl = sizeof(iqn) + 12 + 3;

			tl &= ~3u;
			memset(out + 24, 0, 4 + tl);
			out[24] = 0x45; /* iSCSI, format 01b */
			put_be16(out + 26, (uint16_t)(tl - 4));
			memcpy(out + 28, iqn, sizeof(iqn) - 1);
			memcpy(out + 28 + sizeof(iqn) - 1, "23d000000001", 12);
			put_be16(out + 18, 1); /* RELATIVE TARGET PORT */
			put_be32(out + 20, tl);
			out[17] = rnd() % 2; /* UNREG */
			n = 24 + tl;
		} else if (out[20] & 0x08) { /* SPEC_I_PT: a TransportID */
			uint32_t tl = 4 + 40;

			memset(out + 24, 0, 4 + tl);
			put_be32(out + 24, tl);
			out[28] = 0x05; /* iSCSI, format 00b */
			put_be16(out + 30, 40);
			memcpy(out + 32, "iqn.2026-11.org.lunar:cdb-fuzz-other",
			       36);
			n = 28 + tl;
		}
		put_be32(cdb + 5, n);
		break;
	}
	case 3: { /* UNMAP */
		uint32_t descs = 1 + rnd() % 4;

		cdb[0] = 0x42;
		n = 8 + 16 * descs;
		memset(out, 0, n);
		put_be16(out, (uint16_t)(n - 2));
		put_be16(out + 2, (uint16_t)(16 * descs));
		for (uint32_t i = 0; i < descs; i++) {
			put_be64(out + 8 + 16 * i, rnd_lba());
			put_be32(out + 16 + 16 * i, rnd() % 64);
		}
		put_be16(cdb + 7, (uint16_t)n);
		break;
	}
	case 4: { /* EXTENDED COPY (LID1), two CSCDs naming this LU */
		uint8_t *d = out + 16;

		len = 16;
		cdb[0] = 0x83;
		memset(out, 0, 16 + 64 + 28);
		out[0] = (uint8_t)rnd(); /* LIST IDENTIFIER */
		out[1] = (uint8_t)(rnd() % 4) << 3;
		put_be16(out + 2, 64);
		put_be32(out + 8, 28);
		for (int i = 0; i < 2; i++, d += 32) {
			d[0] = 0xe4;
			d[4] = 0x01;
			d[5] = 0x03;
			d[7] = 16;
			if (have_naa)
				memcpy(d + 8, naa, 16);
			d[30] = 0x02; /* 512-byte blocks */
		}
		d[0] = 0x02; /* block to block */
		put_be16(d + 2, 24);
		put_be16(d + 6, 1);
		put_be16(d + 10, (uint16_t)(rnd() % 64));
		put_be64(d + 12, rnd_lba());
		put_be64(d + 20, rnd_lba());
		n = 16 + 64 + 28;
		put_be32(cdb + 10, n);
		break;
	}
	case 5: /* SET TARGET PORT GROUPS */
		len = 12;
		cdb[0] = 0xa4;
		cdb[1] = 0x0a;
		n = 8;
		memset(out, 0, n);
		out[4] = rnd() % 16; /* ASYMMETRIC ACCESS STATE */
		put_be16(out + 6, (uint16_t)(rnd() % 3));
		put_be32(cdb + 6, n);
		break;
	case 6: { /* COMPARE AND WRITE */
		uint8_t nb = 1 + rnd() % 2;

		len = 16;
		cdb[0] = 0x89;
		put_be64(cdb + 2, rnd_lba());
		cdb[13] = nb;
		n = 2u * nb * 512;
		memset(out, 0, n);
		break;
	}
	case 7: /* WRITE SAME(16), UNMAP/ANCHOR/NDOB at random */
		len = 16;
		cdb[0] = 0x93;
		cdb[1] = (uint8_t)(rnd() & 0x19);
		put_be64(cdb + 2, rnd_lba());
		put_be32(cdb + 10, rnd() % 256);
		n = cdb[1] & 0x01 ? 0 : 512;
		memset(out, (int)(rnd() % 2 ? 0 : 'W'), n);
		break;
	case 8: /* SANITIZE OVERWRITE, rarely: it takes the LU for a while */
		if (rnd() % 64) {
			cdb[0] = 0x9e; /* GET LBA STATUS instead */
			cdb[1] = 0x12;
			len = 16;
			put_be64(cdb + 2, rnd_lba());
			put_be32(cdb + 10, 8 + 16 * (rnd() % 8));
			*dir = SCSI_XFER_READ;
			*xfer = 8 + 16 * 8;
			return len;
		}
		cdb[0] = 0x48;
		cdb[1] = 0x01; /* waited for (IMMED only by mutation) */
		n = 4 + 512;
		memset(out, 0, n);
		out[0] = 1; /* OVERWRITE COUNT */
		put_be16(out + 2, 512);
		put_be16(cdb + 7, (uint16_t)n);
		break;
	default: /* RECEIVE COPY RESULTS */
		len = 16;
		cdb[0] = 0x84;
		cdb[1] = rnd() % 6;
		cdb[2] = (uint8_t)rnd();
		put_be32(cdb + 10, rnd() % 1024);
		*dir = SCSI_XFER_READ;
		*xfer = rnd() % 1024;
		return len;
	}
	*xfer = n;
	return len;
}

/* Up to four random bytes of the CDB or the data changed, and sometimes
 * an expected data transfer length that disagrees with the CDB. */
static void mutate(uint8_t *cdb, int len, uint8_t *out, uint32_t *xfer)
{
	int k = rnd() % 5;

	for (int i = 0; i < k; i++) {
		if (rnd() % 3 == 0)
			cdb[1 + rnd() % (len - 1)] = (uint8_t)rnd();
		else if (*xfer)
			out[rnd() % *xfer] = (uint8_t)rnd();
	}
	if (rnd() % 16 == 0)
		*xfer = rnd() % (*xfer + 64);
}

static int cdb_len_of(uint8_t op)
{
	switch (op >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 4:
		return 16;
	case 5:
		return 12;
	default:
		return 6 + (int)(rnd() % 11);
	}
}

/* A transfer length: mostly small, sometimes any size up to MAX_XFER. */
static uint32_t rnd_len(void)
{
	switch (rnd() % 4) {
	case 0:
		return 0;
	case 1:
		return rnd() % 64;
	case 2:
		return (rnd() % 16) * 512;
	default:
		return rnd() % (MAX_XFER + 1);
	}
}

static void fill_cdb(uint8_t *cdb, int len)
{
	for (int i = 1; i < len; i++)
		cdb[i] = (uint8_t)rnd();
	/* Keep LBAs and lengths near the start of a small LU half the time,
	 * so that commands get past the range checks. */
	if (rnd() % 2) {
		for (int i = 2; i < len - 2; i++)
			if (rnd() % 3)
				cdb[i] = 0;
		if (len > 4)
			cdb[len - 2] = (uint8_t)(rnd() % 8);
	}
	cdb[len - 1] = rnd() % 8 ? 0 : (uint8_t)rnd(); /* CONTROL */
}

static struct iscsi_context *connect_lun(const char *url_s, int *lun)
{
	struct iscsi_context *iscsi = itest_login(url_s, INITIATOR, lun, false);

	if (!iscsi)
		return NULL;
	/* No automatic reconnect: a dropped session is counted here. */
	iscsi_set_noautoreconnect(iscsi, 1);
	/* A command unanswered for a minute is a hung target: fail. */
	iscsi_set_timeout(iscsi, 60);
	return iscsi;
}

static int status_ok(int status)
{
	switch (status) {
	case SCSI_STATUS_GOOD:
	case SCSI_STATUS_CHECK_CONDITION:
	case SCSI_STATUS_CONDITION_MET:
	case SCSI_STATUS_BUSY:
	case SCSI_STATUS_RESERVATION_CONFLICT:
	case SCSI_STATUS_TASK_SET_FULL:
	case SCSI_STATUS_TASK_ABORTED: /* TAS: another nexus preempted */
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t out[MAX_XFER];
	struct iscsi_context *iscsi;
	unsigned long count, good = 0, check = 0, other = 0, relogins = 0;
	static unsigned long good_of[256], sent_of[256];
	const char *debug = getenv("FUZZ_DEBUG");
	long debug_op = debug ? strtol(debug, NULL, 16) : -1;
	int lun, bad = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: cdb_fuzz URL COUNT [SEED]\n");
		return 2;
	}
	count = strtoul(argv[2], NULL, 10);
	rng_state = argc > 3 ? strtoull(argv[3], NULL, 0) : 0x1234567ull;
	if (rng_state == 0)
		rng_state = 1;
	iscsi = connect_lun(argv[1], &lun);
	if (!iscsi)
		return 2;
	learn_lu(iscsi, lun);

	for (unsigned long n = 0; n < count; n++) {
		uint8_t cdb[16] = {0};
		uint8_t op = rnd() % 8 ? opcodes[rnd() % sizeof(opcodes)]
				       : (uint8_t)rnd();
		int len, dir;
		uint32_t xfer;
		struct scsi_task *task, *done;
		struct iscsi_data data = {.data = out};

		if (rnd() % 2) {
			len = build_template(cdb, out, &dir, &xfer);
			mutate(cdb, len, out, &xfer);
			op = cdb[0];
			if (xfer == 0)
				dir = SCSI_XFER_NONE;
		} else {
			len = cdb_len_of(op);
			if (len > 16)
				len = 16;
			xfer = rnd_len();
			cdb[0] = op;
			fill_cdb(cdb, len);
			dir = xfer == 0 ? SCSI_XFER_NONE
					: (rnd() % 2 ? SCSI_XFER_READ
						     : SCSI_XFER_WRITE);
			if (dir == SCSI_XFER_WRITE)
				for (uint32_t i = 0; i < xfer; i++)
					out[i] = (uint8_t)rnd();
		}
		data.size = xfer;
		sent_of[op]++;
		task = scsi_create_task(len, cdb, dir, (int)xfer);
		if (!task) {
			fprintf(stderr, "cdb_fuzz: out of memory\n");
			return 2;
		}
		done = iscsi_scsi_command_sync(
		    iscsi, lun, task, dir == SCSI_XFER_WRITE ? &data : NULL);
		if (!done) {
			/* The session went down: log in again. */
			scsi_free_scsi_task(task);
			iscsi_destroy_context(iscsi);
			if (++relogins > MAX_RELOGINS) {
				printf("FAIL: more than %d dropped sessions\n",
				       MAX_RELOGINS);
				return 1;
			}
			iscsi = connect_lun(argv[1], &lun);
			if (!iscsi) {
				printf(
				    "FAIL: cannot log in again after command "
				    "%lu (opcode %02xh)\n",
				    n, op);
				return 1;
			}
			continue;
		}
		if (!status_ok(task->status)) {
			printf(
			    "FAIL: command %lu, CDB %02x %02x %02x %02x ...: "
			    "status %02xh\n",
			    n, cdb[0], cdb[1], cdb[2], cdb[3], task->status);
			bad++;
		} else if (task->status == SCSI_STATUS_CHECK_CONDITION) {
			check++;
			if (debug_op == op)
				printf("%02x: %x/%04x\n", op, task->sense.key,
				       task->sense.ascq);
			if (task->sense.error_type !=
				SCSI_SENSE_FIXED_CURRENT &&
			    task->sense.error_type !=
				SCSI_SENSE_DESCRIPTOR_CURRENT) {
				printf(
				    "FAIL: command %lu (opcode %02xh): sense "
				    "response code %02xh\n",
				    n, op, task->sense.error_type);
				bad++;
			}
		} else if (task->status == SCSI_STATUS_GOOD) {
			good++;
			good_of[op]++;
		} else {
			other++;
		}
		scsi_free_scsi_task(task);
		if (bad > 20)
			break;
	}
	/* How deep the commands got: GOOD answers per opcode sent. */
	printf("GOOD/sent by opcode:");
	for (int i = 0; i < 256; i++)
		if (good_of[i])
			printf(" %02x:%lu/%lu", i, good_of[i], sent_of[i]);
	printf("\n");
	printf("%lu commands: %lu GOOD, %lu CHECK CONDITION, %lu other, "
	       "%lu dropped sessions, %d malformed answers\n",
	       count, good, check, other, relogins, bad);
	iscsi_logout_sync(iscsi);
	iscsi_destroy_context(iscsi);
	return bad ? 1 : 0;
}
